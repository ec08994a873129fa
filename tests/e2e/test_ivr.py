"""Issues 4 and 5 end to end: a PJSIP caller goes through the sample help-desk dialplan with
RFC 4733 digits. It hears the prompts of the language it chose (found in its recording by
cross-correlation against that language's prompt file, and not the other language's), lands in
the right queue with the right skills and priority, and every step is stored as an event."""
import json
import pathlib
import re

import pytest

from conftest import REPO
from sipua import Account
from audio import best_match

PROMPTS = REPO / "dialplans" / "prompts"
# Callers send audio, as a phone does (PJSIP with no source sends only the DTMF packets).
VOICE = str(PROMPTS / "en" / "thank-you.wav")
SUPPORT = "+442079460000"


def plan_with_hours(tmp_path, always_open):
    """The sample dialplan with its opening hours replaced: always open, or never."""
    text = (REPO / "dialplans" / "helpdesk.toml").read_text()
    day = '["00:00-24:00"]' if always_open else "[]"
    hours = "[hours.office]\ntime_zone = \"Europe/London\"\n" + "".join(
        f"{d} = {day}\n" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    text = re.sub(r"\[hours\.office\].*?\n\n", hours + "\n", text, count=1, flags=re.S)
    d = tmp_path / ("open" if always_open else "closed")
    d.mkdir(exist_ok=True)
    (d / "helpdesk.toml").write_text(text)
    return d


def steps(server, cid):
    server.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{cid}' AND kind = 'call.ended'", 1)
    rows = server.query(f"SELECT kind, payload FROM events WHERE call_id = '{cid}' ORDER BY seq")
    return [(k, json.loads(p)) for k, p in rows]


@pytest.fixture
def open_server(make_server, tmp_path):
    return make_server("sqlite", dialplans=plan_with_hours(tmp_path, True))


def test_spanish_network_outage_queues_with_skills_and_caller_hears_spanish(ua, open_server, tmp_path):
    caller = ua.caller("sip:+447700900123@127.0.0.1")
    rec = tmp_path / "heard.wav"
    call = caller.call(f"sip:{SUPPORT}@{open_server.sip_uri_host}", record=str(rec), play=VOICE)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(1.0)
    call.dtmf("2")           # Español (barges in on the bilingual welcome)
    ua.pump(8.0)             # the Spanish main menu plays
    call.dtmf("3")           # caída de la red: an information prompt, then the queue
    ua.wait(lambda: open_server.query(
        f"SELECT 1 FROM events WHERE call_id = '{call.cid}' AND kind = 'call.queued'"), timeout=20,
        what="call queued")
    call.stop_recording()
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    evs = steps(open_server, call.cid)
    queued = [p for k, p in evs if k == "call.queued"]
    assert len(queued) == 1, evs
    q = queued[0]
    assert (q["queue"], q["language"], q["priority"]) == ("network", "es", 5), q
    assert q["skills"] == {"network": 1, "spanish": 1}, q
    choices = [p["digit"] for k, p in evs if k == "ivr.step" and p["step"] == "choice"]
    assert choices == ["2", "3"], evs
    es = best_match(rec, PROMPTS / "es" / "main_menu.wav")
    en = best_match(rec, PROMPTS / "en" / "main_menu.wav")
    assert es > 0.6 and en < 0.4, f"spanish {es:.2f} english {en:.2f}"


def test_repeated_digits_arrive_once_each_in_order(ua, open_server):
    caller = ua.caller("sip:+447700900123@127.0.0.1")
    call = caller.call(f"sip:{SUPPORT}@{open_server.sip_uri_host}", play=VOICE)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")            # English
    ua.pump(1.0)
    call.dtmf("4")            # existing ticket (barge-in on the main menu)
    ua.pump(1.0)
    call.dtmf("112233#")
    ua.pump(2.0)
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    evs = steps(open_server, call.cid)
    collected = [p["digits"] for k, p in evs if k == "ivr.step" and p["step"] == "digits"]
    path = [(p["node"], p["step"], p.get("digit") or p.get("digits")) for k, p in evs if k == "ivr.step"]
    assert collected == ["112233"], path


def test_invalid_digit_gets_retry_then_fallback(ua, open_server):
    caller = ua.caller("sip:+447700900123@127.0.0.1")
    call = caller.call(f"sip:{SUPPORT}@{open_server.sip_uri_host}", play=VOICE)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("7")
    ua.pump(4.0)
    call.dtmf("7")
    ua.pump(3.0)
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    kinds = [p["step"] for k, p in steps(open_server, call.cid) if k == "ivr.step"]
    assert "invalid" in kinds and "retry" in kinds and "fallback" in kinds, kinds
    assert kinds.index("invalid") < kinds.index("retry") < kinds.index("fallback")


def test_out_of_hours_caller_gets_the_closed_message(ua, make_server, tmp_path):
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, False))
    caller = ua.caller("sip:+447700900123@127.0.0.1")
    rec = tmp_path / "closed.wav"
    call = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}", record=str(rec), play=VOICE)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")
    ua.pump(8.0)
    call.stop_recording()
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    entered = [p["node"] for k, p in steps(s, call.cid) if k == "ivr.step" and p["step"] == "node_entered"]
    assert "closed" in entered, entered
    assert best_match(rec, PROMPTS / "en" / "closed.wav") > 0.6


def test_out_of_hours_voicemail_is_filed_on_a_ticket(ua, make_server, tmp_path):
    """Out of hours the caller leaves a message: the recording is stored with a ticket (a new
    one, as this caller typed none) and the agent sees it on the ticket's calls."""
    from agent_socket import login
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, False))
    caller = ua.caller("sip:+447700900123@127.0.0.1")
    call = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=VOICE)
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)

    def entered(node):
        return s.query(f"SELECT 1 FROM events WHERE call_id = '{call.cid}' AND kind = 'ivr.step' "
                       f"AND payload LIKE '%\"node\":\"{node}\"%' AND payload LIKE '%node_entered%'")
    ua.pump(0.5)
    call.dtmf("1")                                    # English
    ua.wait(lambda: entered("closed_menu"), timeout=15, what="closed menu")
    call.dtmf("1")                                    # leave a message
    ua.wait(lambda: entered("voicemail"), timeout=5, what="voicemail node")
    ua.pump(10.0)                                     # the prompt, then the caller speaks
    call.dtmf("#")                                    # done
    ua.wait(lambda: entered("message_saved"), timeout=5, what="message saved")
    ua.wait(lambda: call.state == "DISCONNECTED", timeout=10, what="goodbye")

    rows = s.wait_rows(
        "SELECT i.recording, t.number, t.subject, t.status, i.disposition FROM interactions i "
        f"JOIN tickets t ON t.id = i.ticket_id WHERE i.call_id = '{call.cid}'", 1)
    recording, number, subject, status, disposition = rows[0]
    assert recording.endswith(".wav") and pathlib.Path(recording).stat().st_size > 8000, rows
    assert (subject, status, disposition) == ("Voicemail from +447700900123", "open", "voicemail"), rows
    history = s.query(f"SELECT what FROM ticket_history h JOIN tickets t ON t.id = h.ticket_id "
                      f"WHERE t.number = '{number}'")
    assert any(call.cid in w and "voicemail" in w for (w,) in history), history
    voicemail = [p for k, p in steps(s, call.cid) if k == "call.voicemail"]
    assert [v["path"] for v in voicemail] == [recording]

    cookie = login(s, "super1", "super1-pw")
    status_code, body, _ = s.http(f"/api/tickets/{number}", headers={"Cookie": cookie})
    assert status_code == 200, body
    seen = json.loads(body)["interactions"]
    assert [(i["call_id"], i["recording"]) for i in seen] == [(call.cid, recording)], seen
