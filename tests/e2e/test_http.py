"""Issue 3: the HTTP side — login with an argon2-checked password and a secure session cookie,
throttled repeated failures (per user and address, not a lockout), /healthz and /metrics."""
import json
import re

from sipua import Account

SUPPORT = "+442079460000"


def login(server, user, password):
    return server.http("/api/login", data=json.dumps({"username": user, "password": password}).encode(),
                       headers={"Content-Type": "application/json"}, method="POST")


def test_login_sets_a_secure_session_cookie_that_later_requests_use(server):
    status, body, headers = login(server, "agent1", "agent1-pw")
    assert status == 200, body
    assert json.loads(body)["role"] == "agent"
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
    token = cookie.split(";")[0]
    status, body, _ = server.http("/api/me", headers={"Cookie": token})
    assert status == 200 and json.loads(body)["username"] == "agent1"
    assert server.http("/api/me")[0] == 401
    assert server.http("/api/me", headers={"Cookie": "helpline_session=forged"})[0] == 401
    # Only a hash of the token is stored.
    raw = token.split("=", 1)[1]
    assert not any(raw in "".join(r) for r in server.query("SELECT token_hash FROM sessions"))
    # Logging out ends the session.
    server.http("/api/logout", headers={"Cookie": token}, method="POST", data=b"")
    assert server.http("/api/me", headers={"Cookie": token})[0] == 401


def test_wrong_password_is_refused_and_repeated_failures_are_throttled(server):
    assert login(server, "agent1", "nope")[0] == 401
    assert login(server, "ghost", "nope")[0] == 401
    codes = [login(server, "agent2", f"wrong{i}")[0] for i in range(8)]
    assert codes[:5] == [401] * 5 and 429 in codes, codes
    status, _, headers = login(server, "agent2", "agent2-pw")
    assert status == 429 and int(headers["retry-after"]) >= 1
    # The throttle is per user (and address): another user is not locked out by it.
    assert login(server, "agent1", "agent1-pw")[0] == 200


def test_over_capacity_new_calls_get_503_with_retry_after(ua, make_server):
    s = make_server("sqlite", "max_calls = 1\nretry_after_secs = 7")
    caller = ua.caller("sip:+442079461111@127.0.0.1")
    first = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}")
    ua.wait(lambda: first.state == "CONFIRMED")
    second = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}")
    ua.wait(lambda: second.state == "DISCONNECTED")
    assert second.last_code == 503
    first.hangup()
    ua.wait(lambda: first.state == "DISCONNECTED")
    ua.wait(lambda: json.loads(s.http("/healthz")[1])["calls_active"] == 0, what="call released")
    third = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}")
    ua.wait(lambda: third.state == "CONFIRMED", what="capacity freed")
    third.hangup()
    ua.wait(lambda: third.state == "DISCONNECTED")
    rows = s.wait_rows("SELECT payload FROM events WHERE kind = 'call.rejected'", 1)
    assert json.loads(rows[0][0])["status"] == 503


def test_healthz_and_metrics_count_what_happened(ua, server):
    caller = ua.caller("sip:+442079461111@127.0.0.1")
    call = caller.call(f"sip:{SUPPORT}@{server.sip_uri_host}")
    ua.wait(lambda: call.state == "CONFIRMED")
    status, body, _ = server.http("/healthz")
    assert status == 200 and json.loads(body)["calls_active"] == 1
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    # PJSIP reports DISCONNECTED as it sends the BYE; wait for the server to have taken it.
    ua.wait(lambda: json.loads(server.http("/healthz")[1])["calls_active"] == 0, what="call ended")
    status, text, headers = server.http("/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    def value(pattern):
        m = re.search(pattern + r" (\d+)", text)
        return int(m.group(1)) if m else None
    assert value(r'helpline_sip_requests_total\{method="INVITE"\}') >= 1
    assert value(r'helpline_sip_requests_total\{method="BYE"\}') >= 1
    assert value(r'helpline_sip_responses_total\{code="200"\}') >= 2
    assert value(r'helpline_calls_total\{outcome="caller_hangup"\}') == 1
    assert value("helpline_calls_active") == 0
    assert "helpline_store_queue_depth" in text
    assert not re.search(r"\+44", text), "no caller numbers in labels"


def test_https_with_a_self_signed_certificate_generated_on_first_run(make_server, tmp_path):
    import socket
    import ssl
    import urllib.request
    from conftest import free_port
    port = free_port()
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    s = make_server("sqlite", extra="")
    s.stop()
    text = s.config.read_text().replace(
        "[http]\n", f'[http]\ntls_listen = "127.0.0.1:{port}"\ntls_cert = "{cert}"\ntls_key = "{key}"\n'
                    "tls_self_signed = true\n")
    s.config.write_text(text)
    s.start()
    assert cert.exists() and key.exists(), "certificate generated on first run"
    assert oct(key.stat().st_mode & 0o777) == "0o600", "the key is private"
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = True
    with urllib.request.urlopen(f"https://localhost:{port}/healthz", context=ctx, timeout=5) as r:
        assert r.status == 200
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    first = cert.read_bytes()
    s.stop()
    s.start()
    assert cert.read_bytes() == first, "an existing certificate is kept"
