"""Issue 4 with real peers (PJSIP), must-shows 2 and 3.

- A caller (A) and the agent's desk phone (B) bridged through the queue each play a different
  tone: each hears the other's; a hold from either phone (a PJSIP re-INVITE) silences the other
  side's tone and the unhold brings it back; the queue records (`record = true`) and the server's
  stereo recording holds the caller's tone on the left and the agent's on the right, its path on
  the call's events and its interaction row.
- A caller whose keypresses are tones in its audio (no RFC 4733 events sent) dials a number
  configured for in-band detection and the IVR acts on them; on a number without the option
  the same audio does nothing.

Tone levels are RMS amplitudes in a ±20 Hz band (audio.tone_level): a tone of amplitude 8000
through G.711 reads ~5,600; silence reads ~0. "Heard" is > 1,500 and "not heard" < 150, so
neither can be met by the other case by accident."""
import json
import math
import struct
import wave

import pjsua2 as pj

from agent_socket import AgentSocket, login
from audio import read_channels, tone_level
from conftest import REPO
from sipua import Account
from test_ivr import plan_with_hours
from test_routing import write_tone

SUPPORT = "+442079460000"
INBAND = "+18005550100"
A_HZ = 600.0    # the caller's tone
B_HZ = 1500.0   # the agent phone's tone
HEARD = 1500.0
SILENT = 150.0


def recording_queues(tmp_path):
    """The sample queues with recording on for "network" (the queue digits 1, 3 lead to)."""
    text = (REPO / "config" / "queues.toml").read_text()
    assert 'name = "network"\n' in text
    text = text.replace('name = "network"\n', 'name = "network"\nrecord = true\n', 1)
    path = tmp_path / "queues.toml"
    path.write_text(text)
    return path


def segment(ua, calls, tmp_path, name, seconds=2.0):
    """Record what each phone hears for `seconds`; the file per phone."""
    files = {}
    for who, call in calls.items():
        files[who] = str(tmp_path / f"{name}-{who}.wav")
        call.record_now(files[who])
    ua.pump(seconds)
    for call in calls.values():
        call.stop_recording()
    return files


def levels(files, skip=0.3):
    """(A hears B's tone, B hears A's tone), leaving out the first `skip` seconds of each file:
    a new PJSIP recorder starts with audio its call's port buffered (~100 ms) before it."""
    def level(path, freq):
        x, rate = read_channels(path)
        return tone_level(x[int(skip * rate):, 0], rate, freq)
    return level(files["a"], B_HZ), level(files["b"], A_HZ)


def test_bridged_phones_hear_each_other_hold_silences_and_the_call_is_recorded(ua, make_server, tmp_path):
    rec_dir = tmp_path / "recordings"
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, True),
                    queues=recording_queues(tmp_path), media_extra=f'recordings_dir = "{rec_dir}"')
    page = AgentSocket(s, login(s, "agent1", "agent1-pw"))
    page.wait("hello")
    tone_a, tone_b = tmp_path / "a.wav", tmp_path / "b.wav"
    write_tone(tone_a, A_HZ, seconds=60)
    write_tone(tone_b, B_HZ, seconds=60)
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=180)
    ua.wait(lambda: 200 in phone.reg_codes, what="agent phone registered")
    page.send(type="set_state", state="available")
    page.wait("state", pump=ua.pump, where=lambda m: m["state"] == "available")

    a = ua.caller("sip:+447700900123@127.0.0.1").call(f"sip:{SUPPORT}@{s.sip_uri_host}",
                                                       play=str(tone_a))
    ua.wait(lambda: a.state == "CONFIRMED" and a.media_active)
    ua.pump(0.5)
    a.dtmf("1")      # English
    ua.pump(1.0)
    a.dtmf("3")      # network outage → queue "network" (recorded)
    offer = page.wait("offer", pump=ua.pump, timeout=25)
    ua.wait(lambda: phone.incoming and phone.incoming[-1].state == "EARLY", what="agent phone rings")
    b = phone.incoming[-1]
    b.play(str(tone_b))
    phone.answer(b, 200)
    ua.wait(lambda: b.state == "CONFIRMED" and b.media_active, what="agent answered")
    calls = {"a": a, "b": b}
    ua.pump(1.0)

    talk = levels(segment(ua, calls, tmp_path, "talk"))
    assert talk[0] > HEARD and talk[1] > HEARD, f"each phone hears the other's tone: {talk}"

    for holder, held in (("a", "b"), ("b", "a")):
        calls[holder].hold()
        ua.wait(lambda: calls[holder].media_status() == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD,
                what=f"{holder} holds")
        ua.pump(0.6)
        on_hold = levels(segment(ua, calls, tmp_path, f"hold-{holder}"))
        heard_by_held = on_hold[0] if held == "a" else on_hold[1]
        assert heard_by_held < SILENT, \
            f"while {holder} holds, {held} no longer hears {holder}'s tone: {on_hold}"
        calls[holder].unhold()
        ua.wait(lambda: calls[holder].media_status() == pj.PJSUA_CALL_MEDIA_ACTIVE,
                what=f"{holder} resumes")
        ua.pump(0.6)
        resumed = levels(segment(ua, calls, tmp_path, f"unhold-{holder}"))
        assert resumed[0] > HEARD and resumed[1] > HEARD, \
            f"after {holder}'s unhold both hear each other again: {resumed}"

    a.hangup()
    ua.wait(lambda: b.state == "DISCONNECTED", what="agent leg ended with the caller")
    holds = [json.loads(p)["held"] for (p,) in s.wait_rows(
        f"SELECT payload FROM events WHERE call_id = '{a.cid}' AND kind = 'call.hold' ORDER BY seq", 4)]
    assert holds == [True, False, True, False], holds

    (payload,) = s.wait_rows(
        f"SELECT payload FROM events WHERE call_id = '{a.cid}' AND kind = 'call.recording'", 1)[0]
    rec = json.loads(payload)
    assert (rec["queue"], rec["agent"]) == ("network", "agent1"), rec
    path = rec["path"]
    assert path.startswith(str(rec_dir)) and path.endswith(".wav"), path
    ua.wait(lambda: _closed_wav(path), timeout=5, what="recording file completed")
    with wave.open(path, "rb") as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (2, 8000, 2)
    x, rate = read_channels(path)
    assert len(x) > rate * 10, f"the recording covers the talk: {len(x) / rate:.1f} s"
    caller_side, agent_side = x[:, 0], x[:, 1]
    assert tone_level(caller_side, rate, A_HZ) > HEARD / 2, "caller's tone on the left"
    assert tone_level(agent_side, rate, B_HZ) > HEARD / 2, "agent's tone on the right"
    assert tone_level(caller_side, rate, B_HZ) < SILENT and tone_level(agent_side, rate, A_HZ) < SILENT, \
        "each side holds one party"

    page.wait("wrapup", pump=ua.pump)
    page.send(type="wrapup", call_id=offer["call_id"], disposition="resolved",
              notes="recorded call", resolution="resolved")
    page.wait("wrapup_saved", pump=ua.pump)
    rows = s.wait_rows(f"SELECT recording FROM interactions WHERE call_id = '{a.cid}'", 1)
    assert rows == [(path,)], rows
    page.close()
    phone.shutdown()


def _closed_wav(path):
    """The recorder has written the WAV's sizes (the file is complete)."""
    try:
        raw = open(path, "rb").read(8)
    except OSError:
        return False
    return len(raw) == 8 and struct.unpack_from("<I", raw, 4)[0] > 36


DTMF = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336),
        "6": (770, 1477), "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "0": (941, 1336),
        "*": (941, 1209), "#": (941, 1477)}


def write_dtmf(path, script, tail_seconds=40):
    """An 8 kHz WAV of DTMF tone pairs: `script` is [(digit, at_seconds)], each press 120 ms at
    about -10 dBm0 per tone; silence elsewhere."""
    rate = 8000
    n = int(rate * (max(t for _, t in script) + tail_seconds))
    x = [0.0] * n
    for digit, at in script:
        lo, hi = DTMF[digit]
        start = int(at * rate)
        for k in range(int(0.12 * rate)):
            t = k / rate
            x[start + k] = 5000 * (math.sin(2 * math.pi * lo * t) + math.sin(2 * math.pi * hi * t))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(v)) for v in x))


def test_inband_digits_drive_the_ivr_on_a_number_configured_for_them(ua, make_server, tmp_path):
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, True),
                    sip_extra=f'inband_dtmf_numbers = ["{INBAND}"]')
    keys = tmp_path / "keys.wav"
    # "1" (English) during the welcome, "3" (network outage) once the main menu plays.
    write_dtmf(keys, [("1", 1.0), ("3", 2.5)])
    caller = ua.caller("sip:+447700900123@127.0.0.1")

    call = caller.call(f"sip:{INBAND}@{s.sip_uri_host}", play=str(keys))
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    queued = f"SELECT payload FROM events WHERE call_id = '{call.cid}' AND kind = 'call.queued'"
    ua.wait(lambda: s.query(queued), timeout=20, what="the IVR queues the call")
    assert json.loads(s.query(queued)[0][0])["queue"] == "network"
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    assert not call.digits, "the caller sent no RFC 4733 events"
    assert choices(s, call.cid) == [("welcome", "1"), ("main_menu", "3")]

    # The same audio to a number without in-band detection: the welcome menu hears no choice
    # (its first timeout comes seconds after both tones were played).
    other = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=str(keys))
    ua.wait(lambda: other.state == "CONFIRMED" and other.media_active)
    ua.wait(lambda: s.query(f"SELECT 1 FROM events WHERE call_id = '{other.cid}' AND kind = 'ivr.step' "
                            f"AND payload LIKE '%\"step\":\"timeout\"%'"),
            timeout=20, what="the welcome menu times out")
    assert choices(s, other.cid) == [], "tones in the audio are not digits on a number without the option"
    other.hangup()
    ua.wait(lambda: other.state == "DISCONNECTED")


def choices(server, cid):
    """The (menu, digit) choices the IVR made for a call."""
    steps = [json.loads(p) for (p,) in server.query(
        f"SELECT payload FROM events WHERE call_id = '{cid}' AND kind = 'ivr.step' ORDER BY seq")]
    return [(st["node"], st["digit"]) for st in steps if st.get("step") == "choice"]
