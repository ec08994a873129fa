#!/usr/bin/env python3
"""Wallboard fan-out client for benches/dashboard-fanout.sh: logs in as a supervisor, opens N
/ws/supervisor sockets, starts the load command once they all have a first snapshot, and for
every snapshot that carries new events records

    oldest = receive time - time of the oldest event folded since the previous snapshot
    newest = receive time - time of the newest one

(event times are the server's wall clock at the moment the event was recorded; client and
server share the machine's clock). `oldest` is the update latency of the event that waited
longest for a snapshot: the figure the p99 < 1 s target is about. Prints a JSON summary."""
import argparse
import asyncio
import json
import shlex
import statistics
import subprocess
import time
import urllib.request

from websockets.asyncio.client import connect


def login(port, user, password):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/login",
        data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["set-cookie"].split(";")[0]


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def main(a):
    cookie = login(a.port, a.user, a.password)
    oldest, newest, per_socket = [], [], [0] * a.sockets
    ready = [asyncio.Event() for _ in range(a.sockets)]
    measuring = asyncio.Event()
    stop = asyncio.Event()
    sizes = []

    async def client(i):
        async with connect(f"ws://127.0.0.1:{a.port}/ws/supervisor",
                           additional_headers={"Cookie": cookie}, max_size=None,
                           open_timeout=30, ping_interval=None) as ws:
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except asyncio.TimeoutError:
                    continue
                now = time.time() * 1000
                m = json.loads(text)
                if m.get("type") != "snapshot":
                    continue
                ready[i].set()
                if not measuring.is_set():
                    continue
                per_socket[i] += 1
                ev = m.get("events") or {}
                if ev.get("count"):
                    oldest.append(now - ev["first_at_ms"])
                    newest.append(now - ev["last_at_ms"])
                if i == 0:
                    sizes.append(len(text))

    tasks = [asyncio.create_task(client(i)) for i in range(a.sockets)]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), timeout=60)
    print(f"fanout: {a.sockets} sockets connected, each has a snapshot; starting the load", flush=True)
    measuring.set()
    t0 = time.monotonic()
    load = await asyncio.create_subprocess_exec(*shlex.split(a.load), stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT)
    out, _ = await load.communicate()
    secs = time.monotonic() - t0
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    r = {
        "sockets": a.sockets,
        "seconds": round(secs, 1),
        "snapshots": sum(per_socket),
        "snapshots_per_socket_per_s": round(statistics.mean(per_socket) / secs, 2),
        "min_snapshots_per_socket": min(per_socket),
        "snapshot_bytes_p50": pct(sizes, 50),
        "oldest_event_ms": {"p50": pct(oldest, 50), "p99": pct(oldest, 99), "max": max(oldest, default=None)},
        "newest_event_ms": {"p50": pct(newest, 50), "p99": pct(newest, 99), "max": max(newest, default=None)},
        "samples": len(oldest),
        "load_exit": load.returncode,
        "load_output": out.decode(errors="replace")[-3000:],
    }
    for k in ("oldest_event_ms", "newest_event_ms"):
        r[k] = {x: (round(v, 1) if v is not None else None) for x, v in r[k].items()}
    print(json.dumps(r, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="super1")
    p.add_argument("--password", default="super1-pw")
    p.add_argument("--sockets", type=int, default=100)
    p.add_argument("--load", required=True, help="the load command line, run once sockets are up")
    p.add_argument("--json")
    asyncio.run(main(p.parse_args()))
