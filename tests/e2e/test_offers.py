"""Issue 13, must-show 2: offers and the router's outcomes with real PJSIP phones.

* Ring-all: three registered phones ring for one caller; the first to answer wins, the other two
  get CANCEL with `Reason: SIP;cause=200;text="Call completed elsewhere"` (RFC 3326) within
  100 ms and their pages show the offer withdrawn; the winner and the caller hear each other.
* Glare: all three phones answer at once; exactly one is bridged, the other two get ACK and BYE.
* A queue's `max_wait` with outcome voicemail: the caller hears the voicemail prompt, leaves a
  message and the ticket holds it.
* A full queue with outcome busy: the caller hears the closing prompt and the server hangs up.
* A caller who hangs up while the external CRM (delaying 2 s) is answering: the call ends at
  once and no phone rings.

Every phone and caller plays its own tone, so a recording says whom it heard."""
import json
import pathlib
import re
import time

import pytest

from agent_socket import AgentSocket, login
from audio import best_match_at, tone_power
from conftest import REPO
from sip_tap import SipTap
from sipua import Account
from test_routing import write_tone

PROMPTS = REPO / "dialplans" / "prompts"
SUPPORT = "+442079460000"
# PJSIP has 8 account slots per process: the callers are the numbers other tests use too.
ADA, BOB = "+447700900123", "+442079461111"
AGENTS = ("agent1", "agent2", "agent3")
CALLER_TONE = 600.0
PHONE_TONES = {"agent1": 1000.0, "agent2": 1300.0, "agent3": 1700.0}
# RFC 3326 reason a CANCEL carries when another phone took the call.
ANSWERED_ELSEWHERE = (200, "Call completed elsewhere")
CANCEL_WITHIN_S = 0.100

# The test's own queues (the sample config/queues.toml is not touched): "ringall" is declared
# like the sample "emergencies" queue; "vm" sends a caller to voicemail after 5 s; "small" holds
# one call and turns the next away busy; "crm" is a plain queue for the external-CRM test.
QUEUES = """
skills = ["network", "security"]
languages = ["english", "spanish"]

[[queues]]
name = "ringall"
emergency = true
strategy = "ring-all"
required = { security = 2 }
rona_s = 20
wrap_up_s = 1

[[queues]]
name = "vm"
strategy = "longest-idle"
required = { network = 1 }
max_wait = { after_s = 5, outcome = "voicemail" }

[[queues]]
name = "small"
strategy = "longest-idle"
required = { network = 1 }
max_size = { calls = 1, outcome = "busy" }

[[queues]]
name = "crm"
strategy = "longest-idle"
required = { network = 1 }
rona_s = 20
"""

# Three agents alike (same skills, penalty 0 everywhere), so ring-all rings all three.
AGENTS_TOML = "".join(f"""
[[agents]]
id = "{a}"
name = "Agent {a[-1]}"
skills = {{ network = 3, security = 3, english = 5 }}
queues = {{ ringall = 0, vm = 0, small = 0, crm = 0 }}
""" for a in AGENTS)


@pytest.fixture(autouse=True)
def hang_up_leftovers(ua, make_server):
    """A test failing half-way leaves phones ringing or in calls, and this PJSIP wheel has 4
    call slots in all (PJSUA_MAX_CALLS): end them while the test's server still runs (this
    fixture is torn down before `make_server`), so each is answered and its slot freed at once
    rather than after 32 s of retransmissions to a stopped server."""
    yield
    ua.ep.hangupAllCalls()
    ua.pump(0.5)


def plan(queue):
    """A dialplan whose support line queues straight into `queue`."""
    return f"""
[plan]
languages = ["en"]

[[entry]]
number = "{SUPPORT}"
start = "queue"

[nodes.queue]
kind = "enqueue"
queue = "{queue}"
"""


def offers_server(make_server, tmp_path, queue, extra=""):
    d = tmp_path / "plan"
    d.mkdir()
    (d / "offers.toml").write_text(plan(queue))
    (tmp_path / "queues.toml").write_text(QUEUES)
    (tmp_path / "agents.toml").write_text(AGENTS_TOML)
    return make_server("sqlite", dialplans=d, queues=tmp_path / "queues.toml",
                       agents=tmp_path / "agents.toml", extra=extra)


class AnsweringPhone(Account):
    """A desk phone that answers the moment it rings (200 from the incoming-call callback),
    playing `tone` and recording what it hears into `heard`."""

    def __init__(self, *args, tone=None, heard=None, **kw):
        super().__init__(*args, **kw)
        self.tone, self.heard = tone, heard

    def onIncomingCall(self, prm):
        super().onIncomingCall(prm)
        c = self.incoming[-1]
        c.play(self.tone)
        c.record(str(self.heard))
        self.answer(c, 200)


def phone(ua, s, user, auto_answer=None, cls=Account, **kw):
    p = cls(ua, f"sip:{user}@helpline.test", registrar=f"sip:{s.sip_uri_host}",
            username=user, password=f"{user}-pw", auto_answer=auto_answer, **kw)
    ua.wait(lambda: 200 in p.reg_codes, what=f"{user}'s phone registered")
    return p


def page(ua, s, user):
    """The agent's page, set available."""
    pg = AgentSocket(s, login(s, user, f"{user}-pw"))
    if pg.wait("hello", pump=ua.pump)["state"] != "available":
        pg.send(type="set_state", state="available")
        pg.wait("state", pump=ua.pump, where=lambda m: m["state"] == "available")
    return pg


def tone(tmp_path, freq):
    path = tmp_path / f"tone-{int(freq)}.wav"
    if not path.exists():
        write_tone(path, freq)
    return str(path)


def queued(ua, s, call, timeout=15):
    ua.wait(lambda: call.cid and s.query(
        f"SELECT 1 FROM events WHERE call_id = '{call.cid}' AND kind = 'call.queued'"),
        timeout=timeout, what="the call is queued")


def dial(ua, s, number, tmp_path, record=None, account=None):
    """A caller playing CALLER_TONE dials the support line."""
    acc = account or ua.caller(f"sip:{number}@127.0.0.1")
    try:
        call = acc.call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=tone(tmp_path, CALLER_TONE),
                        record=str(record) if record else None)
    except Exception as e:
        raise AssertionError(f"PJSIP could not call: {getattr(e, 'info', lambda: e)()}") from e
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active, what=f"{number} answered")
    return call


def reason_of(cancel):
    """(cause, text) of a SIP message's `Reason: SIP;...` header, or None."""
    for line in cancel.split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() != "reason":
            continue
        proto, *params = [p.strip() for p in value.split(";")]
        if proto.upper() != "SIP":
            continue
        kv = dict(p.split("=", 1) for p in params if "=" in p)
        cause = kv.get("cause", "").strip()
        text = kv.get("text", "").strip().strip('"')
        return (int(cause) if cause.isdigit() else cause, text)
    return None


def wait_for(ua, cond, timeout, what, state):
    """Wait for `cond`; on time-out fail saying `what` and the `state()` seen."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout} s: {what}; {state()}")
        ua.pump(0.01)


def call_states(phones):
    return {a: [c.states for c in p.incoming] for a, p in phones.items()}


def stored(s, cid, kind):
    return [json.loads(p) for (p,) in s.query(
        f"SELECT payload FROM events WHERE call_id = '{cid}' AND kind = '{kind}' ORDER BY seq")]


# ---- ring-all ------------------------------------------------------------------------------


def ring_all_setup(ua, make_server, tmp_path, phone_kw):
    s = offers_server(make_server, tmp_path, "ringall")
    phones = {}
    for a in AGENTS:
        if phones:
            # The registrar's challenges within one second share a nonce, and the nonce-count
            # check is per nonce, not per user: a second phone registering in the same second
            # as another is refused (401 stale, again). A second apart, as test_queue does.
            ua.pump(1.1)
        phones[a] = phone(ua, s, a, **phone_kw(a))
    pages = {a: page(ua, s, a) for a in AGENTS}
    return s, phones, pages


def test_ring_all_the_first_answer_wins_and_the_others_are_cancelled_as_answered_elsewhere(
        ua, make_server, tmp_path):
    s, phones, pages = ring_all_setup(ua, make_server, tmp_path,
                                      phone_kw=lambda a: {"auto_answer": 180})
    heard = tmp_path / "caller-heard.wav"
    call = dial(ua, s, ADA, tmp_path, record=heard)
    queued(ua, s, call)
    wait_for(ua, lambda: all(p.incoming and p.incoming[0].state == "EARLY" for p in phones.values()),
             15, "all three phones ring", lambda: call_states(phones))
    for a, pg in pages.items():
        pg.wait("offer", pump=ua.pump, timeout=5, where=lambda m: m["call_id"] == call.cid)
    ua.pump(0.5)                            # they ring a moment
    # The phone that rang first answers: the offer the server made first must still be live.
    first = min(AGENTS, key=lambda a: phones[a].incoming[0].state_time("INCOMING"))
    losers = [a for a in AGENTS if a != first]
    won = phones[first].incoming[0]
    won.play(tone(tmp_path, PHONE_TONES[first]))
    won.record(str(tmp_path / "winner-heard.wav"))
    answered_at = time.monotonic()
    phones[first].answer(won, 200)
    ua.wait(lambda: won.state == "CONFIRMED", timeout=5, what=f"{first} answered")
    wait_for(ua, lambda: all(phones[a].incoming[0].state == "DISCONNECTED" for a in losers), 5,
             f"{first} answered: the other phones ({', '.join(losers)}) stop ringing",
             lambda: call_states(phones))
    for a in losers:
        c = phones[a].incoming[0]
        cancels = c.requests_of("CANCEL")
        assert cancels, f"{a}'s phone stopped ringing without a CANCEL: {c.received}"
        at, msg = cancels[0]
        assert reason_of(msg) == ANSWERED_ELSEWHERE, \
            f"{a}'s CANCEL must say the call was completed elsewhere (RFC 3326):\n{msg}"
        assert at - answered_at <= CANCEL_WITHIN_S, \
            f"{a}'s CANCEL came {1000 * (at - answered_at):.0f} ms after {first} answered"
        assert len(phones[a].incoming) == 1, f"{a}'s phone was rung again"
        pages[a].wait("offer_withdrawn", pump=ua.pump, timeout=2,
                      where=lambda m: m["call_id"] == call.cid)
    pages[first].wait("call", pump=ua.pump, timeout=5, where=lambda m: m["call_id"] == call.cid)
    assert not [m for m in pages[first].of("offer_withdrawn") if m["call_id"] == call.cid], \
        "the winner's offer is not withdrawn"
    # Talk: each hears the other's tone, and the caller no one else's.
    ua.pump(3.0)
    assert won.state == "CONFIRMED" and call.state == "CONFIRMED"
    call.stop_recording()
    won.stop_recording()
    assert tone_power(heard, PHONE_TONES[first], last_seconds=2) > 0.3, \
        f"the caller hears {first}, who answered"
    assert tone_power(tmp_path / "winner-heard.wav", CALLER_TONE, last_seconds=2) > 0.3, \
        f"{first} hears the caller"
    offered = {p["agent"] for p in stored(s, call.cid, "call.offered")}
    assert offered == set(AGENTS), f"all three were offered the call: {offered}"
    assert [p["agent"] for p in stored(s, call.cid, "call.connected")] == [first], \
        stored(s, call.cid, "call.connected")
    call.hangup()
    ua.wait(lambda: won.state == "DISCONNECTED", what="the winner's leg ends with the call")
    for pg in pages.values():
        pg.close()


def test_ring_all_glare_only_one_phone_is_bridged_the_others_get_ack_and_bye(
        ua, make_server, tmp_path):
    # Every phone answers the moment it rings, playing its own tone.
    s, phones, pages = ring_all_setup(
        ua, make_server, tmp_path,
        phone_kw=lambda a: {"cls": AnsweringPhone, "tone": tone(tmp_path, PHONE_TONES[a]),
                            "heard": tmp_path / f"{a}-heard.wav"})

    heard = tmp_path / "caller-heard.wav"
    call = dial(ua, s, ADA, tmp_path, record=heard)
    queued(ua, s, call)
    wait_for(ua, lambda: all(p.incoming for p in phones.values()), 15,
             "all three phones are offered the call", lambda: call_states(phones))
    # Each answered at once; the server keeps one and releases the others.
    wait_for(ua, lambda: sum(p.incoming[0].state == "DISCONNECTED" for p in phones.values()) >= 2,
             5, "two of the three phones that answered are released", lambda: call_states(phones))
    ua.pump(2.0)
    live = [a for a, p in phones.items() if p.incoming[0].state == "CONFIRMED"]
    assert len(live) == 1, f"exactly one phone stays in the call: {call_states(phones)}"
    winner = live[0]
    for a in AGENTS:
        c = phones[a].incoming[0]
        assert len(phones[a].incoming) == 1, f"{a}'s phone was rung again"
        if a == winner:
            assert not c.requests_of("BYE"), f"the winner {a} got a BYE"
            continue
        assert "CONFIRMED" in c.states, f"{a} answered and must get an ACK (CONFIRMED): {c.states}"
        assert c.requests_of("BYE"), f"{a} must be released with a BYE: {c.states}, {c.received}"
        assert c.requests_of("BYE")[0][0] >= c.state_time("CONFIRMED"), "ACK before BYE"
        # (A CANCEL crossing its 200 may come too: it cannot end an answered call; the BYE does.)
    ua.pump(2.0)
    call.stop_recording()
    for p in phones.values():
        p.incoming[0].stop_recording()
    assert tone_power(heard, PHONE_TONES[winner], last_seconds=2) > 0.3, \
        f"the caller hears {winner}, the phone kept"
    assert tone_power(tmp_path / f"{winner}-heard.wav", CALLER_TONE, last_seconds=2) > 0.3, \
        f"{winner} hears the caller"
    for a in AGENTS:
        if a == winner:
            continue
        assert tone_power(heard, PHONE_TONES[a]) < 0.05, f"the caller never heard {a} (a second bridge)"
        rec = tmp_path / f"{a}-heard.wav"
        if rec.exists() and rec.stat().st_size > 1000:
            assert tone_power(rec, CALLER_TONE) < 0.1, f"{a}, released, never heard the caller"
    connected = stored(s, call.cid, "call.connected")
    assert len(connected) == 1, f"one bridge, one call.connected: {connected}"
    call.hangup()
    ua.wait(lambda: phones[winner].incoming[0].state == "DISCONNECTED")
    for pg in pages.values():
        pg.close()


# ---- outcomes the router decides ------------------------------------------------------------


def test_max_wait_sends_the_caller_to_voicemail_filed_on_the_ticket(ua, make_server, tmp_path):
    s = offers_server(make_server, tmp_path, "vm")      # no phone registered: nobody to offer to
    heard = tmp_path / "caller-heard.wav"
    call = dial(ua, s, ADA, tmp_path, record=heard)
    queued(ua, s, call)
    # 5 s of waiting, the prompt (7.9 s), then 3 s of the caller's tone as the message.
    ua.pump(5.0 + 7.9 + 3.0)
    assert call.state == "CONFIRMED", f"the caller is still on the line to leave a message: {call.states}"
    call.stop_recording()
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    score, at = best_match_at(heard, PROMPTS / "en" / "leave_message.wav")
    assert score > 0.6, f"the caller heard the voicemail prompt (match {score:.2f})"
    assert 4.5 <= at <= 8.0, f"the prompt came {at:.1f} s into the call; max_wait is 5 s"
    rows = s.wait_rows(
        "SELECT i.recording, i.disposition, t.number, t.subject, t.status FROM interactions i "
        f"JOIN tickets t ON t.id = i.ticket_id WHERE i.call_id = '{call.cid}'", 1, timeout=10)
    recording, disposition, number, subject, status = rows[0]
    assert disposition == "voicemail" and subject.startswith("Voicemail from") and status == "open", rows
    assert recording.endswith(".wav") and pathlib.Path(recording).stat().st_size > 8000, rows
    assert tone_power(recording, CALLER_TONE) > 0.3, "the message holds what the caller said"
    # Events are batched: the interaction row (written at once) may be stored first.
    s.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{call.cid}' AND kind = 'call.voicemail'", 1)
    assert [v["path"] for v in stored(s, call.cid, "call.voicemail")] == [recording]
    outcome = stored(s, call.cid, "call.outcome")
    assert [(o["outcome"], o["cause"]) for o in outcome] == [("voicemail", "max_wait")], outcome
    sup = login(s, "super1", "super1-pw")
    code, body, _ = s.http(f"/api/tickets/{number}", headers={"Cookie": sup})
    assert code == 200, body
    assert [(i["call_id"], i["recording"]) for i in json.loads(body)["interactions"]] == \
        [(call.cid, recording)]


def closing_prompts():
    """Prompts a caller turned away may hear: the goodbye, or one made for a full queue."""
    names = ["goodbye"] + [p.stem for p in (PROMPTS / "en").glob("*.wav")
                           if re.search(r"busy|full", p.stem)]
    return [PROMPTS / "en" / f"{n}.wav" for n in names]


def test_a_full_queue_with_outcome_busy_plays_the_closing_prompt_and_hangs_up(ua, make_server, tmp_path):
    s = offers_server(make_server, tmp_path, "small")   # holds one call; nobody to take it
    first = dial(ua, s, ADA, tmp_path)
    queued(ua, s, first)
    ua.pump(1.0)                                        # it has joined the router's queue
    heard = tmp_path / "turned-away.wav"
    second = dial(ua, s, BOB, tmp_path, record=heard)
    answered = time.monotonic()
    ua.wait(lambda: second.state == "DISCONNECTED", timeout=15,
            what="the server hangs up on the caller the full queue turned away")
    second.stop_recording()
    assert second.requests_of("BYE"), f"ended by the server's BYE: {second.states}"
    took = second.state_time("DISCONNECTED") - answered
    scores = {p.stem: best_match_at(heard, p)[0] for p in closing_prompts()}
    assert max(scores.values()) > 0.6, f"the caller heard a closing prompt first: {scores}"
    assert took < 12, f"hung up {took:.1f} s after answering"
    assert first.state == "CONFIRMED", "the call already queued keeps its place"
    ended = s.wait_rows(f"SELECT payload FROM events WHERE call_id = '{second.cid}' "
                        "AND kind = 'call.ended'", 1)
    assert json.loads(ended[0][0])["cause"] == "queue_busy", ended
    outcome = stored(s, second.cid, "call.outcome")
    assert [(o["outcome"], o["cause"]) for o in outcome] == [("busy", "queue_full")], outcome
    first.hangup()
    ua.wait(lambda: first.state == "DISCONNECTED")


# ---- a hang-up while the CRM is answering ----------------------------------------------------


@pytest.mark.parametrize("during", ["pop", "routing-ticket"])
def test_a_caller_hanging_up_while_the_crm_answers_ends_at_once_and_no_phone_rings(
        ua, make_server, tmp_path, during):
    """The external CRM takes 2 s for every request. The caller (a number the CRM does not
    know) is queued: first the CRM is asked for their ticket (GET /contacts?phone), then the
    router offers the call to the free agent and the screen-pop asks again (a second
    GET /contacts?phone). The caller hangs up while the pop's (or the ticket's) request is
    still out."""
    from fake_crm import FakeCrm
    crm = FakeCrm().start()
    tap = None
    try:
        s = offers_server(make_server, tmp_path, "crm", extra=f"""
[crm]
provider = "http"
pop_timeout_ms = 6000
[crm.http]
base_url = "{crm.base_url}"
timeout_ms = 6000
""")
        tap = SipTap(s.sip_port)
        agent = phone(ua, s, "agent1", auto_answer=180)
        crm.set(delay_ms=2000)
        caller = Account(ua, f"sip:{ADA}@127.0.0.1", proxy=tap.uri)   # through the tap
        call = dial(ua, s, ADA, tmp_path, account=caller)
        # Not waiting for `call.queued`: it may be stored only once the ticket lookup is back.
        asked = 2 if during == "pop" else 1

        def lookups():
            return [r for r in crm.requests if r == "GET /contacts"]
        ua.wait(lambda: len(lookups()) >= asked, timeout=15,
                what=f"the CRM is asked ({during})")
        ua.pump(0.3)                                 # well inside the CRM's 2 s
        assert not agent.incoming, "the phone does not ring before the pop is there"
        hung_up_ms = time.time() * 1000
        call.hangup()
        ua.wait(lambda: tap.first("up", "BYE", call.cid), timeout=2, what="BYE sent")
        ua.wait(lambda: tap.first("down", "SIP/2.0 200", call.cid, "BYE"), timeout=5,
                what="the server's 200 to the BYE")
        bye_ok = tap.first("down", "SIP/2.0 200", call.cid, "BYE") - tap.first("up", "BYE", call.cid)
        ended = s.wait_rows(f"SELECT at_ms, payload FROM events WHERE call_id = '{call.cid}' "
                            "AND kind = 'call.ended'", 1, timeout=10)
        ended_after = int(ended[0][0]) - hung_up_ms
        ua.pump(4.0)                                 # the CRM has long answered by now
        problems = []
        if bye_ok >= 0.5:
            problems.append(f"the server answered the BYE {1000 * bye_ok:.0f} ms after it came")
        if ended_after >= 1000:
            problems.append(f"call.ended stored {ended_after:.0f} ms after the hang-up")
        if agent.incoming:
            problems.append(f"the agent's phone rang {len(agent.incoming)} time(s) after the "
                            f"caller had hung up ({[c.states for c in agent.incoming]})")
        if stored(s, call.cid, "call.offered"):
            problems.append("an offer was stored for a call that had ended")
        assert not problems, "; ".join(problems)
        agent.shutdown()
    finally:
        if tap:
            tap.close()
        crm.stop()
