"""A client for the agent socket (`/ws/agent`) built on the `websockets` library: logs in over
HTTP, connects with the session cookie, and collects the server's messages on a thread so the
test's main thread can keep pumping PJSIP."""
import json
import threading
import time
import urllib.request

from websockets.sync.client import connect


def login(server, user, password):
    """The session cookie (`name=value`) for a user, or raise."""
    status, body, headers = server.http(
        "/api/login", data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    assert status == 200, body
    return headers["set-cookie"].split(";")[0]


class AgentSocket:
    def __init__(self, server, cookie, origin=None):
        headers = {"Cookie": cookie}
        self.ws = connect(f"ws://127.0.0.1:{server.http_port}/ws/agent",
                          additional_headers=headers, origin=origin, open_timeout=5)
        self.messages = []
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for text in self.ws:
                with self.lock:
                    self.messages.append(json.loads(text))
        except Exception:
            pass
        self.closed = True

    def send(self, **msg):
        self.ws.send(json.dumps(msg))

    def of(self, kind):
        with self.lock:
            return [m for m in self.messages if m.get("type") == kind]

    def wait(self, kind, pump=None, timeout=20.0, where=lambda m: True):
        """The first message of `kind` matching `where`; `pump(seconds)` keeps PJSIP running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.of(kind) if where(m)]
            if found:
                return found[0]
            if pump:
                pump(0.05)
            else:
                time.sleep(0.05)
        raise AssertionError(f"no {kind!r} message in {timeout}s; got {self.messages}")

    def close(self):
        self.ws.close()


def get(server, path, cookie):
    return server.http(path, headers={"Cookie": cookie})
