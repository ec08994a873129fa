#!/usr/bin/env bash
# Media relay benchmark: N bridged calls (2N RTP streams, 20 ms G.711) through helpline's media
# engine and, in the same run, through rtpengine (Debian's, userspace only: no kernel module)
# driven by the same load generator (examples/media_bench: per call an ng `offer` + `answer`,
# then the same phones send and receive RTP). Reports loss, receive inter-arrival deviation and
# the relay's CPU for each, per CALLS value and mix.
#
# Usage: benches/media-rtpengine.sh
# Environment (defaults in brackets):
#   CALLS      "500 1000"     call counts to run
#   SECONDS_   [20]           measured run length per case (warm-up included)
#   MIXES      "relay transcode full"
#                             relay: every call PCMU both sides, nothing recorded;
#                             transcode: half the calls PCMU⇄PCMA (rtpengine: offer with
#                             `codec: { transcode: [PCMA] }`, callee answers PCMA), nothing recorded;
#                             full: the issue's target mix (half transcoding, a tenth recorded),
#                             helpline only (rtpengine's recording is a separate daemon)
#   THREADS    [2]            helpline's media workers = rtpengine's --num-threads
#   NG_PORT    [22222]        rtpengine's listen-ng port (127.0.0.1)
#   CHRT       [""]           e.g. "chrt -f 10" to run both relays and the generator real-time
#   OUT        [target/bench] logs and the summary (media-rtpengine.txt)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CALLS=${CALLS:-"500 1000"}
SECONDS_=${SECONDS_:-20}
MIXES=${MIXES:-"relay transcode full"}
THREADS=${THREADS:-2}
NG_PORT=${NG_PORT:-22222}
CHRT=${CHRT:-}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${OUT:-$ROOT/target/bench}
mkdir -p "$OUT"
BENCH=$TARGET_DIR/release/examples/media_bench

[ -n "${PREBUILT:-}" ] || cargo build --release --example media_bench
if ! command -v rtpengine >/dev/null; then
    # The daemon alone: the kernel module (dkms) and the recording daemon are not needed.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rtpengine-daemon
fi
ulimit -n 65536 2>/dev/null || true

RTPENGINE_PID=
cleanup() {
    if [ -n "$RTPENGINE_PID" ]; then
        kill "$RTPENGINE_PID" 2>/dev/null || true
        wait "$RTPENGINE_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

start_rtpengine() {
    local conf=$OUT/rtpengine.conf
    cat >"$conf" <<CONF
[rtpengine]
table = -1
interface = 127.0.0.1
listen-ng = 127.0.0.1:$NG_PORT
port-min = 40000
port-max = 59999
num-threads = $THREADS
log-level = 4
log-stderr = true
foreground = true
delete-delay = 0
timeout = 3600
silent-timeout = 3600
CONF
    $CHRT rtpengine --config-file="$conf" --config-section=rtpengine >"$OUT/rtpengine.log" 2>&1 &
    RTPENGINE_PID=$!
    # Ready when it answers an ng ping.
    for _ in $(seq 50); do
        if python3 -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(0.2)
s.sendto(b'c1 d7:command4:pinge',('127.0.0.1',$NG_PORT))
sys.exit(0 if b'pong' in s.recv(1000) else 1)" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    echo "rtpengine did not start:" >&2
    cat "$OUT/rtpengine.log" >&2
    exit 1
}

SUMMARY=$OUT/media-rtpengine.txt
{
    echo "media relay benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(rtpengine --version 2>&1 | head -1)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$SUMMARY"

start_rtpengine
for mix in $MIXES; do
    case $mix in
        relay) flags="--transcode 0 --record 0"; relays="helpline rtpengine" ;;
        transcode) flags="--transcode 1 --record 0"; relays="helpline rtpengine" ;;
        full) flags="--transcode 1 --record 1"; relays="helpline" ;;
        *) echo "unknown mix $mix" >&2; exit 2 ;;
    esac
    for n in $CALLS; do
        for relay in $relays; do
            if [ "$relay" = helpline ]; then
                target="--workers $THREADS"
            else
                target="--rtpengine 127.0.0.1:$NG_PORT --rtpengine-pid $RTPENGINE_PID"
            fi
            echo "== $relay, $mix, $n calls" | tee -a "$SUMMARY"
            # shellcheck disable=SC2086
            $CHRT "$BENCH" --calls "$n" --seconds "$SECONDS_" $flags $target 2>&1 \
                | tee "$OUT/media-$relay-$mix-$n.log" \
                | grep -E "frame loss|delivered|inter-arrival|^CPU|user/system|load average" | tee -a "$SUMMARY"
        done
    done
done
echo "summary: $SUMMARY"
