"""Issue 3, must-show 4: the B2BUA's client side. A registered PJSIP desk phone is rung by the
server and answers; a caller's CANCEL stops the phone's ringing; a trunk that challenges with
407 (a real Kamailio asking for digest credentials) is answered with the configured credentials.
"""
import json
import os
import pathlib
import shutil
import subprocess
import time

import pytest

from conftest import REPO, free_port
from sipua import Account

DIRECT = "+18005550100"
EXTERNAL = "+18005550199"


def leg_states(server, cid, until_ended=True):
    """States of the call's outgoing leg, once the call's end has been stored."""
    if until_ended:
        server.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{cid}' AND kind = 'call.ended'", 1)
    rows = server.query(f"SELECT payload FROM events WHERE call_id = '{cid}' AND kind = 'leg.state' ORDER BY seq")
    return [json.loads(p)["state"] for (p,) in rows]


@pytest.fixture
def direct_server(make_server):
    return make_server("sqlite", f'direct = [{{ number = "{DIRECT}", agent = "agent1", ring_secs = 20 }}]')


def register_agent(ua, server, auto_answer=None):
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{server.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=auto_answer)
    ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
    return phone


def test_registered_agent_phone_is_rung_and_answers(ua, direct_server):
    phone = register_agent(ua, direct_server, auto_answer=180)
    caller = ua.caller("sip:+442079461111@127.0.0.1")
    call = caller.call(f"sip:{DIRECT}@{direct_server.sip_uri_host}")
    ua.wait(lambda: phone.incoming, what="agent phone rings")
    ua.wait(lambda: call.state == "EARLY", what="caller hears ringing")
    ringing = phone.incoming[0]
    ua.wait(lambda: ringing.state == "EARLY")
    phone.answer(ringing, 200)
    ua.wait(lambda: call.state == "CONFIRMED" and ringing.state == "CONFIRMED", what="both legs up")
    ua.pump(0.3)
    call.hangup()
    ua.wait(lambda: ringing.state == "DISCONNECTED", what="agent leg ended by our BYE")
    cid = call.cid
    direct_server.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{cid}' AND kind = 'call.ended'", 1)
    assert leg_states(direct_server, cid)[:3] == ["calling", "ringing", "answered"]
    phone.shutdown()


def test_caller_cancel_stops_the_agent_phone_ringing(ua, direct_server):
    phone = register_agent(ua, direct_server, auto_answer=180)
    caller = ua.caller("sip:+442079461111@127.0.0.1")
    call = caller.call(f"sip:{DIRECT}@{direct_server.sip_uri_host}")
    ua.wait(lambda: phone.incoming and phone.incoming[0].state == "EARLY", what="agent phone rings")
    call.hangup()  # CANCEL before the answer
    ringing = phone.incoming[0]
    ua.wait(lambda: ringing.state == "DISCONNECTED", timeout=5, what="agent phone stops ringing")
    assert ringing.last_code == 487
    ua.wait(lambda: call.state == "DISCONNECTED")
    assert call.last_code == 487
    cid = call.cid
    rows = direct_server.wait_rows(
        f"SELECT payload FROM events WHERE call_id = '{cid}' AND kind = 'call.ended'", 1)
    assert json.loads(rows[0][0])["cause"] == "cancelled"
    phone.shutdown()


def test_unregistered_agent_gets_caller_480(ua, direct_server):
    caller = ua.caller("sip:+442079461111@127.0.0.1")
    call = caller.call(f"sip:{DIRECT}@{direct_server.sip_uri_host}")
    ua.wait(lambda: call.state == "DISCONNECTED")
    assert call.last_code == 480


KAMAILIO_CFG = REPO / "tests" / "fixtures" / "kamailio-trunk.cfg"


@pytest.fixture
def challenging_trunk(tmp_path, ua):
    """A real Kamailio as the provider's trunk: 407 until the digest is right, then it relays
    the call to a PJSIP phone standing in for the called party."""
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    if not os.path.exists(kamailio):
        pytest.skip("kamailio not installed (tests/setup/install-deps.sh installs it)")
    callee = Account(ua, "sip:+15551230000@127.0.0.1", auto_answer=200)
    port = free_port()
    log = open(tmp_path / "kamailio.log", "wb")
    proc = subprocess.Popen(
        [kamailio, "-f", str(KAMAILIO_CFG), "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(tmp_path),
         "-A", f"TRUNK_PORT={port}", "-A", f"CALLEE_PORT={ua.udp_port}", "-A", 'TRUNK_PASSWORD="trunk-secret"'],
        stdout=log, stderr=log)
    time.sleep(1.0)
    if proc.poll() is not None:
        pytest.fail("kamailio did not start:\n" + (tmp_path / "kamailio.log").read_text())
    yield port, callee, tmp_path / "kamailio.log"
    proc.terminate()
    proc.wait(5)
    callee.shutdown()


def test_trunk_that_challenges_with_407_is_answered(ua, make_server, challenging_trunk):
    port, callee, klog = challenging_trunk
    trunk = (f'trunks = [{{ name = "provider", proxy = "127.0.0.1:{port}", domain = "trunk.test", '
             f'username = "helpline", password = "trunk-secret" }}]')
    server = make_server("sqlite", trunk + "\n" +
                         f'direct = [{{ number = "{EXTERNAL}", trunk = "provider", dial = "+15551230000" }}]')
    # A direct line to a trunk is billable (issue 14): a caller who is not a trusted trunk must
    # pass digest (407) first. Without credentials the call is refused and the trunk never rings.
    anonymous = ua.caller("sip:+442079461111@127.0.0.1")
    refused = anonymous.call(f"sip:{EXTERNAL}@{server.sip_uri_host}")
    ua.wait(lambda: refused.state == "DISCONNECTED", what="unauthenticated call refused")
    assert refused.last_code == 407, refused.last_code
    assert not callee.incoming, "the trunk is not called for an unauthenticated caller"
    # A user with SIP credentials answers our 407, and we answer the trunk's.
    caller = Account(ua, "sip:agent1@127.0.0.1", username="agent1", password="agent1-pw")
    call = caller.call(f"sip:{EXTERNAL}@{server.sip_uri_host}")
    ua.wait(lambda: call.state == "CONFIRMED", what="answered through the trunk")
    # The far end is CONFIRMED once our ACK reaches it, a moment after the caller's.
    ua.wait(lambda: callee.incoming and callee.incoming[0].state == "CONFIRMED", what="far end confirmed")
    call.hangup()
    ua.wait(lambda: callee.incoming[0].state == "DISCONNECTED", what="BYE relayed to the far end")
    log = klog.read_text()
    assert "challenging INVITE" in log and "INVITE authenticated for helpline" in log, log
    states = leg_states(server, call.cid)
    assert states[0] == "calling" and "answered" in states, states
    caller.shutdown()


def test_outbound_registration_to_a_trunk_answers_the_401(ua, make_server, challenging_trunk):
    port, _callee, klog = challenging_trunk
    make_server("sqlite", f'trunks = [{{ name = "provider", proxy = "127.0.0.1:{port}", domain = "trunk.test", '
                          f'username = "helpline", password = "trunk-secret", register = true }}]')
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "REGISTER authenticated for helpline" not in klog.read_text():
        time.sleep(0.1)
    log = klog.read_text()
    assert "challenging REGISTER" in log and "REGISTER authenticated for helpline" in log, log
