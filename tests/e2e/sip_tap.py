"""A one-hop SIP outbound proxy on UDP that notes every message through it, so a test can time
what PJSIP does not show (PJSIP calls a call DISCONNECTED as soon as it sends its BYE, not when
the 200 comes back).

A PJSIP account made with `proxy=tap.uri` sends every request through the tap (with a Route
header naming it, which the tap takes off as the route's target does, RFC 3261 §16.4); the
server answers the tap (the source, RFC 3581 rport) and the tap hands the answer back. Requests
the server sends in the dialog go straight to the caller's Contact and are not seen.

    tap = SipTap(server.sip_port)
    acc = Account(ua, "sip:+447700900123@127.0.0.1", proxy=tap.uri)
    ...
    tap.seen        # [(time.monotonic(), "up"|"down", first line, Call-ID, CSeq)]
"""
import re
import select
import socket
import threading
import time


def _header(text, name):
    m = re.search(rf"^(?:{name}):[ \t]*(.*?)\r?$", text, re.I | re.M)
    return m.group(1).strip() if m else None


class SipTap:
    def __init__(self, server_port, host="127.0.0.1"):
        self.server = (host, server_port)
        # One socket the caller sends to, one the server sees as the caller.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.upstream.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.uri = f"sip:{host}:{self.port};lr"
        self.client = None
        self.seen = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.closed:
            try:
                ready, _, _ = select.select([self.sock, self.upstream], [], [], 0.2)
                if not ready:
                    continue
                src = ready[0]
                data, addr = src.recvfrom(65536)
            except (OSError, ValueError):
                return
            if len(data) < 8:          # keep-alive CRLFs
                continue
            text = data.decode("utf-8", "replace")
            if src is self.upstream:
                direction, out, dest = "down", self.sock, self.client
            elif addr == self.server and self.client not in (None, addr):
                # A request of the server's routed through us by our Record-Route.
                direction, out, dest = "down", self.sock, self.client
                data = self._pop_route(data)
            else:
                self.client = addr
                direction, out, dest = "up", self.upstream, self.server
                data = self._record_route(self._pop_route(data))
            with self.lock:
                self.seen.append((time.monotonic(), direction, text.split("\r\n", 1)[0],
                                  _header(text, "Call-ID|i"), _header(text, "CSeq")))
            if dest:
                try:
                    out.sendto(data, dest)
                except OSError:
                    pass

    def _pop_route(self, data):
        """Take the Route header naming this tap off a request (the route's target does)."""
        head, sep, body = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        for i, line in enumerate(lines):
            if line.lower().startswith((b"route:", b"route :")) and \
                    f":{self.port}".encode() in line:
                value = line.split(b":", 1)[1]
                rest = value.split(b",", 1)
                if len(rest) == 2:
                    lines[i] = b"Route:" + rest[1]
                else:
                    del lines[i]
                break
        return b"\r\n".join(lines) + sep + body

    def _record_route(self, data):
        """Stay on the route of the dialog a new INVITE makes (else the caller's BYE would go
        straight to the server's Contact)."""
        if not data.startswith(b"INVITE ") or re.search(rb"^(To|t):[^\r]*;tag=", data, re.I | re.M):
            return data
        first, rest = data.split(b"\r\n", 1)
        rr = f"Record-Route: <sip:{self.sock.getsockname()[0]}:{self.port};lr>".encode()
        return first + b"\r\n" + rr + b"\r\n" + rest

    def messages(self, call_id=None):
        with self.lock:
            return [m for m in self.seen if call_id is None or m[3] == call_id]

    def first(self, direction, start, call_id=None, cseq_method=None):
        """Time of the first message going `direction` whose first line starts with `start`
        (a method, or "SIP/2.0 200"), of that call and CSeq method; None if none yet."""
        for t, d, line, cid, cseq in self.messages(call_id):
            if d == direction and line.startswith(start) and \
                    (cseq_method is None or (cseq or "").endswith(" " + cseq_method)):
                return t
        return None

    def close(self):
        self.closed = True
        self.sock.close()
        self.upstream.close()
