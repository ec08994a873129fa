#!/usr/bin/env bash
# Stepped SIP call load (INVITE → 100/180/200 → ACK → BYE → 200 over UDP) against helpline
# (release build, SQLite event store on) and, in the same run, against the reference:
# Kamailio as a transaction-stateful UAS (deploy/kamailio/bench-uas.cfg). Reports each one's
# highest rate with zero failed calls and its CPU µs per call, the ratio, that helpline stored
# every event (none dropped), and N concurrent dialogs held on helpline's test number.
#
# Usage: benches/sip-load.sh
# Environment (defaults in brackets):
#   STEP=START:STEP:MAX [2000:2000:40000]  STEP_SECS [20]  HOLD seconds [0]
#   SOCKETS [4]  KAMAILIO_PORT [5070]  HELPLINE_PORT [5080]  NUMBER [+442079460999]
#   CONCURRENT dialogs to hold on helpline [10000]
#   OUT      directory for JSON reports and logs [target/bench]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STEP=${STEP:-2000:2000:40000}
# An overloaded server can work off a short burst within timer B (32 s) through
# retransmissions; steps of 20 s make sustained overload show as failed calls, and the
# report also gives the highest rate with no retransmission at all ("clean").
STEP_SECS=${STEP_SECS:-20}
HOLD=${HOLD:-0}
SOCKETS=${SOCKETS:-4}
KAMAILIO_PORT=${KAMAILIO_PORT:-5070}
NUMBER=${NUMBER:-+442079460999}
HELPLINE_PORT=${HELPLINE_PORT:-5080}
HELPLINE_HTTP_PORT=${HELPLINE_HTTP_PORT:-8089}
CONCURRENT=${CONCURRENT:-10000}
HELPLINE=$ROOT/target/release/helpline
OUT=${OUT:-$ROOT/target/bench}
mkdir -p "$OUT"

[ -n "${PREBUILT:-}" ] || cargo build --release --bin helpline
if ! command -v kamailio >/dev/null; then
    apt-get install -y kamailio
fi

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# wait_udp PORT: until something answers an OPTIONS on 127.0.0.1:PORT (10 s at most).
wait_udp() {
    python3 - "$1" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
msg = ("OPTIONS sip:ping@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKping;rport\r\n"
       "From: <sip:ping@127.0.0.1>;tag=p\r\nTo: <sip:ping@127.0.0.1>\r\nCall-ID: ping\r\n"
       "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % port).encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
deadline = time.time() + 10
while time.time() < deadline:
    try:
        s.sendto(msg, ("127.0.0.1", port))
        if s.recv(65535).startswith(b"SIP/2.0 "):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit("nothing answers OPTIONS on 127.0.0.1:%d" % port)
EOF
}

# bench_target NAME PID PORT: runs the stepped load against 127.0.0.1:PORT, measuring
# the CPU of PID (and its child processes); writes $OUT/NAME.json and .txt.
bench_target() {
    local name=$1 pid=$2 port=$3
    echo "== $name (pid $pid, udp 127.0.0.1:$port): steps $STEP, $STEP_SECS s each, hold $HOLD s"
    "$HELPLINE" loadgen --target "127.0.0.1:$port" --number "$NUMBER" --sockets "$SOCKETS" \
        --step "$STEP" --step-secs "$STEP_SECS" --hold "$HOLD" --server-pid "$pid" \
        --json-file "$OUT/$name.json" | tee "$OUT/$name.txt"
}

# summary NAME: "rate cpu clean_rate clean_cpu" from $OUT/NAME.json: the highest rate
# with zero failed calls and the server's CPU µs per call there, then the same for the
# highest clean (no retransmission) rate. 0 where no step qualified.
summary() {
    python3 - "$OUT/$1.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
v = [r.get(k) or 0 for k in ("best_rate", "best_server_cpu_us_per_call",
                             "best_clean_rate", "best_clean_server_cpu_us_per_call")]
print("%.0f %.1f %.0f %.1f" % tuple(v))
EOF
}

# --- Kamailio, the reference ---
kamailio -f deploy/kamailio/bench-uas.cfg -DD -E -x tlsf -X tlsf -m 2048 -M 32 \
    -A "BENCH_PORT=$KAMAILIO_PORT" >"$OUT/kamailio.log" 2>&1 &
KAM_PID=$!
PIDS+=("$KAM_PID")
wait_udp "$KAMAILIO_PORT" || { cat "$OUT/kamailio.log"; exit 1; }
bench_target kamailio "$KAM_PID" "$KAMAILIO_PORT"
kill "$KAM_PID"
wait "$KAM_PID" 2>/dev/null || true
read -r KAM_RATE KAM_CPU KAM_CLEAN KAM_CLEAN_CPU < <(summary kamailio)

# --- helpline, same load, event store on (SQLite) ---
H=$OUT/helpline-run
rm -rf "$H"; mkdir -p "$H"
cat >"$H/helpline.toml" <<CFG
[sip]
udp = "127.0.0.1:$HELPLINE_PORT"
tcp = "127.0.0.1:$HELPLINE_PORT"
support_numbers = ["$NUMBER"]
transfer_allow = ["+4420794609XX"]
max_calls = 100000
[http]
listen = "127.0.0.1:$HELPLINE_HTTP_PORT"
[database]
url = "sqlite://$H/helpline.db"
spill_dir = "$H/spill"
queue_bound = 1000000
[paths]
dialplans = "$ROOT/dialplans"
prompts = "$ROOT/dialplans/prompts"
queues = "$ROOT/config/queues.toml"
agents = "$ROOT/config/agents.toml"
users = "$ROOT/config/users.toml"
CFG
"$HELPLINE" --config "$H/helpline.toml" serve >"$OUT/helpline.log" 2>&1 &
HL_PID=$!
PIDS+=("$HL_PID")
wait_udp "$HELPLINE_PORT" || { cat "$OUT/helpline.log"; exit 1; }
bench_target helpline "$HL_PID" "$HELPLINE_PORT"
read -r HL_RATE HL_CPU HL_CLEAN HL_CLEAN_CPU < <(summary helpline)

echo "== helpline: $CONCURRENT concurrent dialogs held 10 s on $NUMBER (no media)"
"$HELPLINE" loadgen --target "127.0.0.1:$HELPLINE_PORT" --number "$NUMBER" --sockets "$SOCKETS" \
    --concurrent "$CONCURRENT" --rate 2000 --hold 10 --server-pid "$HL_PID" \
    --json-file "$OUT/helpline-concurrent.json" | tee "$OUT/helpline-concurrent.txt"

# Let the event writer catch up (nothing queued, nothing spilled), stop helpline, count.
python3 - "$HELPLINE_HTTP_PORT" <<'EOF'
import json, sys, time, urllib.request
deadline = time.time() + 600
while time.time() < deadline:
    h = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz"))
    if h["store_queue"] == 0:
        break
    time.sleep(1)
print(f"event writer caught up: {h}")
EOF
kill -TERM "$HL_PID"; wait "$HL_PID" 2>/dev/null || true
python3 - "$H/helpline.db" "$OUT/helpline.json" "$OUT/helpline-concurrent.json" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = lambda sql: db.execute(sql).fetchone()[0]
arrived = q("select count(*) from events where kind = 'call.arrived'")
ended = q("select count(*) from events where kind = 'call.ended'")
dup = q("select count(*) - count(distinct id) from events")
open_calls = q("select count(*) from calls where ended_ms is null")
completed = sum(s["completed"] for s in json.load(open(sys.argv[2]))["steps"])
c = json.load(open(sys.argv[3])).get("concurrent") or {}
print(f"event store: {arrived} calls arrived, {ended} ended, {dup} duplicate ids, {open_calls} calls without an end;"
      f" loadgen completed {completed} stepped calls and held {c.get('held', 0)} concurrent ones")
EOF

echo
echo "machine: $(nproc) cores (shared by the load generator and the server), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kamailio: zero failed calls up to $KAM_RATE calls/s ($KAM_CPU µs CPU/call);" \
    "no retransmission up to $KAM_CLEAN calls/s ($KAM_CLEAN_CPU µs CPU/call)"
echo "helpline: zero failed calls up to $HL_RATE calls/s ($HL_CPU µs CPU/call);" \
    "no retransmission up to $HL_CLEAN calls/s ($HL_CLEAN_CPU µs CPU/call)"
python3 -c 'import sys; k,h,kc,hc = map(float, sys.argv[1:]); print("helpline/kamailio: rate %.2f, CPU per call %.2f" % (h/k if k else 0, hc/kc if kc else 0))' \
    "$KAM_RATE" "$HL_RATE" "$KAM_CPU" "$HL_CPU"
