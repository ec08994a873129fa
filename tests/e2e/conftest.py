"""Fixtures for the end-to-end tests: the real helpline binary on free ports, with SQLite or
PostgreSQL, and one PJSIP endpoint (a real SIP stack we did not write) for the whole run."""
import os
import pathlib
import signal
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from sipua import Endpoint, shutdown_accounts

REPO = pathlib.Path(__file__).resolve().parents[2]
# The binary under test: HELPLINE_BIN, else the debug build in CARGO_TARGET_DIR (as cargo puts
# it), else the repository's target/.
BIN = pathlib.Path(os.environ.get("HELPLINE_BIN") or pathlib.Path(
    os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "debug" / "helpline")
PG_URL = os.environ.get("HELPLINE_TEST_PG_URL")


def free_port():
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue


def create_pg_database():
    name = "e2e_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", PG_URL, "-qc", f"CREATE DATABASE {name}"], check=True)
    return PG_URL.rsplit("/", 1)[0] + "/" + name


class Server:
    """A running helpline process with its own config, database and log."""

    def __init__(self, tmp, backend, sip_extra="", rtp_base=None, db_url=None, database_extra="",
                 dialplans=None, extra="", queues=None, media_extra="", agents=None):
        """`db_url`: use this database instead of a new one (e.g. a private PostgreSQL);
        `database_extra`: more `key = value` lines for the `[database]` section; `queues`,
        `agents`: a test's own queues.toml / agents.toml instead of the sample ones."""
        self.tmp = pathlib.Path(tmp)
        self.backend = backend
        self.sip_port = free_port()
        self.http_port = free_port()
        if db_url:
            self.db_url = db_url
        else:
            self.db_url = create_pg_database() if backend == "postgres" else f"sqlite://{self.tmp}/helpline.db"
        rtp = rtp_base or 30000 + (self.sip_port % 50) * 400
        self.config = self.tmp / "helpline.toml"
        sip = {
            "udp": f'"127.0.0.1:{self.sip_port}"',
            "tcp": f'"127.0.0.1:{self.sip_port}"',
            "domain": '"helpline.test"',
            "support_numbers": '["+442079460000", "+18005550100", "+18005550199"]',
            "trusted_trunks": '["127.0.0.2/32"]',
            "t1_ms": "100",
            "drain_timeout_secs": "3",
            "registration_min_expires": "1",
            "transfer_allow": '["+4420794609XX"]',
        }
        for line in sip_extra.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                sip[k.strip()] = v.strip()
        sip_text = "\n".join(f"{k} = {v}" for k, v in sip.items())
        self.config.write_text(f"""
[sip]
{sip_text}
[http]
listen = "127.0.0.1:{self.http_port}"
[database]
url = "{self.db_url}"
spill_dir = "{self.tmp}/spill"
{database_extra}
[media]
rtp_ports = [{rtp}, {rtp + 399}]
{media_extra}
[paths]
dialplans = "{dialplans or REPO / 'dialplans'}"
prompts = "{REPO}/dialplans/prompts"
queues = "{queues or REPO / 'config' / 'queues.toml'}"
agents = "{agents or REPO / 'tests' / 'fixtures' / 'agents.toml'}"
users = "{REPO}/tests/fixtures/users.toml"
{extra}
""")
        self.log_path = self.tmp / "server.log"
        self.proc = None

    @property
    def sip_uri_host(self):
        return f"127.0.0.1:{self.sip_port}"

    def start(self):
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(BIN), "--config", str(self.config), "serve"],
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"helpline exited early:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"helpline did not become ready:\n{self.log_text()}")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def http(self, path, data=None, headers=None, method=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data,
                                     headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), dict(e.headers)

    def query(self, sql):
        """Rows of a SQL query against the server's database (sqlite3 or psql)."""
        if self.backend == "postgres":
            out = subprocess.run(["psql", self.db_url, "-AtF", "\t", "-c", sql],
                                 check=True, capture_output=True, text=True).stdout
            return [tuple(line.split("\t")) for line in out.splitlines() if line]
        import sqlite3
        con = sqlite3.connect(str(self.tmp / "helpline.db"), timeout=5)
        try:
            return [tuple("" if v is None else str(v) for v in row) for row in con.execute(sql)]
        finally:
            con.close()

    def wait_rows(self, sql, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        rows = []
        while time.monotonic() < deadline:
            rows = self.query(sql)
            if len(rows) >= n:
                return rows
            time.sleep(0.1)
        raise AssertionError(f"expected {n} rows for {sql!r}, got {rows}")


BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


_UA = None


def free_call_slots():
    """End every PJSIP call still up while the test's servers still run, so each is answered
    and its slot freed at once: this PJSIP wheel has 4 call slots in all (PJSUA_MAX_CALLS), and
    a call left to a stopped (or killed) server holds its slot for 32 s of retransmissions,
    starving the next tests."""
    if _UA is None:
        return
    try:
        _UA.ep.hangupAllCalls()
    except Exception:
        pass
    _UA.pump(0.5)


@pytest.fixture(scope="session")
def ua_endpoint():
    global _UA
    ep = Endpoint()
    _UA = ep
    yield ep
    _UA = None
    ep.close()


@pytest.fixture
def ua(ua_endpoint):
    """The session's PJSIP endpoint; accounts a test leaves open are deleted after it."""
    yield ua_endpoint
    shutdown_accounts(ua_endpoint)
    ua_endpoint.pump(0.2)


@pytest.fixture(params=BACKENDS)
def server(request, tmp_path):
    s = Server(tmp_path, request.param).start()
    yield s
    free_call_slots()
    s.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(s.log_text())


@pytest.fixture
def make_server(tmp_path):
    """Start extra servers with custom [sip] settings: make_server(backend, sip_extra)."""
    started = []

    def make(backend="sqlite", sip_extra="", subdir=None, dialplans=None, extra="", queues=None,
             media_extra="", agents=None):
        """`media_extra`: more `key = value` lines for the `[media]` section; `agents`: an
        agents.toml of the test's own."""
        d = tmp_path / (subdir or f"s{len(started)}")
        d.mkdir(exist_ok=True)
        s = Server(d, backend, sip_extra, dialplans=dialplans, extra=extra, queues=queues,
                   media_extra=media_extra, agents=agents).start()
        started.append(s)
        return s
    yield make
    free_call_slots()
    for s in started:
        s.stop()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


_exit_status = 0


def pytest_sessionfinish(session, exitstatus):
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config):
    # PJSIP's SWIG wrappers assert in their destructors at interpreter exit; leave without them.
    import sys
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
