"""A PJSIP caller in a process of its own, for tests that need more simultaneous calls than one
pjsua2 endpoint allows (this wheel is built with PJSUA_MAX_CALLS = 4). Driven over stdin/stdout
with one JSON object per line:

  {"op": "call", "uri": ..., "n": 4, "play": wav}  -> {"cids": [...]} once all are answered
  {"op": "dtmf", "digits": "3"}                     -> {"ok": true} (sent on every call)
  {"op": "states"}                                  -> {"states": [...]}
  {"op": "hangup"}                                  -> {"states": [...]} once all are down
"""
import json
import os
import queue
import sys
import threading
import time

from sipua import Endpoint


def main():
    # Replies go to the real stdout; PJSIP's own prints go to stderr.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    ep = Endpoint(log_level=0)
    caller = ep.caller(sys.argv[1] if len(sys.argv) > 1 else "sip:+447700900400@127.0.0.1")
    calls = []
    commands = queue.Queue()

    def read():
        for line in sys.stdin:
            commands.put(json.loads(line))
        commands.put({"op": "quit"})

    threading.Thread(target=read, daemon=True).start()

    def reply(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    while True:
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            ep.pump(0.01)
            continue
        op = cmd["op"]
        if op == "call":
            new = [caller.call(cmd["uri"], play=cmd.get("play")) for _ in range(cmd.get("n", 1))]
            calls.extend(new)
            try:
                ep.wait(lambda: all(c.state == "CONFIRMED" and c.media_active for c in new), timeout=20,
                        what="calls answered")
                reply({"cids": [c.cid for c in new]})
            except AssertionError as e:
                reply({"error": str(e), "states": [c.state for c in new]})
        elif op == "dtmf":
            for c in calls:
                c.dtmf(cmd["digits"])
            ep.pump(0.05)
            reply({"ok": True})
        elif op == "states":
            reply({"states": [c.state for c in calls]})
        elif op == "hangup":
            for c in calls:
                if c.state != "DISCONNECTED":
                    c.hangup()
            try:
                ep.wait(lambda: all(c.state == "DISCONNECTED" for c in calls), timeout=10)
            except AssertionError:
                pass
            reply({"states": [c.state for c in calls]})
        elif op == "quit":
            break
    ep.close()
    out.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
