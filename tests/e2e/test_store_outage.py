"""Issue 3, must-show 3: stop PostgreSQL mid-call: the call completes, and after PostgreSQL is
back every event of it is stored exactly once.

Each test runs its own PostgreSQL cluster (tests/setup/pg-test-start.sh with a private
PGTEST_DIR and port), so stopping it never disturbs the shared cluster the other tests use.
A PJSIP caller (a SIP stack we did not write) talks to helpline throughout the outage.

- Live outage: a call is answered with the database up; PostgreSQL is stopped; the call is
  held, resumed and hung up, and a second call is placed and hung up, all answered as usual;
  /healthz answers and /metrics shows the events waiting. PostgreSQL comes back and every event
  of both calls is stored once, in order, with complete `calls` rows. Run with the default
  in-memory queue and with `queue_bound = 1` (so most events go through the spill file).
- Shutdown during the outage: SIGTERM with PostgreSQL down spills the call's events to a file;
  a new server process on the same config, with PostgreSQL back, replays them exactly once.
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pjsua2 as pj
import pytest

from conftest import REPO, Server, free_port
from sipua import Account

SUPPORT = "+442079460000"
CALLER = "+442079461111"
SETUP = REPO / "tests" / "setup"
# A call's lifecycle events, in order, as the server records them for what the tests do. Its
# other events (IVR steps, queueing...) come in between; they are checked generically.
LIFECYCLE = ("call.arrived", "call.answered", "call.hold", "call.ended")
HELD_CALL = ["call.arrived", "call.answered", "call.hold", "call.hold", "call.ended"]
PLAIN_CALL = ["call.arrived", "call.answered", "call.ended"]
# Generous bound on a SIP answer: normally a few ms; the point is that it never waits for the
# database (whose connection attempts time out after 3 s).
ANSWER_BOUND = 2.0


class PrivatePostgres:
    """A PostgreSQL cluster of our own, started and stopped with the project's scripts."""

    def __init__(self):
        # Directly under /tmp: the script hands the directory to the `postgres` user when run
        # as root, and pytest's tmp_path is not reachable for that user.
        self.dir = tempfile.mkdtemp(prefix="helpline-pg-outage-")
        self.env = dict(os.environ, PGTEST_DIR=self.dir, PGTEST_PORT=str(free_port()))
        self.admin_url = None

    def _script(self, name, *args):
        r = subprocess.run(["bash", str(SETUP / name), *args], env=self.env, capture_output=True,
                           text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError(f"{name} failed ({r.returncode}):\n{r.stderr}")
        return r.stdout.strip()

    def start(self):
        self.admin_url = self._script("pg-test-start.sh").splitlines()[-1]
        return self.admin_url

    def stop(self):
        """`pg_ctl stop -m fast`: open transactions are rolled back, connections cut."""
        self._script("pg-test-stop.sh")

    def purge(self):
        self._script("pg-test-stop.sh", "--purge")
        shutil.rmtree(self.dir, ignore_errors=True)

    def create_database(self, name):
        subprocess.run(["psql", self.admin_url, "-qc", f"CREATE DATABASE {name}"], check=True,
                       capture_output=True, timeout=30)
        return self.admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def pg():
    if not glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        pytest.skip("PostgreSQL server binaries not found under /usr/lib/postgresql "
                    "(apt-get install postgresql)")
    if not shutil.which("psql"):
        pytest.skip("psql (the PostgreSQL client) is not installed")
    p = PrivatePostgres()
    try:
        p.start()
        yield p
    finally:
        p.purge()


@pytest.fixture
def outage_server(request, pg, tmp_path):
    """make(database_extra="") -> a helpline Server on a fresh database of the private cluster.
    Servers are stopped before the cluster is removed; their logs are printed on failure."""
    made = []

    def make(database_extra=""):
        d = tmp_path / f"s{len(made)}"
        d.mkdir()
        url = pg.create_database(f"helpline_{len(made)}")
        s = Server(d, "postgres", db_url=url, database_extra=database_extra)
        made.append(s)
        return s.start()
    yield make
    for s in made:
        s.stop()
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        for s in made:
            print(f"--- server log {s.log_path}\n{s.log_text()}")
        print(f"--- postgres log\n{open(os.path.join(pg.dir, 'server.log'), errors='replace').read()}"
              if os.path.exists(os.path.join(pg.dir, "server.log")) else "")


@pytest.fixture
def caller(ua):
    acc = Account(ua, f"sip:{CALLER}@127.0.0.1")
    yield acc


# --- helpers --------------------------------------------------------------------------------

def metrics(server):
    """The /metrics exposition as {"name{labels}": value}."""
    status, body, _ = server.http("/metrics")
    assert status == 200, body
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def healthz(server):
    t0 = time.monotonic()
    status, body, _ = server.http("/healthz")
    took = time.monotonic() - t0
    assert status == 200, body
    return json.loads(body), took


def place_call(ua, caller, server):
    """Call the support number; return the call once answered, with how long the answer took."""
    t0 = time.monotonic()
    call = caller.call(f"sip:{SUPPORT}@{server.sip_uri_host}")
    ua.wait(lambda: call.state in ("CONFIRMED", "DISCONNECTED"), timeout=ANSWER_BOUND,
            what="the call answered")
    assert call.state == "CONFIRMED", (call.states, call.last_code)
    return call, time.monotonic() - t0


def hang_up(ua, server, call):
    """Hang up from our side and prove the server answered our BYE with 200.

    PJSIP reports DISCONNECTED as soon as it sends the BYE, answered or not, so the proof comes
    from the server's counters: exactly one BYE received (an unanswered one would be resent
    after PJSIP's T1 of 500 ms, and again after 1.5 s) and exactly one more 200 sent."""
    before = metrics(server)
    call.hangup()
    ua.wait(lambda: call.state == "DISCONNECTED", timeout=ANSWER_BOUND, what="hung up")
    ua.pump(1.7)
    after = metrics(server)

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)
    assert delta('helpline_sip_requests_total{method="BYE"}') == 1, (before, after)
    assert delta('helpline_sip_responses_total{code="200"}') == 1, (before, after)
    assert after["helpline_calls_active"] == 0, after


def hold_and_resume(ua, call):
    call.hold()
    ua.wait(lambda: call.media_status() == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD, timeout=ANSWER_BOUND,
            what="hold re-INVITE answered")
    call.unhold()
    ua.wait(lambda: call.media_status() == pj.PJSUA_CALL_MEDIA_ACTIVE, timeout=ANSWER_BOUND,
            what="unhold re-INVITE answered")
    assert call.state == "CONFIRMED"


def wait_stored(ua, server, timeout=40):
    """Until the server's writer has nothing pending (memory, in flight or spilled)."""
    ua.wait(lambda: healthz(server)[0]["store_queue"] == 0, timeout=timeout,
            what="every queued event stored")


def stored_events(server, cid, order="at_ms, seq"):
    """Every stored event of a call as (id, kind, at_ms, payload)."""
    rows = server.query(f"SELECT id, kind, at_ms, payload FROM events WHERE call_id = '{cid}' "
                        f"ORDER BY {order}")
    return [(i, k, int(at), json.loads(p)) for i, k, at, p in rows]


def lifecycle(evs):
    return [k for _, k, _, _ in evs if k in LIFECYCLE]


def assert_stored_exactly_once(server, cid, kinds, cause="caller_hangup"):
    """The call's lifecycle is exactly `kinds`, and every event of it is stored once."""
    evs = stored_events(server, cid)
    assert lifecycle(evs) == kinds, evs
    # Stored in the order they happened, too (`seq` is the cursor readers resume from).
    assert lifecycle(stored_events(server, cid, "seq")) == kinds
    (n, distinct), = server.query(
        f"SELECT count(*), count(DISTINCT id) FROM events WHERE call_id = '{cid}'")
    assert int(n) == int(distinct) == len(evs), (n, distinct)
    # Nor twice under two ids (an event emitted again instead of retried).
    seen = [(k, at, json.dumps(p, sort_keys=True)) for _, k, at, p in evs]
    assert len(set(seen)) == len(seen), evs
    life = [e for e in evs if e[1] in LIFECYCLE]
    assert life[0][3]["caller"] == CALLER and life[0][3]["called"] == SUPPORT, life[0]
    assert life[-1][3]["cause"] == cause, life[-1]
    rows = server.query("SELECT caller, arrived_ms, answered_ms, ended_ms, cause FROM calls "
                        f"WHERE call_id = '{cid}'")
    assert len(rows) == 1, rows
    caller, arrived, answered, ended, row_cause = rows[0]
    assert caller == CALLER and row_cause == cause, rows
    assert arrived and answered and ended, rows
    assert int(arrived) <= int(answered) <= int(ended), rows
    return evs


# --- tests ----------------------------------------------------------------------------------

@pytest.mark.parametrize("database_extra", ["", "queue_bound = 1"], ids=["memory", "spill"])
def test_postgres_stopped_mid_call_loses_and_duplicates_nothing(ua, pg, outage_server, caller,
                                                                database_extra):
    s = outage_server(database_extra)

    first, _ = place_call(ua, caller, s)
    cid1 = first.getInfo().callIdString
    # Its arrival and answer are in the database before the outage.
    wait_stored(ua, s)
    before = stored_events(s, cid1)
    assert lifecycle(before) == HELD_CALL[:2]

    pg.stop()
    ua.pump(0.3)
    assert first.state == "CONFIRMED"

    # The call in progress carries on: held, resumed and hung up as usual.
    hold_and_resume(ua, first)
    hang_up(ua, s, first)

    # A whole new call while the database is still down: answered as promptly as ever.
    second, took = place_call(ua, caller, s)
    cid2 = second.getInfo().callIdString
    assert took < ANSWER_BOUND, took
    ua.pump(0.2)
    hang_up(ua, s, second)

    health, took = healthz(s)
    assert health["status"] == "ok" and took < 1.0, (health, took)
    assert health["store_queue"] >= len(HELD_CALL) - 2 + len(PLAIN_CALL), health
    m = metrics(s)
    assert m["helpline_store_queue_depth"] > 0 or m["helpline_store_events_spilled"] > 0, m
    if database_extra:
        assert m["helpline_store_events_spilled"] > 0, m
    # The writer really met the outage (and keeps the events for a retry).
    ua.wait(lambda: metrics(s)["helpline_store_batches_failed"] > 0, timeout=15,
            what="a failed batch while PostgreSQL is down")
    # Still nothing of the outage in the database... because there is no database.
    with pytest.raises(subprocess.CalledProcessError):
        s.query("SELECT 1")

    pg.start()
    wait_stored(ua, s)

    evs1 = assert_stored_exactly_once(s, cid1, HELD_CALL)
    assert [p["held"] for _, k, _, p in evs1 if k == "call.hold"] == [True, False]
    assert {e[0] for e in before} <= {e[0] for e in evs1}, "stored before the outage: still there"
    assert_stored_exactly_once(s, cid2, PLAIN_CALL)
    # Every row is one the writer counted as newly stored: none came in twice.
    (n, distinct), = s.query("SELECT count(*), count(DISTINCT id) FROM events")
    m = metrics(s)
    assert int(n) == int(distinct) == m["helpline_store_events_written"], (n, distinct, m)
    assert m["helpline_store_queue_depth"] == 0, m
    # Spilled events were replayed and their files removed.
    assert not list((s.tmp / "spill").glob("spill-*.jsonl"))

    # Life goes on once PostgreSQL is back.
    third, _ = place_call(ua, caller, s)
    cid3 = third.getInfo().callIdString
    hang_up(ua, s, third)
    wait_stored(ua, s)
    assert_stored_exactly_once(s, cid3, PLAIN_CALL)


@pytest.mark.parametrize("database_extra", ["", "queue_bound = 1"], ids=["memory", "spill"])
def test_shutdown_during_outage_spills_and_next_start_replays_once(ua, pg, outage_server, caller,
                                                                   database_extra):
    s = outage_server(database_extra)
    pg.stop()

    call, took = place_call(ua, caller, s)
    cid = call.getInfo().callIdString
    assert took < ANSWER_BOUND, took
    hang_up(ua, s, call)
    assert healthz(s)[0]["store_queue"] >= len(PLAIN_CALL)

    # SIGTERM with the database down: the writer flushes for up to 10 s, then spills the rest.
    t0 = time.monotonic()
    assert s.stop(signal.SIGTERM, timeout=30) == 0, s.log_text()
    stopped_in = time.monotonic() - t0
    assert stopped_in < 25, stopped_in
    spilled = []
    for f in sorted((s.tmp / "spill").glob("spill-*.jsonl")):
        spilled += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    # In the spill files in the order they happened (a file older than the rest comes first).
    assert [e["kind"] for e in spilled if e["call_id"] == cid and e["kind"] in LIFECYCLE] \
        == PLAIN_CALL, spilled
    assert len({e["id"] for e in spilled}) == len(spilled), spilled
    assert "not fully flushed" in s.log_text()

    # PostgreSQL back, a new server process on the same config: it replays the spill file.
    pg.start()
    s.start()
    wait_stored(ua, s)
    evs = assert_stored_exactly_once(s, cid, PLAIN_CALL)
    # Every spilled event of the call is stored, and nothing else.
    assert sorted(i for i, _, _, _ in evs) == sorted(e["id"] for e in spilled if e["call_id"] == cid)
    (n, distinct), = s.query("SELECT count(*), count(DISTINCT id) FROM events")
    assert int(n) == int(distinct) == len(spilled), (n, distinct)
    assert "replaying spilled events" in s.log_text()
    assert not list((s.tmp / "spill").glob("spill-*.jsonl"))

    # A third start replays nothing more.
    assert s.stop() == 0
    s.start()
    wait_stored(ua, s)
    (n,), = s.query("SELECT count(*) FROM events")
    assert int(n) == len(spilled)
