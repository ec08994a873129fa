"""The thin end-to-end call (issues 5 and 6): a PJSIP caller goes through the IVR, is queued
with the skills of its choices, the router offers it to the registered agent who has them, the
agent's PJSIP desk phone rings and answers, and caller and agent hear each other (a tone the
agent plays is found in the caller's recording). Hanging up ends the agent's leg."""
import json
import math
import struct
import wave

from sipua import Account
from audio import tone_power
from test_ivr import plan_with_hours, VOICE

SUPPORT = "+442079460000"


def write_tone(path, freq=1000.0, seconds=20):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * n / 8000)))
                               for n in range(8000 * seconds)))


def test_queued_caller_is_offered_to_the_skilled_agent_and_they_talk(ua, make_server, tmp_path):
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, True))
    tone = tmp_path / "tone.wav"
    write_tone(tone)
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=180)
    ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
    caller = ua.caller("sip:+447700900123@127.0.0.1")
    rec = tmp_path / "caller-heard.wav"
    call = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=VOICE, record=str(rec))
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")   # English
    ua.pump(1.0)
    call.dtmf("3")   # network outage → information prompt → queue "network"
    ua.wait(lambda: phone.incoming, timeout=25, what="the agent's phone rings")
    ringing = phone.incoming[-1]
    ringing.play(str(tone))
    ua.wait(lambda: ringing.state == "EARLY")
    phone.answer(ringing, 200)
    ua.wait(lambda: ringing.state == "CONFIRMED", what="agent answered")
    ua.pump(3.0)
    call.stop_recording()
    call.hangup()
    ua.wait(lambda: ringing.state == "DISCONNECTED", what="agent leg ended when the caller hung up")
    assert tone_power(rec, 1000, last_seconds=2) > 0.3, "the agent's 1 kHz tone is what the caller hears"
    s.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{call.cid}' AND kind = 'call.ended'", 1)
    rows = s.query(f"SELECT kind, payload FROM events WHERE call_id = '{call.cid}' ORDER BY seq")
    kinds = [k for k, _ in rows]
    assert "call.queued" in kinds
    legs = [json.loads(p)["state"] for k, p in rows if k == "leg.state"]
    assert legs[:3] == ["calling", "ringing", "answered"], legs
    states = [json.loads(p)["state"] for (p,) in s.query(
        "SELECT payload FROM events WHERE kind = 'agent.state_changed' ORDER BY seq")]
    assert states, "agent state changes are stored"
    phone.shutdown()


def test_after_the_agent_hangs_up_the_caller_rates_the_call(ua, make_server, tmp_path):
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, True))
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=200)
    ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
    caller = ua.caller("sip:+447700900123@127.0.0.1")
    call = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=VOICE)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")
    ua.pump(1.0)
    call.dtmf("2")   # hardware → queue "hardware"
    ua.wait(lambda: phone.incoming and phone.incoming[-1].state == "CONFIRMED", timeout=25,
            what="agent answered")
    ua.pump(1.0)
    phone.incoming[-1].hangup()          # the agent ends the call
    ua.pump(1.5)                         # the survey prompt starts
    call.dtmf("4")
    ua.wait(lambda: call.state == "DISCONNECTED", timeout=20, what="goodbye after the survey")
    rows = s.wait_rows(f"SELECT payload FROM events WHERE call_id = '{call.cid}' AND kind = 'call.survey'", 1)
    assert json.loads(rows[0][0])["score"] == 4
    ended = s.wait_rows(f"SELECT payload FROM events WHERE call_id = '{call.cid}' AND kind = 'call.ended'", 1)
    assert json.loads(ended[0][0])["cause"] == "agent_hangup"
    phone.shutdown()


def registered(ua, server, user, auto_answer):
    phone = Account(ua, f"sip:{user}@helpline.test", registrar=f"sip:{server.sip_uri_host}",
                    username=user, password=f"{user}-pw", auto_answer=auto_answer)
    ua.wait(lambda: 200 in phone.reg_codes, what=f"{user} registered")
    return phone


def queue_for_hardware(ua, server):
    call = ua.caller("sip:+447700900123@127.0.0.1").call(f"sip:{SUPPORT}@{server.sip_uri_host}", play=VOICE)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")
    ua.pump(1.0)
    call.dtmf("2")   # hardware
    return call


def test_caller_hanging_up_while_the_agent_rings_stops_the_ringing(ua, make_server, tmp_path):
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, True))
    p1 = registered(ua, s, "agent1", 180)
    call = queue_for_hardware(ua, s)
    ua.wait(lambda: p1.incoming and p1.incoming[-1].state == "EARLY", timeout=25, what="agent rings")
    call.hangup()
    ua.wait(lambda: p1.incoming[-1].state == "DISCONNECTED", timeout=5, what="ringing stopped")
    assert p1.incoming[-1].last_code == 487
    p1.shutdown()


def test_unanswered_offer_goes_to_the_next_agent_and_the_first_is_not_ready(ua, make_server, tmp_path):
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, True))
    p1 = registered(ua, s, "agent1", 180)          # rings, never answers
    call = queue_for_hardware(ua, s)
    ua.wait(lambda: p1.incoming and p1.incoming[-1].state == "EARLY", timeout=25, what="agent1 rings")
    p2 = registered(ua, s, "agent2", 200)          # free now, answers at once
    ua.wait(lambda: p1.incoming[-1].state == "DISCONNECTED", timeout=40, what="offer withdrawn (RONA)")
    ua.wait(lambda: p2.incoming and p2.incoming[-1].state == "CONFIRMED", timeout=20,
            what="the call goes to agent2, who answers")
    states = [json.loads(p) for (p,) in s.wait_rows(
        "SELECT payload FROM events WHERE kind = 'agent.state_changed' AND payload LIKE '%missed%'", 1)]
    assert states[0]["agent"] == "agent1" and states[0]["state"] == "not-ready", states
    call.hangup()
    ua.wait(lambda: p2.incoming[-1].state == "DISCONNECTED")
    p1.shutdown()
    p2.shutdown()


def test_a_not_ready_agent_is_still_not_ready_after_a_restart(ua, make_server, tmp_path):
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, True))
    p1 = registered(ua, s, "agent1", 180)          # rings, never answers → not ready (missed)
    call = queue_for_hardware(ua, s)
    ua.wait(lambda: p1.incoming and p1.incoming[-1].state == "EARLY", timeout=25, what="agent1 rings")
    ua.wait(lambda: p1.incoming[-1].state == "DISCONNECTED", timeout=40, what="offer withdrawn (RONA)")
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    s.wait_rows("SELECT 1 FROM agent_state WHERE agent_id = 'agent1' AND state = 'not-ready'", 1)
    s.stop()
    s.start()                                       # same database: bindings and agent states
    call2 = queue_for_hardware(ua, s)
    ua.wait(lambda: s.query(f"SELECT 1 FROM events WHERE call_id = '{call2.cid}' AND kind = 'call.queued'"),
            timeout=30, what="second call queued")
    ua.pump(8.0)                                    # agent1's phone is registered and qualifies
    assert len(p1.incoming) == 1, "agent1, not ready before the restart, must not be offered a call after it"
    p2 = registered(ua, s, "agent2", 200)
    ua.wait(lambda: p2.incoming and p2.incoming[-1].state == "CONFIRMED", timeout=25,
            what="the waiting call goes to the ready agent")
    call2.hangup()
    ua.wait(lambda: p2.incoming[-1].state == "DISCONNECTED")
    p1.shutdown()
    p2.shutdown()
