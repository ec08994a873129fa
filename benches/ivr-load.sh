#!/usr/bin/env bash
# Concurrent callers inside the IVR (issue 5, must-show 4): `helpline loadgen` places CALLS calls
# to the bench dialplan (benches/ivr-load/bench.toml: two menus with long prompts), holds them
# HOLD seconds and hangs up. Every simulated caller sends 20 ms RTP frames, and from 3 s after
# the answer presses a key every 4 s as RFC 4733 events; each key moves it to the other menu.
# helpline (release build, SQLite event store) plays the prompts on its paced media workers.
#
# Reported, for the window in which all CALLS sessions were up (sampled from /metrics each
# second): p50/p99/max of the prompt packets' send-interval deviation from 20 ms
# (helpline_media_send_jitter_seconds, the media engine's own send timestamps), the server's
# CPU (from /proc), and the machine's load; for the whole run: keys sent by the load generator
# vs keys the server recognised (RFC 4733 digits counted by the media engine, and `ivr.step`
# choice events stored), RTP the callers sent and received, calls that heard nothing.
#
# Usage: benches/ivr-load.sh
# Environment (defaults in brackets): CALLS [1000]  HOLD seconds [60]  RATE set-up calls/s [100]
#   SOCKETS [4]  PORT [5090]  HTTP_PORT [8090]  OUT [target/bench]  PREBUILT=1 skips the build
#   RT_PRIO [10]: run the server under `chrt -f RT_PRIO` (SCHED_FIFO, as production should give
#   the media workers; needs root or CAP_SYS_NICE); 0 runs it at normal priority
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CALLS=${CALLS:-1000}
HOLD=${HOLD:-60}
RATE=${RATE:-100}
SOCKETS=${SOCKETS:-4}
PORT=${PORT:-5090}
HTTP_PORT=${HTTP_PORT:-8090}
RT_PRIO=${RT_PRIO:-10}
CHRT=()
[ "$RT_PRIO" = 0 ] || CHRT=(chrt -f "$RT_PRIO")
NUMBER=+442079460000
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
HELPLINE=$TARGET_DIR/release/helpline
OUT=${OUT:-$ROOT/target/bench}
H=$OUT/ivr-run
rm -rf "$H"; mkdir -p "$H"

[ -n "${PREBUILT:-}" ] || cargo build --release --bin helpline

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT

cat >"$H/helpline.toml" <<CFG
[sip]
udp = "127.0.0.1:$PORT"
tcp = "127.0.0.1:$PORT"
support_numbers = ["$NUMBER"]
max_calls = 100000
[http]
listen = "127.0.0.1:$HTTP_PORT"
[database]
url = "sqlite://$H/helpline.db"
spill_dir = "$H/spill"
queue_bound = 1000000
[media]
rtp_ports = [20000, 39999]
[paths]
dialplans = "$ROOT/benches/ivr-load"
prompts = "$ROOT/dialplans/prompts"
queues = "$ROOT/config/queues.toml"
agents = "$ROOT/config/agents.toml"
users = "$ROOT/config/users.toml"
CFG
"$HELPLINE" --config "$H/helpline.toml" check
RUST_LOG=${RUST_LOG:-warn} "${CHRT[@]}" "$HELPLINE" --config "$H/helpline.toml" serve >"$OUT/ivr-helpline.log" 2>&1 &
HL_PID=$!
PIDS+=("$HL_PID")
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null && break
    sleep 0.1
done

# Sample /metrics and the server's CPU every second while the load runs.
python3 - "$HTTP_PORT" "$HL_PID" "$OUT/ivr-samples.jsonl" <<'EOF' &
import json, os, re, sys, time, urllib.request
port, pid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tick = os.sysconf("SC_CLK_TCK")
with open(out, "w") as f:
    while True:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            break
        m = {}
        for line in body.splitlines():
            g = re.match(r'^(helpline_media_[a-z_]+)(\{le="([^"]+)"\})? ([0-9.e+-]+)$', line)
            if g:
                key = g.group(1) + (":" + g.group(3) if g.group(3) else "")
                m[key] = float(g.group(4))
        m["t"] = time.time()
        m["cpu_s"] = (int(stat[11]) + int(stat[12])) / tick
        m["loadavg"] = open("/proc/loadavg").read().split()[0]
        f.write(json.dumps(m) + "\n")
        f.flush()
        time.sleep(1)
EOF
SAMPLER=$!
PIDS+=("$SAMPLER")

echo "== $CALLS IVR callers (RTP + RFC 4733 keys 1,2,3 every 4 s) held $HOLD s on helpline (pid $HL_PID, ${CHRT[*]:-normal priority})"
"$HELPLINE" loadgen --target "127.0.0.1:$PORT" --number "$NUMBER" --sockets "$SOCKETS" \
    --concurrent "$CALLS" --rate "$RATE" --hold "$HOLD" --server-pid "$HL_PID" \
    --digits 123 --first-digit 3 --digit-every 4 \
    --json-file "$OUT/ivr-load.json" | tee "$OUT/ivr-load.txt"

# Let the event writer catch up, then stop the sampler and the server.
for _ in $(seq 600); do
    q=$(curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["store_queue"])')
    [ "$q" = 0 ] && break
    sleep 1
done
kill "$SAMPLER" 2>/dev/null || true
kill -TERM "$HL_PID"; wait "$HL_PID" 2>/dev/null || true

python3 - "$CALLS" "$OUT/ivr-samples.jsonl" "$OUT/ivr-load.json" "$H/helpline.db" <<'EOF'
import json, sqlite3, sys
calls = int(sys.argv[1])
samples = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
report = json.load(open(sys.argv[3]))
c = report["concurrent"]
media = c.get("media") or {}
BOUNDS = ["0.00025", "0.0005", "0.001", "0.002", "0.003", "0.004", "0.005", "0.01", "0.02", "0.05", "+Inf"]

def hist(s):
    return [s.get(f"helpline_media_send_jitter_seconds_bucket:{b}", 0) for b in BOUNDS]

def quantile(cum, q):
    total = cum[-1]
    if total == 0:
        return None
    for b, n in zip(BOUNDS, cum):
        if n >= q * total:
            return b
    return "+Inf"

full = [s for s in samples if s.get("helpline_media_active_sessions", 0) >= calls]
if len(full) < 2:
    sys.exit(f"never had {calls} sessions up at once for two samples (max {max((s.get('helpline_media_active_sessions', 0) for s in samples), default=0):.0f})")
a, b = full[0], full[-1]
delta = [y - x for x, y in zip(hist(a), hist(b))]
secs = b["t"] - a["t"]
cpu = (b["cpu_s"] - a["cpu_s"]) / secs * 100
first, last = samples[0], samples[-1]
db = sqlite3.connect(sys.argv[4])
choices = db.execute("select count(*) from events where kind = 'ivr.step' and payload like '%\"step\":\"choice\"%'").fetchone()[0]
dtmf = last.get("helpline_media_dtmf_digits_total", 0) - first.get("helpline_media_dtmf_digits_total", 0)
timeouts = last.get("helpline_media_timeouts_total", 0) - first.get("helpline_media_timeouts_total", 0)
print(f"all {calls} sessions up for {secs:.0f} s: {delta[-1]:.0f} prompt packet intervals measured")
print(f"send jitter (|interval - 20 ms|): p50 <= {quantile(delta, 0.5)} s, p99 <= {quantile(delta, 0.99)} s, p99.9 <= {quantile(delta, 0.999)} s;"
      f" over 5 ms: {delta[-1] - delta[6]:.0f}")
print(f"server CPU in that window: {cpu:.0f}% of one core; load average {a['loadavg']} -> {b['loadavg']}")
print(f"keys: {media.get('digits_sent', 0)} sent complete by the callers, {dtmf:.0f} recognised by the media engine,"
      f" {choices} menu choices stored")
print(f"caller RTP: {media.get('rtp_sent', 0)} sent, {media.get('rtp_received', 0)} received;"
      f" {media.get('calls_without_audio', 0)} of {media.get('calls', 0)} calls heard nothing; media timeouts {timeouts:.0f}")
print(f"calls: {c['established']} established, {c['held']} held to the end, {c['total']['failed']} failed")
EOF
echo "machine: $(nproc) cores shared by the load generator and the server; load average now $(cut -d' ' -f1-3 /proc/loadavg)"
