"""Issue 6, callback keeping the caller's place, end to end. A real PJSIP caller waits in the
hardware queue with no agent ready; the router offers a callback (maximum wait reached), the
caller hears the offer over the music, presses 1, hears the booking and is hung up. When the
agent becomes ready the server dials the caller back through a `[[sip.trunks]]` route that
points at the PJSIP endpoint; the caller answers, the agent's desk phone rings with the pop on
their page, and the two hear each other. The interaction is stored as a callback.
Second test: the caller books in the IVR's `callback_offer` node, is busy on the first attempt,
and answers the retry.
Callbacks dial only numbers asserted by a trusted trunk (issue 14): these servers trust the PJSIP
endpoint's address (127.0.0.1) as a trunk and the caller sends P-Asserted-Identity; a caller
without it is refused (told, keeps waiting), as is a number off the allow-list."""
import json
import re

from agent_socket import AgentSocket, login
from audio import best_match, tone_power
from conftest import REPO
from sipua import Account
from test_ivr import PROMPTS, VOICE, plan_with_hours
from test_routing import write_tone

SUPPORT = "+442079460000"
CALLER = "+447700900123"


def queues_file(tmp_path, allowed="+447700900"):
    """The sample queues with short callback timers on `hardware`: the maximum wait (2 s)
    offers a callback; two attempts 1 s apart; only numbers starting `allowed` called back."""
    text = (REPO / "config" / "queues.toml").read_text()
    text = re.sub(r"callback_allowed_prefixes = .*", f'callback_allowed_prefixes = ["{allowed}"]', text)
    hw = ('name = "hardware"\n'
          'max_wait = { after_s = 2, outcome = "callback" }\n'
          'callback = { max_attempts = 2, retry_after_s = 1, dial_timeout_s = 15 }\n')
    text = text.replace('name = "hardware"\n', hw, 1)
    text = re.sub(r'(name = "hardware"\n(?:.*\n)*?)max_size = .*\n', r"\1", text, count=1)
    path = tmp_path / "queues.toml"
    path.write_text(text)
    return path


def callback_server(ua, make_server, tmp_path, allowed="+447700900"):
    trunk = f"""
[[sip.trunks]]
name = "pstn"
proxy = "127.0.0.1:{ua.udp_port}"
domain = "127.0.0.1"
"""
    # The PJSIP endpoint plays the carrier: its address is a trusted trunk, so the caller's
    # P-Asserted-Identity is believed and that number may be called back.
    return make_server("sqlite", dialplans=plan_with_hours(tmp_path, True),
                       queues=queues_file(tmp_path, allowed), extra=trunk,
                       sip_extra='trusted_trunks = ["127.0.0.1/32"]')


ASSERTED = {"P-Asserted-Identity": f"<sip:{CALLER}@127.0.0.1>"}


def events(s, cid):
    return [(k, json.loads(p)) for k, p in
            s.query(f"SELECT kind, payload FROM events WHERE call_id = '{cid}' ORDER BY seq")]


def ready_agent(ua, s):
    """agent1's page and desk phone (rings, answered by the test), then ready."""
    page = AgentSocket(s, login(s, "agent1", "agent1-pw"))
    page.wait("hello")
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=180)
    ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
    page.send(type="set_state", state="available")
    return page, phone


def talk(ua, tmp_path, caller, callback, phone, page):
    """The called-back customer answers; the agent's phone rings with the offer on the page and
    is answered; each hears the other's tone. Returns the offer message."""
    caller_tone, agent_tone = tmp_path / "c600.wav", tmp_path / "a1000.wav"
    write_tone(caller_tone, 600.0)
    write_tone(agent_tone, 1000.0)
    caller_heard, agent_heard = tmp_path / "caller-heard.wav", tmp_path / "agent-heard.wav"
    callback.play(str(caller_tone))
    callback.record(str(caller_heard))
    caller.answer(callback, 200)
    ua.wait(lambda: callback.state == "CONFIRMED" and callback.media_active, what="callback answered")
    offer = page.wait("offer", pump=ua.pump, timeout=15)
    ua.wait(lambda: phone.incoming and phone.incoming[-1].state == "EARLY", what="agent's phone rings")
    ringing = phone.incoming[-1]
    ringing.play(str(agent_tone))
    ringing.record(str(agent_heard))
    phone.answer(ringing, 200)
    ua.wait(lambda: ringing.state == "CONFIRMED", what="agent answered")
    ua.pump(3.0)
    callback.stop_recording()
    ringing.stop_recording()
    assert tone_power(caller_heard, 1000, last_seconds=2) > 0.3, "the customer hears the agent"
    assert tone_power(agent_heard, 600, last_seconds=2) > 0.3, "the agent hears the customer"
    callback.hangup()
    ua.wait(lambda: ringing.state == "DISCONNECTED", what="agent leg ended with the customer's hang-up")
    return offer


def incoming_after(account, n):
    return lambda: len(account.incoming) > n and account.incoming[-1].state == "INCOMING"


def wrap_up_and_check(s, page, ua, cid):
    page.wait("wrapup", pump=ua.pump)
    page.send(type="wrapup", call_id=cid, disposition="resolved", notes="called back", resolution="resolved")
    page.wait("wrapup_saved", pump=ua.pump)
    rows = s.wait_rows(f"SELECT callback, agent, abandoned, queue FROM interactions "
                       f"WHERE call_id = '{cid}'", 1)
    assert rows == [("1", "agent1", "0", "hardware")], rows


def wait_in_queue_and_accept(ua, s, caller, heard, headers=ASSERTED):
    """Queue for hardware (declining the IVR's offer), then accept the router's offer."""
    call = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=VOICE, record=str(heard),
                       headers=headers)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")   # English
    ua.pump(1.0)
    call.dtmf("2")   # hardware → the IVR's own callback offer...
    ua.pump(1.0)
    call.dtmf("2")   # ...declined: keep waiting in the queue
    ua.wait(lambda: s.query(f"SELECT 1 FROM events WHERE call_id = '{call.cid}' AND kind = 'call.queued'"),
            what="queued")
    # Nobody is ready; after the 2 s maximum wait the router offers a callback over the music.
    ua.pump(4.5)
    call.dtmf("1")
    return call


def test_caller_accepts_a_callback_while_waiting_and_is_called_back(ua, make_server, tmp_path):
    s = callback_server(ua, make_server, tmp_path)
    caller = ua.caller(f"sip:{CALLER}@127.0.0.1")
    before = len(caller.incoming)
    heard = tmp_path / "waiting.wav"
    call = wait_in_queue_and_accept(ua, s, caller, heard)
    ua.wait(lambda: call.state == "DISCONNECTED", timeout=30, what="booked and hung up")
    call.stop_recording()
    assert best_match(heard, PROMPTS / "en" / "callback_offer.wav") > 0.6
    assert best_match(heard, PROMPTS / "en" / "callback_booked.wav") > 0.6
    kinds = [k for k, _ in events(s, call.cid)]
    assert "call.callback_requested" in kinds and "call.abandoned" not in kinds, kinds
    assert len(caller.incoming) == before, "no callback before an agent is ready"

    page, phone = ready_agent(ua, s)
    ua.wait(incoming_after(caller, before), timeout=30, what="the server calls the customer back")
    offer = talk(ua, tmp_path, caller, caller.incoming[-1], phone, page)
    assert offer["call_id"] == call.cid, "the callback is the same contact as the call"
    assert offer["pop"]["caller"] == CALLER
    wrap_up_and_check(s, page, ua, call.cid)
    evs = events(s, call.cid)
    kinds = [k for k, _ in evs]
    for k in ("call.callback_requested", "call.callback_dialled", "call.callback_answered",
              "call.connected", "call.agent_ended"):
        assert k in kinds, (k, kinds)
    dialled = [(p["number"], p["attempt"], p["agent"], p["trunk"]) for k, p in evs
               if k == "call.callback_dialled"]
    assert dialled == [(CALLER, 1, "agent1", "pstn")], dialled
    status, body, _ = s.http("/metrics")
    assert re.search(r'helpline_callbacks_total\{outcome="answered"\} 1', body), body
    page.close()
    phone.shutdown()


def test_callback_booked_in_the_ivr_is_retried_when_busy(ua, make_server, tmp_path):
    s = callback_server(ua, make_server, tmp_path)
    caller = ua.caller(f"sip:{CALLER}@127.0.0.1")
    before = len(caller.incoming)
    call = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=VOICE, headers=ASSERTED)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")   # English
    ua.pump(1.0)
    call.dtmf("2")   # hardware → callback offer
    ua.pump(1.0)
    call.dtmf("1")   # yes, call me back
    ua.wait(lambda: call.state == "DISCONNECTED", timeout=30, what="booked and hung up")

    page, phone = ready_agent(ua, s)
    ua.wait(incoming_after(caller, before), timeout=30, what="first attempt")
    caller.answer(caller.incoming[-1], 486)          # busy
    ua.wait(lambda: caller.incoming[-1].state == "DISCONNECTED")
    assert not phone.incoming, "the agent is not rung for an unanswered callback"
    ua.wait(incoming_after(caller, before + 1), timeout=30, what="the retry")
    talk(ua, tmp_path, caller, caller.incoming[-1], phone, page)
    wrap_up_and_check(s, page, ua, call.cid)
    evs = events(s, call.cid)
    attempts = [(k, p["attempt"]) for k, p in evs
                if k in ("call.callback_dialled", "call.callback_no_answer", "call.callback_answered")]
    assert attempts == [("call.callback_dialled", 1), ("call.callback_no_answer", 1),
                        ("call.callback_dialled", 2), ("call.callback_answered", 2)], attempts
    page.close()
    phone.shutdown()


def test_a_number_off_the_allow_list_is_told_and_keeps_waiting(ua, make_server, tmp_path):
    s = callback_server(ua, make_server, tmp_path, allowed="+1")
    caller = ua.caller(f"sip:{CALLER}@127.0.0.1")
    before = len(caller.incoming)
    heard = tmp_path / "waiting.wav"
    call = wait_in_queue_and_accept(ua, s, caller, heard)
    s.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{call.cid}' AND kind = 'call.callback_refused'", 1)
    ua.pump(3.0)
    assert call.state == "CONFIRMED", "a refused caller is not hung up"
    page, phone = ready_agent(ua, s)
    ua.wait(lambda: phone.incoming and phone.incoming[-1].state == "EARLY", timeout=15,
            what="the waiting caller is offered to the agent")
    call.hangup()
    ua.wait(lambda: phone.incoming[-1].state == "DISCONNECTED")
    call.stop_recording()
    assert best_match(heard, PROMPTS / "en" / "invalid_option.wav") > 0.6, "the caller was told"
    assert best_match(heard, PROMPTS / "en" / "callback_booked.wav") < 0.4
    assert len(caller.incoming) == before, "nobody dials a refused number"
    evs = events(s, call.cid)
    kinds = [k for k, _ in evs]
    assert "call.callback_requested" not in kinds and "call.callback_dialled" not in kinds, kinds
    reasons = [p.get("reason", "") for k, p in evs if k == "call.callback_refused"]
    assert any("callback_allowed_prefixes" in r for r in reasons), reasons
    page.close()
    phone.shutdown()


def test_a_caller_whose_number_no_trusted_trunk_asserted_is_refused(ua, make_server, tmp_path):
    """Issue 14: the From alone (no P-Asserted-Identity from a trusted trunk) is never dialled:
    the caller hears the refusal and keeps waiting; the refusal is stored with its reason."""
    s = callback_server(ua, make_server, tmp_path)
    caller = ua.caller(f"sip:{CALLER}@127.0.0.1")
    before = len(caller.incoming)
    heard = tmp_path / "unasserted.wav"
    call = wait_in_queue_and_accept(ua, s, caller, heard, headers=None)
    s.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{call.cid}' AND kind = 'call.callback_refused'", 1)
    ua.pump(3.0)
    assert call.state == "CONFIRMED", "a refused caller is not hung up"
    call.hangup()
    ua.pump(0.5)
    call.stop_recording()
    assert best_match(heard, PROMPTS / "en" / "invalid_option.wav") > 0.6, "the caller was told"
    assert len(caller.incoming) == before, "nobody dials an unasserted number"
    evs = events(s, call.cid)
    reasons = [p.get("reason", "") for k, p in evs if k == "call.callback_refused"]
    assert any("not asserted" in r for r in reasons), reasons
    assert "call.callback_requested" not in [k for k, _ in evs]


PREMIUM = "+18765550123"   # Jamaica: dials like a US number under +1, billed as international


def test_a_premium_rate_number_is_never_called_back(ua, make_server, tmp_path):
    """Issue 14, outbound gate: a premium-rate number, even asserted by a trusted trunk and on
    the router's allow-list, is refused by the gate when the caller asks from the queue and
    from the IVR: told (`invalid_option`), kept waiting, never dialled, the refusal stored with
    the gate's reason and counted."""
    s = callback_server(ua, make_server, tmp_path, allowed="+1")
    caller = ua.caller(f"sip:{PREMIUM}@127.0.0.1")
    before = len(caller.incoming)
    premium = {"P-Asserted-Identity": f"<sip:{PREMIUM}@127.0.0.1>"}

    def refused_and_told(call, heard):
        s.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{call.cid}' "
                    f"AND kind = 'call.callback_refused'", 1)
        ua.pump(3.0)
        assert call.state == "CONFIRMED", "a refused caller is not hung up"
        call.hangup()
        ua.pump(0.5)
        call.stop_recording()
        assert best_match(heard, PROMPTS / "en" / "invalid_option.wav") > 0.6, "the caller was told"
        assert best_match(heard, PROMPTS / "en" / "callback_booked.wav") < 0.4
        evs = events(s, call.cid)
        reasons = [p.get("reason", "") for k, p in evs if k == "call.callback_refused"]
        assert any("[outbound] denied_prefixes" in r for r in reasons), reasons
        assert "call.callback_requested" not in [k for k, _ in evs]

    # From the queue: the router's offer, accepted with 1.
    heard = tmp_path / "queue.wav"
    refused_and_told(wait_in_queue_and_accept(ua, s, caller, heard, headers=premium), heard)

    # From the IVR: its callback_offer node, accepted with 1.
    heard = tmp_path / "ivr.wav"
    call = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=VOICE, record=str(heard),
                       headers=premium)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")   # English
    ua.pump(1.0)
    call.dtmf("2")   # hardware → callback offer
    ua.pump(1.0)
    call.dtmf("1")   # yes, call me back
    refused_and_told(call, heard)

    ua.pump(1.0)
    assert len(caller.incoming) == before, "the trunk never dials a premium-rate number"
    status, body, _ = s.http("/metrics")
    assert re.search(r'helpline_outbound_refused_total\{reason="denied_prefix"\} 2', body), body
