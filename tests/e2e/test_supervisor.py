"""Issue 9 end to end: the supervisor wallboard, actions, reports and Prometheus metrics.

- Supervisor pages, the wallboard socket, actions and reports refuse agents (403) and anonymous
  users (login page / 401); a foreign Origin cannot open the socket.
- Actions are applied by the router, shown on the board and audited (table + event).
- A supervisor listens to, whispers on and barges into a live call between a PJSIP caller and a
  PJSIP agent phone: their own PJSIP phone is rung, and who hears whom is checked by the tones
  each of the three plays, found (or not) in the others' recordings.
- Under a load of real SIP calls (the server's own load generator dialling a line that queues at
  once, two registered PJSIP desk phones answering), headless Chromium shows /supervisor; its
  DOM (waiting callers, agents by state, answered and abandoned today) is checked against the
  database, the report of the day and the /metrics counters; `promtool` parses /metrics. The
  dashboard and report charts are saved under docs/screenshots/.
"""
import json
import shutil
import subprocess
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from websockets.sync.client import connect

from agent_socket import login
from browser import AgentBrowser
from conftest import BACKENDS, BIN, REPO
from audio import tone_power
from sipua import Account
from test_ivr import plan_with_hours
from test_routing import write_tone

SUPPORT = "+442079460000"
SHOTS = REPO / "docs" / "screenshots"

# Every queue agents.toml names, with short wrap-ups and no disposition (no agent page here).
QUEUES = """
skills = ["accounts", "hardware", "network", "security", "tier2"]
languages = ["english", "spanish"]

[[queues]]
name = "network"
required = { network = 1 }
sl_threshold_s = 3
wrap_up_s = 1
rona_s = 10

[[queues]]
name = "hardware"
required = { hardware = 1 }
sl_threshold_s = 20
wrap_up_s = 1

[[queues]]
name = "password"
required = { accounts = 1 }
sl_threshold_s = 20

[[queues]]
name = "tier2"
membership = "explicit"
required = { tier2 = 1 }

[[queues]]
name = "emergencies"
emergency = true
required = { security = 1 }
"""

# Every call is queued at once (no prompts, no digits): a load generator's calls wait in queue.
# The UK line's callers go to "network", the US line's to "hardware".
PLAN = """
[plan]
languages = ["en"]

[[entry]]
number = "+442079460000"
start = "outage"

[[entry]]
number = "+18005550100"
start = "broken"

[nodes.outage]
kind = "set"
vars = { ivr_choice = "network" }
tags = ["ivr_choice:network"]
next = "network_queue"

[nodes.network_queue]
kind = "enqueue"
queue = "network"

[nodes.broken]
kind = "set"
vars = { ivr_choice = "hardware" }
tags = ["ivr_choice:hardware"]
next = "hardware_queue"

[nodes.hardware_queue]
kind = "enqueue"
queue = "hardware"
"""
US = "+18005550100"

EXTRA = """
[reports]
time_zone = "Europe/London"
short_abandon_secs = 1
"""


@pytest.fixture(params=BACKENDS)
def floor(request, make_server, tmp_path):
    d = tmp_path / "plan"
    d.mkdir()
    (d / "load.toml").write_text(PLAN)
    q = tmp_path / "queues.toml"
    q.write_text(QUEUES)
    return make_server(request.param, dialplans=d, queues=q, extra=EXTRA)


def today():
    """The date now in the centre's time zone (the board's "today")."""
    return datetime.now(ZoneInfo("Europe/London")).strftime("%Y-%m-%d")


def post(server, path, cookie=None, body=None):
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    return server.http(path, data=json.dumps(body or {}).encode(), headers=headers, method="POST")


def get(server, path, cookie=None):
    return server.http(path, headers={"Cookie": cookie} if cookie else {})


def get_raw(server, path, cookie=None):
    """(status, body, headers) without following redirects."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=5)
    c.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    r = c.getresponse()
    out = (r.status, r.read().decode(), {k.lower(): v for k, v in r.getheaders()})
    c.close()
    return out


class Board:
    """A /ws/supervisor client keeping the latest snapshot."""

    def __init__(self, server, cookie, origin=None):
        self.ws = connect(f"ws://127.0.0.1:{server.http_port}/ws/supervisor",
                          additional_headers={"Cookie": cookie}, origin=origin, open_timeout=5)
        self.last = None

    def wait(self, cond, timeout=10.0, what="snapshot"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = json.loads(self.ws.recv(timeout=max(0.05, deadline - time.monotonic())))
            except TimeoutError:
                break
            if msg.get("type") == "snapshot":
                self.last = msg
                if cond(msg):
                    return msg
        raise AssertionError(f"no {what} in {timeout}s; last {json.dumps(self.last)[:2000]}")

    def close(self):
        self.ws.close()


def agent(snap, name):
    return next(a for a in snap["agents"] if a["agent"] == name)


def refused(fn):
    try:
        fn()
    except Exception as e:  # websockets raises InvalidStatus with the response
        return getattr(getattr(e, "response", None), "status_code", None) or str(e)
    return None


def test_supervisor_pages_sockets_and_actions_refuse_agents_and_anonymous(server):
    agent_cookie = login(server, "agent1", "agent1-pw")
    sup_cookie = login(server, "super1", "super1-pw")
    actions = [
        ("/api/supervisor/agents/agent2/state", {"state": "not-ready", "reason": "x"}),
        ("/api/supervisor/agents/agent2/logout", {}),
        ("/api/supervisor/calls/c1/priority", {"priority": 5}),
        ("/api/supervisor/calls/c1/move", {"queue": "hardware"}),
        ("/api/supervisor/calls/c1/monitor", {"mode": "listen"}),
    ]
    reads = ["/api/reports/volume?from=2025-01-01&to=2025-01-01&interval=hour",
             "/api/supervisor/audit"]
    # Anonymous: pages send to the login page, the API says 401.
    for page in ("/supervisor", "/reports"):
        status, _, headers = get_raw(server, page)
        assert (status, headers.get("location")) == (303, "/"), (page, status)
    for path, body in actions:
        assert post(server, path, None, body)[0] == 401, path
    for path in reads:
        assert get(server, path)[0] == 401, path
    assert refused(lambda: connect(f"ws://127.0.0.1:{server.http_port}/ws/supervisor", open_timeout=5)) == 401
    # Agents: 403 everywhere.
    for page in ("/supervisor", "/reports"):
        status, body, _ = get_raw(server, page, agent_cookie)
        assert status == 403 and "supervisors" in body, (page, status)
    for path, body in actions:
        status, text, _ = post(server, path, agent_cookie, body)
        assert status == 403, (path, status, text)
    for path in reads:
        assert get(server, path, agent_cookie)[0] == 403, path
    assert refused(lambda: Board(server, agent_cookie)) == 403
    # A supervisor's socket from another site's page is refused (CSWSH).
    assert refused(lambda: Board(server, sup_cookie, origin="http://evil.example")) == 403
    # The supervisor gets everything.
    for page in ("/supervisor", "/reports"):
        status, body, headers = get_raw(server, page, sup_cookie)
        assert status == 200 and "<html" in body, page
        assert headers["content-security-policy"].startswith("default-src 'self'")
    b = Board(server, sup_cookie, origin=f"http://127.0.0.1:{server.http_port}")
    snap = b.wait(lambda s: s["agents"], what="a snapshot with agents")
    assert {a["agent"] for a in snap["agents"]} == {"agent1", "agent2"}
    assert {q["name"] for q in snap["queues"]} >= {"network", "hardware"}
    b.close()
    status, body, _ = get(server, reads[0], sup_cookie)
    assert status == 200 and json.loads(body)["columns"] == ["interval", "received", "answered", "abandoned"]
    status, body, _ = post(server, "/api/supervisor/calls/c1/monitor", sup_cookie, {"mode": "barge"})
    assert status == 409 and "register a SIP phone" in json.loads(body)["error"], body
    assert get(server, "/api/reports/nope?from=2025-01-01&to=2025-01-01", sup_cookie)[0] == 400
    assert get(server, "/api/reports/volume?from=2025-02-01&to=2025-01-01", sup_cookie)[0] == 400
    rows = server.wait_rows("SELECT actor, action, target, result FROM audit", 1)
    assert rows[0][:3] == ("super1", "call_monitor", "c1") and rows[0][3].startswith("refused"), rows


def test_actions_reach_the_router_show_on_the_board_and_are_audited(ua, floor, tmp_path):
    s = floor
    sup = login(s, "super1", "super1-pw")
    p1 = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                 username="agent1", password="agent1-pw", auto_answer=200)
    ua.wait(lambda: 200 in p1.reg_codes, what="agent1 registered")
    b = Board(s, sup)
    b.wait(lambda m: agent(m, "agent1")["state"] == "available", what="agent1 available")
    status, body, _ = post(s, "/api/supervisor/agents/agent1/state", sup,
                           {"state": "not-ready", "reason": "Set by supervisor"})
    assert status == 200, body
    snap = b.wait(lambda m: agent(m, "agent1")["state"] == "not-ready", what="agent1 not ready")
    assert agent(snap, "agent1")["reason"] == "Set by supervisor"
    # A caller now waits in "network".
    call = ua.caller("sip:+447700900123@127.0.0.1").call(f"sip:{SUPPORT}@{s.sip_uri_host}")
    ua.wait(lambda: call.state == "CONFIRMED", what="caller answered by the IVR")
    snap = b.wait(lambda m: m["callers"], what="a waiting caller")
    c = snap["callers"][0]
    assert (c["call_id"], c["queue"]) == (call.cid, "network")
    assert post(s, f"/api/supervisor/calls/{call.cid}/priority", sup, {"priority": 7})[0] == 200
    b.wait(lambda m: m["callers"] and m["callers"][0]["priority"] == 7, what="priority 7")
    status, body, _ = post(s, f"/api/supervisor/calls/{call.cid}/move", sup, {"queue": "hardware"})
    assert status == 200, body
    snap = b.wait(lambda m: m["callers"] and m["callers"][0]["queue"] == "hardware", what="moved")
    hw = next(q for q in snap["queues"] if q["name"] == "hardware")
    assert hw["waiting"] == 1
    # Refusals say why.
    status, body, _ = post(s, "/api/supervisor/calls/nope/move", sup, {"queue": "hardware"})
    assert status == 404, body
    status, body, _ = post(s, f"/api/supervisor/calls/{call.cid}/move", sup, {"queue": "sales"})
    assert status == 400 and "unknown queue" in body, body
    status, body, _ = post(s, "/api/supervisor/agents/agent1/state", sup, {"state": "available"})
    assert status == 200, body
    ua.wait(lambda: p1.incoming and p1.incoming[-1].state == "CONFIRMED", timeout=15,
            what="the moved caller is answered by agent1 (hardware)")
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED")
    s.wait_rows(f"SELECT 1 FROM events WHERE call_id = '{call.cid}' AND kind = 'call.ended'", 1)
    moved = s.query(f"SELECT payload FROM events WHERE call_id = '{call.cid}' AND kind = 'call.moved'")
    assert json.loads(moved[0][0]) == {"kind": "call.moved", "from": "network", "to": "hardware",
                                       "by": "super1"}
    audit = s.wait_rows("SELECT actor, action, target, result FROM audit ORDER BY at_ms", 6)
    kinds = [(a[1], a[3].split(":")[0]) for a in audit]
    assert kinds.count(("call_move", "ok")) == 1 and kinds.count(("call_move", "refused")) == 2, kinds
    assert ("call_priority", "ok") in kinds and ("agent_state", "ok") in kinds
    assert all(a[0] == "super1" for a in audit)
    n_events = s.query("SELECT COUNT(*) FROM events WHERE kind = 'supervisor.action'")[0][0]
    assert int(n_events) == len(audit)
    # The report of the day puts the call in the queue it was moved to.
    day = today()
    status, body, _ = get(s, f"/api/reports/by_queue?from={day}&to={day}&interval=day", sup)
    rows = {r[0]: r for r in json.loads(body)["rows"]}
    assert rows["hardware"][1:3] == [1, 1] and "network" not in rows, rows
    b.close()
    p1.shutdown()


def run_loadgen(ua, server, rate, duration, hold, number=SUPPORT):
    """The server's own SIP load generator (real INVITE/ACK/BYE over UDP) while PJSIP runs."""
    proc = subprocess.Popen([str(BIN), "loadgen", "--target", f"127.0.0.1:{server.sip_port}",
                             "--number", number, "--rate", str(rate), "--duration", str(duration),
                             "--hold", str(hold), "--sockets", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc


def db_counts(s):
    q = lambda sql: int(s.query(sql)[0][0])
    return {
        "queued": q("SELECT COUNT(*) FROM events WHERE kind = 'call.queued'"),
        "answered": q("SELECT COUNT(*) FROM events WHERE kind = 'call.connected'"),
        "abandoned": q("SELECT COUNT(*) FROM events WHERE kind = 'call.abandoned'"),
        "ended": q("SELECT COUNT(*) FROM events WHERE kind = 'call.ended'"),
        "arrived": q("SELECT COUNT(*) FROM events WHERE kind = 'call.arrived'"),
    }


def db_waiting(s):
    """Calls queued and neither answered, abandoned nor ended."""
    return int(s.query(
        "SELECT COUNT(*) FROM events q WHERE q.kind = 'call.queued' AND NOT EXISTS ("
        "SELECT 1 FROM events e WHERE e.call_id = q.call_id AND e.kind IN "
        "('call.connected', 'call.abandoned', 'call.ended'))")[0][0])


def db_agent_states(s):
    out = {}
    for (state,) in s.query("SELECT state FROM agent_state"):
        out[state] = out.get(state, 0) + 1
    return out


def dom(b):
    """The wallboard's numbers as the page shows them."""
    js = """(() => {
      const t = (id) => document.querySelector(`[data-testid="${id}"]`).textContent.trim();
      const rows = [...document.querySelectorAll('[data-testid="agent-row"]')];
      return {
        waiting: Number(t('total-waiting')), available: Number(t('total-available')),
        on_call: Number(t('total-on-call')), wrap_up: Number(t('total-wrap-up')),
        not_ready: Number(t('total-not-ready')), answered: Number(t('total-answered')),
        abandoned: Number(t('total-abandoned')), sl: t('total-sl'),
        callers: document.querySelectorAll('[data-testid="caller-row"]').length,
        agents: Object.fromEntries(rows.map((r) => [r.dataset.agent, r.dataset.state])),
        snapshots: window.helplineBoard.count,
      };
    })()"""
    return b.must("eval", js=js)["value"]


def wait_dom(b, ua, cond, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = dom(b)
        if cond(last):
            return last
        ua.pump(0.25)
    raise AssertionError(f"{what}: board shows {last}")


def metric_sum(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def promtool():
    return shutil.which("promtool")


def test_wallboard_under_sip_load_agrees_with_the_database(ua, floor, tmp_path):
    s = floor
    SHOTS.mkdir(parents=True, exist_ok=True)
    sup = login(s, "super1", "super1-pw")
    phones = []
    for user in ("agent1", "agent2"):
        p = Account(ua, f"sip:{user}@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username=user, password=f"{user}-pw", auto_answer=200)
        ua.wait(lambda: 200 in p.reg_codes, what=f"{user} registered")
        phones.append(p)
    b = AgentBrowser(log_path=tmp_path / "browser.log", timeout_ms=15000)
    b.start()
    try:
        r = b.must("login", base=f"http://127.0.0.1:{s.http_port}", user="super1", password="super1-pw")
        assert r["page"] == "supervisor"
        b.must("viewport", width=1600, height=1000)
        wait_dom(b, ua, lambda d: d["available"] == 2, 10, "both agents available")

        # 1. Load: 2 calls/s on the UK line and 1/s on the US line for 12 s; each caller hangs
        #    up 4 s after the IVR answered. Two agents with 1 s of wrap-up cannot take them all:
        #    some are answered, the rest abandon after about 4 s in queue.
        lgs = [run_loadgen(ua, s, rate=2, duration=12, hold=4),
               run_loadgen(ua, s, rate=1, duration=12, hold=4, number=US)]
        shot_taken = False
        while any(lg.poll() is None for lg in lgs):
            ua.pump(0.2)
            if not shot_taken and dom(b)["waiting"] >= 3:
                ua.pump(0.5)
                b.must("screenshot", path=str(SHOTS / "wallboard-load.png"), full_page=True)
                shot_taken = True
        for lg in lgs:
            out = lg.stdout.read()
            assert lg.returncode == 0, out
        ua.wait(lambda: all(c.state == "DISCONNECTED" for p in phones for c in p.incoming),
                timeout=30, what="agent legs ended")
        s.wait_rows("SELECT 1 FROM events WHERE kind = 'call.ended'", 36, timeout=30)
        ua.pump(3.0)  # wrap-ups end, the writer flushes
        db = db_counts(s)
        assert db["arrived"] == 36 and db["queued"] == 36 and db["ended"] == 36, (db, out)
        assert db["answered"] >= 3 and db["abandoned"] >= 3, db
        assert db["answered"] + db["abandoned"] == 36, db
        d = wait_dom(b, ua, lambda d: d["answered"] == db["answered"] and d["abandoned"] == db["abandoned"]
                     and d["available"] == 2, 10, f"answered/abandoned as stored {db}")
        assert d["waiting"] == db_waiting(s) == 0
        assert db_agent_states(s) == {"available": 2}, db_agent_states(s)

        # 2. Nobody ready: callers wait, and the board's waiting count is the database's.
        for a in ("agent1", "agent2"):
            st, body, _ = post(s, f"/api/supervisor/agents/{a}/state", sup,
                               {"state": "not-ready", "reason": "meeting"})
            assert st == 200, body
        lg = run_loadgen(ua, s, rate=3, duration=1, hold=20)
        s.wait_rows("SELECT 1 FROM events WHERE kind = 'call.queued'", 39, timeout=15)
        d = wait_dom(b, ua, lambda d: d["waiting"] == 3 and d["callers"] == 3 and d["not_ready"] == 2,
                     10, "three callers waiting, both agents not ready")
        assert db_waiting(s) == d["waiting"] == 3
        assert db_agent_states(s) == {"not-ready": 2}
        ua.pump(2.0)
        b.must("screenshot", path=str(SHOTS / "wallboard.png"), full_page=True)
        b.must("viewport", width=1920, height=1080)
        b.must("click", testid="wall-toggle")
        ua.pump(1.0)
        b.must("screenshot", path=str(SHOTS / "wallboard-wall-mode.png"))
        b.must("click", testid="wall-toggle")
        b.must("viewport", width=1600, height=1000)
        while lg.poll() is None:
            ua.pump(0.2)
        s.wait_rows("SELECT 1 FROM events WHERE kind = 'call.ended'", 39, timeout=30)
        ua.pump(1.5)
        db = db_counts(s)
        d = wait_dom(b, ua, lambda d: d["waiting"] == 0 and d["abandoned"] == db["abandoned"], 10,
                     "the waiting callers abandoned")
        assert d["answered"] == db["answered"]

        # 3. The report of the day, /metrics and the board agree.
        day = today()
        st, body, _ = get(s, f"/api/reports/by_queue?from={day}&to={day}&interval=day", sup)
        assert st == 200, body
        rep = json.loads(body)
        queues = {r[0]: dict(zip(rep["columns"], r)) for r in rep["rows"]}
        assert set(queues) == {"network", "hardware"}, queues
        assert (queues["network"]["offered"], queues["hardware"]["offered"]) == (27, 12), queues
        total = lambda k: sum(q[k] for q in queues.values())
        assert (total("answered"), total("abandoned")) == (db["answered"], db["abandoned"]), queues
        st, metrics, _ = get(s, "/metrics")
        for name, q in queues.items():
            assert metric_sum(metrics, "helpline_queue_answered_total", queue=name) == q["answered"]
            m_abandoned = (metric_sum(metrics, "helpline_queue_calls_total", queue=name, outcome="abandoned")
                           + metric_sum(metrics, "helpline_queue_calls_total", queue=name, outcome="short_abandoned"))
            assert m_abandoned == q["abandoned"], (name, metrics)
            if q["service_level_ratio"] is not None:
                in_sl = metric_sum(metrics, "helpline_queue_answered_within_threshold_total", queue=name)
                assert in_sl == round(q["service_level_ratio"] * (q["answered"] + q["abandoned"] - q["short_abandoned"]))
        assert metric_sum(metrics, "helpline_agents", state="not-ready") == 2
        st, csv_text, headers = get(s, f"/api/reports/volume?from={day}&to={day}&interval=hour&format=csv", sup)
        assert st == 200 and headers["content-type"].startswith("text/csv")
        lines = csv_text.strip().splitlines()
        assert lines[0] == "interval,received,answered,abandoned" and len(lines) in (24, 25, 26)
        assert sum(int(l.split(",")[1]) for l in lines[1:]) == 39
        if promtool():
            (tmp_path / "metrics.txt").write_text(metrics)
            check = subprocess.run([promtool(), "check", "metrics"], input=metrics, text=True,
                                   capture_output=True)
            assert check.returncode == 0, check.stdout + check.stderr
        else:
            print("promtool not installed (apt-get install prometheus): /metrics not linted here")

        # 4. After a restart the board is rebuilt from the stored events: the same figures.
        before = dom(b)
        s.stop()
        s.start()
        after = wait_dom(b, ua, lambda d: d["snapshots"] > before["snapshots"] and d["not_ready"] == 2,
                         20, "the board back after the restart")
        assert (after["answered"], after["abandoned"], after["sl"]) == \
            (before["answered"], before["abandoned"], before["sl"]), (before, after)
        st, body, _ = get(s, f"/api/reports/by_queue?from={day}&to={day}&interval=day", sup)
        assert json.loads(body)["rows"] == rep["rows"]

        # 5. Report charts.
        for name, shot, interval in (("volume", "report-volume.png", "15m"),
                                     ("by_queue", "report-by-queue.png", "hour"),
                                     ("by_call_type", "report-by-call-type.png", "hour"),
                                     ("by_source", "report-by-source.png", "hour"),
                                     ("service_level", "report-service-level.png", "15m"),
                                     ("agents", "report-agents.png", "day")):
            b.must("goto", path=f"/reports?report={name}&from={day}&to={day}&interval={interval}")
            b.must("eval", js="new Promise((ok) => { const t = setInterval(() => { "
                   "if (document.getElementById('report-out').dataset.ready) { clearInterval(t); ok(true); } }, 50); })")
            ua.pump(0.5)
            b.must("screenshot", path=str(SHOTS / shot), full_page=True)
        rows = b.must("eval", js="document.querySelectorAll('[data-testid=\"report-row\"]').length")["value"]
        assert rows >= 2
        errors = b.must("console_errors")["console_errors"]
        assert not errors, errors
    finally:
        b.close()
        for p in phones:
            p.shutdown()


def _hears(rec, freq):
    """Share of the last 1.5 s of `rec` that is `freq` (a tone one of the parties plays)."""
    return tone_power(rec, freq, last_seconds=1.5)


def test_supervisor_listens_whispers_and_barges_on_a_live_call(ua, make_server, tmp_path):
    s = make_server("sqlite", dialplans=plan_with_hours(tmp_path, True))
    sup = login(s, "super1", "super1-pw")
    tones = {}
    for who, freq in (("caller", 600), ("agent", 1000), ("supervisor", 1800)):
        tones[who] = tmp_path / f"{who}.wav"
        write_tone(tones[who], freq, seconds=40)
    phone = Account(ua, "sip:agent1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                    username="agent1", password="agent1-pw", auto_answer=180)
    desk = Account(ua, "sip:super1@helpline.test", registrar=f"sip:{s.sip_uri_host}",
                   username="super1", password="super1-pw", auto_answer=180)
    ua.wait(lambda: 200 in phone.reg_codes and 200 in desk.reg_codes, what="phones registered")
    rec = {w: str(tmp_path / f"{w}-heard.wav") for w in tones}
    caller = ua.caller("sip:+447700900123@127.0.0.1")
    call = caller.call(f"sip:{SUPPORT}@{s.sip_uri_host}", play=str(tones["caller"]), record=rec["caller"])
    ua.wait(lambda: call.state == "CONFIRMED" and call.media_active)
    ua.pump(0.5)
    call.dtmf("1")
    ua.pump(1.0)
    call.dtmf("3")
    ua.wait(lambda: phone.incoming, timeout=25, what="the agent's phone rings")
    agent_call = phone.incoming[-1]
    agent_call.play(str(tones["agent"]))
    agent_call.record(rec["agent"])
    phone.answer(agent_call, 200)
    ua.wait(lambda: agent_call.state == "CONFIRMED", what="agent answered")
    ua.pump(2.0)
    assert _hears(rec["caller"], 1000) > 0.3 and _hears(rec["agent"], 600) > 0.3, "caller and agent talk"

    def monitor(mode):
        status, body, _ = post(s, f"/api/supervisor/calls/{call.cid}/monitor", sup, {"mode": mode})
        assert status == 200, (mode, status, body)

    monitor("listen")
    ua.wait(lambda: desk.incoming, what="the supervisor's phone rings")
    sup_call = desk.incoming[-1]
    sup_call.play(str(tones["supervisor"]))
    sup_call.record(rec["supervisor"])
    desk.answer(sup_call, 200)
    ua.wait(lambda: sup_call.state == "CONFIRMED" and sup_call.media_active, what="supervisor answered")
    ua.pump(2.5)
    # Listening: the supervisor hears both sides; nobody hears the supervisor.
    assert _hears(rec["supervisor"], 600) > 0.15 and _hears(rec["supervisor"], 1000) > 0.15
    assert _hears(rec["caller"], 1800) < 0.02 and _hears(rec["agent"], 1800) < 0.02
    assert _hears(rec["caller"], 1000) > 0.3, "the call goes on while monitored"

    monitor("whisper")
    ua.pump(2.5)
    assert _hears(rec["agent"], 1800) > 0.15, "the agent hears the whisper"
    assert _hears(rec["caller"], 1800) < 0.02, "the caller does not"

    monitor("barge")
    ua.pump(2.5)
    assert _hears(rec["caller"], 1800) > 0.15 and _hears(rec["agent"], 1800) > 0.15, "barge: both hear"

    monitor("stop")
    ua.wait(lambda: sup_call.state == "DISCONNECTED", what="the supervisor's phone hung up")
    ua.pump(2.5)
    assert _hears(rec["caller"], 1800) < 0.02 and _hears(rec["caller"], 1000) > 0.3, "back to two"
    call.hangup()
    ua.wait(lambda: agent_call.state == "DISCONNECTED")
    rows = s.wait_rows(f"SELECT action, result FROM audit WHERE target = '{call.cid}' ORDER BY at_ms", 4)
    assert [r[0] for r in rows] == ["call_monitor"] * 4 and all(r[1] == "ok" for r in rows), rows
    states = [json.loads(p)["state"] for (p,) in s.query(
        f"SELECT payload FROM events WHERE call_id = '{call.cid}' AND kind = 'leg.state' "
        "AND payload LIKE '%supervisor:super1%' ORDER BY seq")]
    assert states[:2] == ["calling", "listen"] and "whisper" in states and "barge" in states, states
    assert states[-1].startswith("ended"), states
    phone.shutdown()
    desk.shutdown()
