// helpline screen-pop: renders a Pop (see CONTRACTS.md) as the contact card, tickets, history,
// IVR path and suggested articles. Exposes window.Pop.
'use strict';
(function () {
  const { el } = H;
  const PRIO = { urgent: 3, high: 2, normal: 1, low: 0 };
  const LIVE = { open: 1, pending: 1 };

  const Pop = (window.Pop = {});

  // Live tickets first, then highest priority, then newest.
  Pop.sortTickets = function (tickets) {
    return (tickets || []).slice().sort((a, b) =>
      (LIVE[b.status] || 0) - (LIVE[a.status] || 0) ||
      (PRIO[b.priority] || 0) - (PRIO[a.priority] || 0) ||
      (b.updated_ms || b.created_ms || 0) - (a.updated_ms || a.created_ms || 0));
  };

  // The contact the page should show: chosen by the agent, the pop's own, or the only match.
  Pop.contact = function (pop, chosen) {
    if (!pop) return null;
    if (chosen) return chosen;
    if (pop.contact) return pop.contact;
    return pop.matches && pop.matches.length === 1 ? pop.matches[0] : null;
  };

  Pop.displayName = function (pop, chosen) {
    const c = Pop.contact(pop, chosen);
    if (c) return c.name;
    if (!pop) return 'Unknown caller';
    if (pop.matches && pop.matches.length > 1) return `${pop.matches.length} possible contacts`;
    if (pop.status === 'unavailable') return 'Caller (CRM unavailable)';
    return 'Unknown caller';
  };

  // The caller's number as people read it (pop.number, see CONTRACTS.md): the national form
  // for a number from the line's own country, the international form otherwise, the other
  // form as a hint; a withheld or invalid caller id is said so, never dressed up as a number.
  // -> {text, other, flag: null | 'withheld' | 'invalid' | 'not-a-number'}
  Pop.number = function (pop, fallback) {
    const n = pop && pop.number;
    if (!n) return fallback ? { text: fallback, other: '', flag: null } : { text: 'Number withheld', other: '', flag: 'withheld' };
    if (n.kind === 'withheld') return { text: 'Number withheld', other: '', flag: 'withheld' };
    if (n.kind === 'not_a_number') return { text: n.raw || 'unknown', other: '', flag: 'not-a-number' };
    const [text, other] = n.local ? [n.national, n.international] : [n.international, n.national];
    return { text: text || n.e164 || n.raw, other: other || '', flag: n.valid ? null : 'invalid' };
  };
  const FLAG_WORDS = { withheld: null, invalid: 'not a valid number', 'not-a-number': 'not a phone number' };

  // Fill `node` with the caller's number and its flag.
  Pop.showNumber = function (node, pop, fallback) {
    const n = Pop.number(pop, fallback);
    const key = JSON.stringify(n);
    if (node.dataset.key === key) return;
    node.dataset.key = key;
    H.clear(node);
    H.append(node, [
      el('span', { 'data-testid': 'number-text', text: n.text }),
      n.other ? el('span', { class: 'number-other', text: ' \u00b7 ' + n.other }) : null,
      FLAG_WORDS[n.flag] ? el('span', { class: 'badge number-flag', 'data-testid': 'number-flag', text: FLAG_WORDS[n.flag] }) : null,
    ]);
    node.setAttribute('data-flag', n.flag || '');
  };

  function initials(name) {
    return (name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('') || '?';
  }

  function card(title, kids, cls, testid) {
    return el('section', { class: 'card ' + (cls || ''), 'data-testid': testid }, el('h3', { text: title }), kids);
  }

  function badges(contact, pop) {
    const b = [];
    if (contact && contact.vip) b.push(el('span', { class: 'badge vip', 'data-testid': 'vip-badge', text: 'VIP' }));
    if (contact && contact.tier) b.push(el('span', { class: 'badge tier', 'data-testid': 'tier-badge', text: 'Tier ' + contact.tier }));
    if (pop.repeat_caller) b.push(el('span', { class: 'badge repeat', 'data-testid': 'repeat-badge', text: 'Repeat caller' }));
    if (contact && contact.language) b.push(el('span', { class: 'badge', text: contact.language.toUpperCase() }));
    return b.length ? el('div', { class: 'badges' }, b) : null;
  }

  function contactCard(contact, pop, opts) {
    const name = contact ? contact.name : Pop.displayName(pop, null);
    const facts = el('dl', { class: 'facts' });
    const fact = (k, v) => { if (v) H.append(facts, [el('dt', { text: k }), el('dd', {}, v)]); };
    const from = el('span', { class: 'mono' });
    Pop.showNumber(from, pop, pop.caller);
    fact('Calling from', from);
    if (contact) {
      fact('Phones', (contact.phones || []).join(', '));
      fact('Email', contact.email ? el('a', { href: 'mailto:' + contact.email, text: contact.email }) : null);
      fact('Account', contact.account);
    }
    const head = el('div', { class: 'contact-head' },
      el('div', { class: 'avatar', 'aria-hidden': 'true', text: contact ? initials(contact.name) : '?' }),
      el('div', {},
        el('div', { class: 'contact-name', 'data-testid': 'contact-name', text: name }),
        contact && contact.organisation ? el('div', { class: 'contact-org', text: contact.organisation }) : null,
        badges(contact, pop)),
      el('div', { class: 'wait-chip' },
        el('div', { class: 'big num', 'data-testid': 'pop-wait', text: H.dur(pop.wait_secs) }),
        el('div', { class: 'small muted', text: 'waited' })));
    const change = !opts.chosen || (pop.matches || []).length < 2 ? null :
      el('button', { type: 'button', class: 'btn-sm btn-ghost', text: 'Not this person? Choose another',
        on: { click: () => opts.onChoose(null) } });
    return el('section', { class: 'card wide', 'data-testid': 'contact-card' }, head, facts,
      contact && contact.notes ? el('div', { class: 'contact-notes', text: contact.notes }) : null, change);
  }

  function chooser(pop, opts) {
    return el('div', { class: 'notice info wide', 'data-testid': 'contact-chooser', role: 'group', 'aria-label': 'Choose the caller' },
      `${pop.matches.length} contacts share ${pop.caller}. Who is calling?`,
      el('div', { class: 'chooser' }, pop.matches.map((c) =>
        el('button', { type: 'button', 'data-testid': 'contact-choice', 'data-contact': c.id, on: { click: () => opts.onChoose(c) } },
          el('strong', { text: c.name }),
          c.organisation ? ` \u00b7 ${c.organisation}` : '',
          c.tier ? ` \u00b7 Tier ${c.tier}` : '', c.vip ? ' \u00b7 VIP' : ''))));
  }

  function unknownCaller(pop, opts) {
    if (!opts.canCreateContact) {
      // Only supervisors create contacts (a contact claims phone numbers).
      return el('div', { class: 'notice info wide', 'data-testid': 'unknown-caller' },
        'Unknown caller',
        el('p', { text: `No contact has the number ${pop.caller || '(withheld)'}. A supervisor can add the contact.` }));
    }
    const status = el('p', { class: 'error-text', role: 'alert' });
    const form = el('form', { class: 'create-contact', 'data-testid': 'create-contact-form', hidden: true },
      el('div', { class: 'row' },
        el('div', { class: 'field' }, el('label', { for: 'cc-name', text: 'Name' }), el('input', { id: 'cc-name', type: 'text', required: true })),
        el('div', { class: 'field' }, el('label', { for: 'cc-org', text: 'Organisation' }), el('input', { id: 'cc-org', type: 'text' }))),
      el('div', { class: 'row' },
        el('div', { class: 'field' }, el('label', { for: 'cc-email', text: 'Email' }), el('input', { id: 'cc-email', type: 'email' })),
        el('div', { class: 'field', style: 'flex:0 0 auto' }, el('button', { type: 'submit', class: 'btn-primary', text: 'Save contact' }))),
      status);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const name = form.querySelector('#cc-name').value.trim();
      if (!name) { status.textContent = 'Enter a name'; return; }
      status.textContent = '';
      try {
        const contact = await H.api('POST', '/api/contacts', {
          name, organisation: form.querySelector('#cc-org').value.trim() || null,
          email: form.querySelector('#cc-email').value.trim() || null, phones: pop.caller ? [pop.caller] : [] });
        H.toast('Contact saved', 'ok');
        opts.onChoose(contact);
      } catch (e) {
        status.textContent = 'Could not save the contact: ' + e.message;
      }
    });
    const open = el('button', { type: 'button', class: 'btn-sm', 'data-testid': 'create-contact', text: 'Create contact',
      on: { click: () => { form.hidden = false; open.hidden = true; form.querySelector('#cc-name').focus(); } } });
    return el('div', { class: 'notice info wide', 'data-testid': 'unknown-caller' },
      'Unknown caller \u2014 create contact',
      el('p', { text: `No contact has the number ${pop.caller || '(withheld)'}. ` }, open), form);
  }

  function ticketsCard(tickets, crmDown) {
    const sorted = Pop.sortTickets(tickets);
    const now = Date.now();
    const rows = sorted.map((t) => {
      const overdue = t.sla_due_ms && t.sla_due_ms < now && LIVE[t.status];
      return el('tr', { class: 'ticket-row' + (overdue ? ' overdue' : ''), 'data-testid': 'ticket-row', 'data-ticket': t.number },
        el('td', { class: 'mono ticket-no', text: t.number }),
        el('td', {}, el('div', { class: 'ticket-subject', text: t.subject }),
          t.category ? el('div', { class: 'small muted', text: t.category }) : null),
        el('td', {}, el('span', { class: 'badge s-' + t.status, text: t.status })),
        el('td', {}, el('span', { class: 'badge p-' + t.priority, text: t.priority })),
        el('td', { class: 'sla num', text: t.sla_due_ms ? (overdue ? 'overdue ' : '') + H.dateTime(t.sla_due_ms) : '\u2014' }),
        el('td', { class: 'num', text: H.ago(t.updated_ms || t.created_ms) }));
    });
    const live = sorted.filter((t) => LIVE[t.status]).length;
    const table = el('table', {},
      el('thead', {}, el('tr', {}, ['Ticket', 'Subject', 'Status', 'Priority', 'SLA due', 'Updated'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 6, class: 'empty-row', text: crmDown ? 'Unavailable while the CRM is down' : 'No tickets' }))));
    return card(`Tickets (${live} open)`, table, 'wide', 'tickets');
  }

  function interactionsCard(items) {
    const list = (items || []).slice().sort((a, b) => (b.at_ms || 0) - (a.at_ms || 0)).slice(0, 8);
    const rows = list.map((i) => el('tr', { 'data-testid': 'interaction-row' },
      el('td', { class: 'num', text: H.dateTime(i.at_ms) }),
      el('td', { text: i.queue || '\u2014' }),
      el('td', { 'data-testid': 'interaction-agent', text: i.agent_name || i.agent || '\u2014' }),
      el('td', { 'data-testid': 'interaction-outcome' }, i.abandoned ? el('span', { class: 'badge p-high', text: 'abandoned' })
        : (i.disposition_label || i.disposition || '\u2014')),
      el('td', { class: 'num', text: H.dur(i.wait_secs) }),
      el('td', { class: 'num', text: i.abandoned ? '\u2014' : H.dur(i.talk_secs) }),
      el('td', { class: 'mono ticket-no', text: i.ticket_number || '' })));
    const table = el('table', {},
      el('thead', {}, el('tr', {}, ['When', 'Queue', 'Agent', 'Outcome', 'Wait', 'Talk', 'Ticket'].map((h) => el('th', { scope: 'col', text: h })))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: 7, class: 'empty-row', text: 'No earlier contact' }))));
    return card('Last interactions', table, 'wide', 'interactions');
  }

  // "account_number" -> "Account number"
  const words = (k) => { const t = String(k).replace(/_/g, ' '); return t.charAt(0).toUpperCase() + t.slice(1); };
  const LANGUAGES = { en: 'English', es: 'Spanish', fr: 'French', de: 'German', it: 'Italian', nl: 'Dutch', pt: 'Portuguese', ja: 'Japanese' };

  // The caller's journey in words: the dialplan's descriptions of the nodes they passed
  // (ivr.steps), then what they typed or the dialplan set; the menu choice is in the journey.
  function ivrCard(ivr) {
    ivr = ivr || {};
    const steps = ivr.steps || [];
    const kids = [];
    if (steps.length) {
      kids.push(el('ol', { class: 'ivr-journey', 'data-testid': 'ivr-path' }, steps.map((t) => el('li', { text: t }))));
    } else if ((ivr.path || []).length) {
      kids.push(el('p', { class: 'muted', text: 'Passed through the IVR (the dialplan describes none of its steps)' }));
    } else kids.push(el('p', { class: 'muted', text: 'Did not pass through the IVR' }));
    const facts = el('dl', { class: 'facts', 'data-testid': 'ivr-digits' });
    for (const [k, v] of Object.entries(ivr.digits || {})) {
      if (k === 'ivr_choice') continue; // the sample dialplan's menu choice: already in the journey
      H.append(facts, [el('dt', { text: words(k) }), el('dd', { class: 'mono', text: v })]);
    }
    if (ivr.language) H.append(facts, [el('dt', { text: 'Language' }), el('dd', { text: LANGUAGES[ivr.language] || ivr.language })]);
    if (facts.childNodes.length) kids.push(facts);
    return card('IVR journey', kids, '', 'ivr');
  }

  function articlesCard(articles) {
    const list = (articles || []).map((a) => el('li', { 'data-testid': 'article', 'data-article': a.id },
      el('div', { class: 'title', text: a.title }), a.snippet ? el('div', { class: 'snippet', text: a.snippet }) : null));
    return card('Suggested articles', list.length ? el('ul', { class: 'articles' }, list) : el('p', { class: 'muted', text: 'No suggestions' }), '', 'articles');
  }

  // opts: {chosen: Contact|null, onChoose(contact|null)}
  Pop.render = function (root, pop, opts) {
    H.clear(root);
    if (!pop) {
      root.appendChild(el('div', { class: 'card pop-empty' }, el('p', { class: 'muted', text: 'Caller details appear here when a call arrives.' })));
      return;
    }
    const contact = Pop.contact(pop, opts.chosen);
    const grid = el('div', { class: 'pop-grid' });
    if (pop.status === 'unavailable') {
      grid.appendChild(el('div', { class: 'notice warn wide', 'data-testid': 'crm-unavailable', role: 'status' }, 'CRM unavailable',
        el('p', { text: 'Caller details could not be loaded. Handle the call as usual; your notes are still saved with the interaction.' })));
    } else if (pop.status === 'not_found' && !contact) {
      grid.appendChild(unknownCaller(pop, opts));
    }
    if (!contact && (pop.matches || []).length > 1) grid.appendChild(chooser(pop, opts));
    grid.appendChild(contactCard(contact, pop, opts));
    grid.appendChild(ticketsCard(pop.tickets, pop.status === 'unavailable'));
    grid.appendChild(ivrCard(pop.ivr));
    grid.appendChild(articlesCard(pop.articles));
    grid.appendChild(interactionsCard(pop.interactions));
    root.appendChild(grid);
  };
})();
