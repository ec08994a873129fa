#!/usr/bin/env bash
# Wallboard fan-out under load: SOCKETS supervisor sockets on /ws/supervisor while RATE calls/s
# of signalling-only SIP calls (helpline loadgen: INVITE → 200 → ACK → BYE, 3 stored events per
# call) flow for SECS seconds. Measures update latency (event recorded → snapshot received) on
# every socket; see benches/dashboard_fanout.py for the definitions. Release build, SQLite store.
#
# Usage: benches/dashboard-fanout.sh
# Environment (defaults in brackets): SOCKETS [100]  RATE [500]  SECS [30]  HOLD [0]
#   HELPLINE binary [target/release/helpline; built unless PREBUILT=1]  OUT [target/bench]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SOCKETS=${SOCKETS:-100}
RATE=${RATE:-500}
SECS=${SECS:-30}
HOLD=${HOLD:-0}
OUT=${OUT:-$ROOT/target/bench}
HELPLINE=${HELPLINE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/helpline}
mkdir -p "$OUT"
[ -n "${PREBUILT:-}" ] || cargo build --release --bin helpline
python3 -c 'import websockets.asyncio.client' 2>/dev/null || python3 -m pip install -q websockets

free_port() {
    python3 -c 'import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass'
}

DIR=$(mktemp -d /tmp/helpline-fanout.XXXXXX)
SIP_PORT=$(free_port)
HTTP_PORT=$(free_port)
cat > "$DIR/helpline.toml" <<CFG
[sip]
udp = "127.0.0.1:$SIP_PORT"
tcp = "127.0.0.1:$SIP_PORT"
domain = "helpline.test"
support_numbers = ["+442079460000", "+442079460999"]
transfer_allow = ["+4420794609XX"]
max_calls = 100000
[http]
listen = "127.0.0.1:$HTTP_PORT"
[database]
url = "sqlite://$DIR/helpline.db"
spill_dir = "$DIR/spill"
[media]
rtp_ports = [42000, 43999]
[paths]
dialplans = "$ROOT/dialplans"
prompts = "$ROOT/dialplans/prompts"
queues = "$ROOT/config/queues.toml"
agents = "$ROOT/tests/fixtures/agents.toml"
users = "$ROOT/tests/fixtures/users.toml"
CFG

RUST_LOG=warn "$HELPLINE" --config "$DIR/helpline.toml" serve 2> "$DIR/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
up=
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && { up=1; break; }
    sleep 0.1
done
[ -n "$up" ] || { echo "helpline did not start:"; cat "$DIR/server.log"; exit 1; }

echo "== dashboard fan-out: $SOCKETS sockets, $RATE calls/s for $SECS s (signalling only), server pid $PID"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$ROOT/benches/dashboard_fanout.py" --port "$HTTP_PORT" --sockets "$SOCKETS" \
    --json "$OUT/dashboard-fanout.json" \
    --load "$HELPLINE loadgen --target 127.0.0.1:$SIP_PORT --number +442079460999 --rate $RATE --duration $SECS --hold $HOLD --sockets 2 --server-pid $PID --json-file $OUT/dashboard-fanout-load.json"
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
