"""Issue 3, must-show 1 (and parts of 6): a real SIP stack (PJSIP) calls helpline.

Calls are answered, held and resumed, hung up from either side; a CANCEL before the answer
gets 487; desk phones register with digest auth and a wrong password is refused. Every test
runs on SQLite and on PostgreSQL (see conftest.BACKENDS) and checks what was stored.
"""
import json
import socket
import uuid

import pjsua2 as pj
import pytest

from sipua import Account

SUPPORT = "+442079460000"


@pytest.fixture
def caller(ua):
    acc = ua.caller("sip:+442079461111@127.0.0.1")
    yield acc


def events_of(server, call_id, n=1, timeout=10):
    """The call's `call.*` events (IVR steps left out), once its end is stored."""
    server.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{call_id}' AND kind = 'call.ended'", 1, timeout)
    rows = server.wait_rows(
        f"SELECT kind, payload FROM events WHERE call_id = '{call_id}' AND kind LIKE 'call.%' ORDER BY at_ms, seq",
        n, timeout)
    return [(k, json.loads(p)) for k, p in rows]


def test_call_answered_held_resumed_and_hung_up_by_caller(ua, server, caller):
    call = caller.call(f"sip:{SUPPORT}@{server.sip_uri_host}")
    ua.wait(lambda: call.state == "CONFIRMED", what="call answered")
    cid = call.cid
    ua.pump(0.3)
    call.hold()
    ua.wait(lambda: call.media_status() == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD, what="held")
    call.unhold()
    ua.wait(lambda: call.media_status() == pj.PJSUA_CALL_MEDIA_ACTIVE, what="resumed")
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED", what="hung up")
    kinds = [k for k, _ in events_of(server, cid, 5)]
    assert kinds[:3] == ["call.arrived", "call.answered", "call.hold"], kinds
    evs = events_of(server, cid, 5)
    holds = [p["held"] for k, p in evs if k == "call.hold"]
    assert holds == [True, False]
    assert evs[-1][0] == "call.ended" and evs[-1][1]["cause"] == "caller_hangup"
    arrived = evs[0][1]
    assert arrived["caller"] == "+442079461111" and arrived["called"] == SUPPORT
    row = server.wait_rows(f"SELECT cause, answered_ms, ended_ms FROM calls WHERE call_id = '{cid}'", 1)[0]
    assert row[0] == "caller_hangup" and row[1] and row[2]


def test_call_over_tcp_and_national_number_format(ua, server):
    tcp_caller = ua.caller("sip:+442079462222@127.0.0.1", transport="tcp")
    call = tcp_caller.call(f"sip:02079460000@{server.sip_uri_host};transport=tcp")
    ua.wait(lambda: call.state == "CONFIRMED", what="answered over TCP")
    call.hold()
    ua.wait(lambda: call.media_status() == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD, what="held over TCP")
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    cid = call.cid
    evs = events_of(server, cid, 4)
    assert evs[0][1]["transport"] == "TCP" and evs[0][1]["called"] == SUPPORT


def test_server_hangs_up_on_shutdown_after_drain_and_refuses_new_calls(ua, make_server, caller):
    s = make_server("sqlite", "drain_timeout_secs = 2")
    first = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}")
    ua.wait(lambda: first.state == "CONFIRMED")
    s.proc.send_signal(15)
    ua.pump(0.5)
    late = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}")
    ua.wait(lambda: late.state == "DISCONNECTED", what="late call refused")
    assert late.last_code == 503
    # The call in progress is not cut at once, but ended by our BYE at the drain timeout.
    assert first.state == "CONFIRMED"
    ua.wait(lambda: first.state == "DISCONNECTED", timeout=8, what="server BYE after drain")
    assert s.proc.wait(10) == 0


def test_cancel_before_answer_gets_487(ua, make_server, caller):
    s = make_server("sqlite", "answer_after_ms = 3000")
    call = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}")
    ua.wait(lambda: call.state == "EARLY", what="ringing (180)")
    call.hangup()  # before the answer: PJSIP sends CANCEL
    ua.wait(lambda: call.state == "DISCONNECTED")
    assert call.last_code == 487
    cid = call.cid
    rows = s.wait_rows(f"SELECT payload FROM events WHERE call_id = '{cid}' AND kind = 'call.ended'", 1)
    assert json.loads(rows[0][0])["cause"] == "cancelled"


def test_unknown_number_is_404_and_server_keeps_serving(ua, server, caller):
    bad = caller.call(f"sip:+442079469999@{server.sip_uri_host}")
    ua.wait(lambda: bad.state == "DISCONNECTED")
    assert bad.last_code == 404
    good = caller.call(f"sip:{SUPPORT}@{server.sip_uri_host}")
    ua.wait(lambda: good.state == "CONFIRMED")
    good.hangup()
    ua.wait(lambda: good.state == "DISCONNECTED")


def test_no_common_codec_is_488(ua, server, caller):
    ids = [c.codecId for c in ua.ep.codecEnum2()]
    try:
        for c in ids:
            ua.ep.codecSetPriority(c, 200 if c.startswith("GSM/") else 0)
        call = caller.call(f"sip:{SUPPORT}@{server.sip_uri_host}")
        ua.wait(lambda: call.state == "DISCONNECTED")
        assert call.last_code == 488
    finally:
        for c in ids:
            ua.ep.codecSetPriority(c, 255 if c.startswith(("PCMU/", "PCMA/")) else 0)


def test_desk_phone_registers_with_digest_and_wrong_password_is_refused(ua, server):
    good = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{server.sip_uri_host}",
                   username="agent1", password="agent1-pw")
    ua.wait(lambda: 200 in good.reg_codes, what="registered")
    bad = Account(ua, "sip:agent2@helpline.test", registrar=f"sip:{server.sip_uri_host}",
                  username="agent2", password="wrong")
    ua.wait(lambda: bad.reg_codes, what="refusal")
    ua.pump(0.5)
    assert 200 not in bad.reg_codes and bad.reg_codes[-1] in (401, 403), bad.reg_codes
    rows = server.wait_rows("SELECT aor, transport FROM registrations", 1)
    assert rows == [("agent1", "udp")]
    good.setRegistration(False)
    ua.wait(lambda: server.query("SELECT aor FROM registrations") == [], what="unregistered")
    good.shutdown()
    bad.shutdown()


def test_options_answered_with_capabilities(server):
    branch = "z9hG4bK" + uuid.uuid4().hex
    msg = (f"OPTIONS sip:{server.sip_uri_host} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:9;branch={branch};rport\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:helpline@127.0.0.1>\r\n"
           f"Call-ID: {uuid.uuid4()}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(msg.encode(), ("127.0.0.1", server.sip_port))
        reply = s.recvfrom(65535)[0].decode()
    assert reply.startswith("SIP/2.0 200"), reply
    headers = reply.lower()
    for h in ("allow:", "accept:", "supported:"):
        assert h in headers, reply
    assert "invite" in headers.split("allow:")[1].split("\r\n")[0]
