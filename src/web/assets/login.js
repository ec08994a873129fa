// helpline login page: POST /api/login, then go to the page for the user's role.
'use strict';
(function () {
  const form = document.getElementById('login-form');
  const err = document.getElementById('login-error');
  const btn = document.getElementById('login-submit');
  const user = document.getElementById('username');
  const pass = document.getElementById('password');

  function fail(msg, field) {
    err.textContent = msg;
    for (const f of [user, pass]) f.removeAttribute('aria-invalid');
    if (field) { field.setAttribute('aria-invalid', 'true'); field.focus(); }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!user.value.trim()) return fail('Enter your username', user);
    if (!pass.value) return fail('Enter your password', pass);
    err.textContent = '';
    btn.disabled = true;
    btn.textContent = 'Signing in\u2026';
    try {
      const me = await H.api('POST', '/api/login', { username: user.value.trim(), password: pass.value });
      const role = me && me.role;
      location.href = role === 'supervisor' || role === 'admin' ? '/supervisor' : '/agent';
      return;
    } catch (e) {
      if (e.status === 401) { pass.value = ''; fail('Wrong username or password', pass); }
      else if (e.status === 429) fail('Too many attempts, wait a minute');
      else if (e.status) fail(`Sign-in failed (${e.status}). Try again.`);
      else fail('Cannot reach the server. Check your connection.');
    }
    btn.disabled = false;
    btn.textContent = 'Sign in';
  });
})();
