#!/usr/bin/env python3
"""A fake external CRM for helpline's `[crm] provider = "http"`: the JSON endpoints of
src/crm/http.rs on plain http.server (standard library only), stoppable and restartable on the
same port, with a /control endpoint to make it hang or fail and to read what it received.

In a test (same process, a thread):

    from fake_crm import FakeCrm
    crm = FakeCrm().start()              # sample data (Ada +442079460001 ...), free port
    ... [crm.http] base_url = crm.base_url ...
    crm.stop(); crm.restart()            # refused connections, then back on the same port
    crm.set(hang=True)                   # accept requests, never answer (until hang=False)
    crm.set(fail_posts=1)                # answer 503 to the next POST /interactions
    crm.posts                            # {idempotency key: POSTs received}
    crm.stored                           # {idempotency key: first outcome body}

As a process (stop = kill it; `--state` keeps the counters across restarts):

    python3 tests/e2e/fake_crm.py --port 0 [--data data.json] [--token T] [--state s.json]
    # first stdout line: "listening on http://127.0.0.1:PORT"

Endpoints (JSON bodies shaped like src/crm/model.rs):
    GET  /contacts?phone=+E164 | ?account=A          -> [Contact]
    GET  /contacts/{id}                              -> Contact | 404
    GET  /contacts/{id}/tickets?status=open          -> [Ticket] (open and pending)
    GET  /contacts/{id}/interactions?limit=N         -> [InteractionSummary], newest first
    GET  /tickets/{number}                           -> Ticket | 404 (also "1001" for "T-1001")
    POST /interactions  (Idempotency-Key header)     -> 201, or 200 for a key already stored
    GET  /control                                    -> {"posts", "stored", "requests", "auth",
                                                         "hang", "fail_posts", "delay_ms"}
    POST /control {"hang": bool, "fail_posts": n, "delay_ms": n, "reset": true,
                   "data": {"contacts": [...], "tickets": [...], "interactions": {id: [...]}}}
"""
import argparse
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sample_data(now_ms=None):
    """Ada (+442079460001, account ACME-1, VIP: tickets T-1001 open, T-1002 pending urgent,
    T-0999 resolved; one call yesterday) and a line shared by Bob and Cy (+442079460002)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms

    def contact(cid, name, phone, account=None):
        return {"id": cid, "name": name, "organisation": "Acme", "phones": [phone],
                "email": None, "language": "en", "tier": 2, "vip": cid == "c-ada",
                "notes": None, "account": account}

    def ticket(number, status, priority, created):
        return {"id": "id-" + number, "number": number, "contact_id": "c-ada",
                "subject": "subject " + number, "category": "billing", "status": status,
                "priority": priority, "tier": 1, "owner": None, "sla_due_ms": None,
                "created_ms": created, "updated_ms": created}

    return {
        "contacts": [
            contact("c-ada", "Ada", "+442079460001", "ACME-1"),
            contact("c-bob", "Bob", "+442079460002"),
            contact("c-cy", "Cy", "+442079460002"),
        ],
        "tickets": [
            ticket("T-1001", "open", "normal", 1),
            ticket("T-1002", "pending", "urgent", 2),
            ticket("T-0999", "resolved", "high", 0),
        ],
        "interactions": {
            "c-ada": [{"id": "i-old", "call_id": "call-old", "at_ms": now_ms - 86_400_000,
                       "queue": "support", "agent": "alice", "disposition": "resolved",
                       "resolution": "open", "wait_secs": 12.0, "talk_secs": 90.0,
                       "abandoned": False, "ticket_number": "T-1001", "survey_score": None}],
        },
    }


class State:
    """What the fake knows and has seen; shared by every server incarnation."""

    def __init__(self, data=None, token=None, state_file=None):
        self.lock = threading.Lock()
        self.data = data if data is not None else sample_data()
        self.token = token
        self.state_file = state_file
        self.hang = threading.Event()
        self.fail_posts = 0
        self.delay_ms = 0
        self.posts = {}
        self.stored = {}
        self.requests = []      # "GET /contacts" etc. (path without query)
        self.auth = []          # Authorization headers seen (None when absent)
        if state_file:
            try:
                with open(state_file) as f:
                    saved = json.load(f)
                self.posts, self.stored = saved.get("posts", {}), saved.get("stored", {})
            except (OSError, ValueError):
                pass

    def save(self):
        if self.state_file:
            with open(self.state_file + ".tmp", "w") as f:
                json.dump({"posts": self.posts, "stored": self.stored}, f)
            os.replace(self.state_file + ".tmp", self.state_file)

    def snapshot(self):
        with self.lock:
            return {"posts": dict(self.posts), "stored": dict(self.stored),
                    "requests": list(self.requests), "auth": list(self.auth),
                    "hang": self.hang.is_set(), "fail_posts": self.fail_posts,
                    "delay_ms": self.delay_ms}

    def control(self, body):
        with self.lock:
            if body.get("reset"):
                self.posts, self.stored, self.requests, self.auth = {}, {}, [], []
                self.fail_posts, self.delay_ms = 0, 0
                self.hang.clear()
            if "hang" in body:
                (self.hang.set if body["hang"] else self.hang.clear)()
            if "fail_posts" in body:
                self.fail_posts = int(body["fail_posts"])
            if "delay_ms" in body:
                self.delay_ms = int(body["delay_ms"])
            if "data" in body:
                self.data = body["data"]
            self.save()


def make_handler(state, server_ref):
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so a stopped server has no keep-alive
        # connections left that a client could still use.
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def setup(self):
            super().setup()
            server_ref.track(self.connection, True)

        def finish(self):
            try:
                super().finish()
            finally:
                server_ref.track(self.connection, False)

        def send_json(self, status, value=None):
            body = b"" if value is None else json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def read_body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def gate(self, path):
            """Record the request; hang or delay as told. False when refused (token)."""
            with state.lock:
                state.requests.append(f"{self.command} {path}")
                state.auth.append(self.headers.get("Authorization"))
                delay = state.delay_ms
            deadline = time.monotonic() + 60
            while state.hang.is_set() and time.monotonic() < deadline and not server_ref.stopped:
                time.sleep(0.02)
            if server_ref.stopped:
                return False
            if delay:
                time.sleep(delay / 1000)
            if state.token and self.headers.get("Authorization") != f"Bearer {state.token}":
                self.send_json(401, {"error": "bad token"})
                return False
            return True

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
            if url.path == "/control":
                return self.send_json(200, state.snapshot())
            if not self.gate(url.path):
                return
            with state.lock:
                data = state.data
            contacts, tickets = data.get("contacts", []), data.get("tickets", [])
            if parts == ["contacts"]:
                if "phone" in q:
                    return self.send_json(200, [c for c in contacts if q["phone"] in c["phones"]])
                if "account" in q:
                    return self.send_json(200, [c for c in contacts if c.get("account") == q["account"]])
                return self.send_json(400, {"error": "phone or account"})
            if len(parts) == 2 and parts[0] == "contacts":
                found = [c for c in contacts if c["id"] == parts[1]]
                return self.send_json(200, found[0]) if found else self.send_json(404, {"error": "no such contact"})
            if len(parts) == 3 and parts[0] == "contacts" and parts[2] == "tickets":
                mine = [t for t in tickets if t.get("contact_id") == parts[1]]
                if q.get("status") == "open":
                    mine = [t for t in mine if t["status"] in ("open", "pending")]
                return self.send_json(200, mine)
            if len(parts) == 3 and parts[0] == "contacts" and parts[2] == "interactions":
                calls = sorted(data.get("interactions", {}).get(parts[1], []),
                               key=lambda i: -i["at_ms"])
                return self.send_json(200, calls[:int(q.get("limit") or 5)])
            if len(parts) == 2 and parts[0] == "tickets":
                found = [t for t in tickets if t["number"] in (parts[1], "T-" + parts[1])]
                return self.send_json(200, found[0]) if found else self.send_json(404, {"error": "no such ticket"})
            self.send_json(404, {"error": "no such endpoint"})

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            body = self.read_body()
            if url.path == "/control":
                try:
                    state.control(json.loads(body or b"{}"))
                except (ValueError, TypeError, AttributeError) as e:
                    return self.send_json(400, {"error": str(e)})
                return self.send_json(200, state.snapshot())
            if url.path != "/interactions":
                return self.send_json(404, {"error": "no such endpoint"})
            if not self.gate(url.path):
                return
            key = self.headers.get("Idempotency-Key")
            if not key:
                return self.send_json(400, {"error": "Idempotency-Key missing"})
            try:
                outcome = json.loads(body)
            except ValueError:
                return self.send_json(400, {"error": "not JSON"})
            with state.lock:
                state.posts[key] = state.posts.get(key, 0) + 1
                known = key in state.stored
                state.stored.setdefault(key, outcome)
                fail = state.fail_posts > 0
                if fail:
                    state.fail_posts -= 1
                state.save()
            if fail:
                return self.send_json(503, {"error": "told to fail"})
            self.send_json(200 if known else 201, {"id": key})

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, state):
        self.stopped = False
        self._conns = set()
        self._conns_lock = threading.Lock()
        super().__init__(addr, make_handler(state, self))

    def track(self, conn, add):
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def cut_connections(self):
        self.stopped = True
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeCrm:
    """The fake CRM in a background thread; see the module docstring."""

    def __init__(self, data=None, port=0, host="127.0.0.1", token=None, state_file=None):
        self.host, self.port = host, port
        self.state = State(data, token, state_file)
        self._server = None
        self._thread = None

    def start(self):
        self._server = _Server((self.host, self.port), self.state)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop listening and cut every open connection: requests are refused from now on."""
        if self._server:
            self._server.cut_connections()
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def restart(self):
        self.stop()
        return self.start()

    @property
    def running(self):
        return self._server is not None

    @property
    def base_url(self):
        return f"http://{self.host}:{self.port}"

    def set(self, **changes):
        """hang=bool, fail_posts=n, delay_ms=n, reset=True, data={...} (as POST /control)."""
        self.state.control(changes)

    @property
    def posts(self):
        return self.state.snapshot()["posts"]

    @property
    def stored(self):
        return self.state.snapshot()["stored"]

    @property
    def requests(self):
        return self.state.snapshot()["requests"]

    def __enter__(self):
        return self.start() if not self.running else self

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--data", help="JSON file {contacts, tickets, interactions} (default: sample)")
    p.add_argument("--token", help="require Authorization: Bearer TOKEN")
    p.add_argument("--state", help="JSON file keeping posts/stored across restarts")
    a = p.parse_args(argv)
    data = None
    if a.data:
        with open(a.data) as f:
            data = json.load(f)
    crm = FakeCrm(data, a.port, a.host, a.token, a.state).start()
    print(f"listening on {crm.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        crm.stop()


if __name__ == "__main__":
    sys.exit(main())
