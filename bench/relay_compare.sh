#!/usr/bin/env bash
# relay_compare.sh: edgegw's relay against a mosquitto bridge as the edge in
# front of one mosquitto upstream, measured with edgegw bench: devices
# publish QoS 1 to the edge, the bench's subscriber sits on the upstream
# (--subscriber-broker), so delivery and latency are end to end; the edge's
# CPU comes from /proc (--pid). Rounds interleave the two edges.
#
#   bench/relay_compare.sh [ROUNDS]        (default 3 rounds)
#
# Environment: EDGEGW_BIN, MOSQUITTO, PUBLISHERS (default 1000), RATE (total
# msgs/s, default 20000), DURATION (default 10s). Loopback only; every run is
# bounded by --duration.
set -euo pipefail

ROUNDS=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d /tmp/edgegw-relay-compare.XXXXXX)
PUBLISHERS=${PUBLISHERS:-1000}
RATE=${RATE:-20000}
DURATION=${DURATION:-10s}
MOSQUITTO=${MOSQUITTO:-mosquitto}
command -v "$MOSQUITTO" >/dev/null 2>&1 || [ -x "$MOSQUITTO" ] || { echo "relay_compare.sh: $MOSQUITTO not installed" >&2; exit 1; }
BIN=${EDGEGW_BIN:-}
if [ -z "$BIN" ]; then
	BIN="$OUT/edgegw"
	(cd "$ROOT" && go build -o "$BIN" .)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port) EDGE=$(free_port) BRIDGE=$(free_port) HTTP=$(free_port)

# The upstream: room for the relay's window (its v5 Receive Maximum) and a
# queue towards the bench's subscriber that does not drop (at mosquitto's
# default of 1,000 it drops for a subscriber that falls behind a burst).
cat >"$OUT/up.conf" <<CONF
listener $UP 127.0.0.1
allow_anonymous true
max_inflight_messages 1000
max_queued_messages 1000000
log_type warning
log_type notice
CONF
cat >"$OUT/bridge.conf" <<CONF
listener $BRIDGE 127.0.0.1
allow_anonymous true
max_inflight_messages 100
max_queued_messages 1000000
connection up
address 127.0.0.1:$UP
topic bench/# out 1
CONF
cat >"$OUT/edge.toml" <<TOML
[listeners]
tcp = "127.0.0.1:$EDGE"
ws = ""
[http]
addr = "127.0.0.1:$HTTP"
[log]
level = "warn"
[[relay.upstream]]
name = "up"
addresses = ["127.0.0.1:$UP"]
client_id = "edge-{n}"
pool = 4
forward = ["bench/#"]
TOML

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for round in $(seq 1 "$ROUNDS"); do
	for edge in edgegw bridge; do
		"$MOSQUITTO" -c "$OUT/up.conf" >"$OUT/up-$round-$edge.log" 2>&1 &
		up=$!
		pids=("$up")
		sleep 0.5
		if [ "$edge" = edgegw ]; then
			"$BIN" run --config "$OUT/edge.toml" >"$OUT/edge-$round.log" 2>&1 &
			e=$! broker=127.0.0.1:$EDGE
		else
			"$MOSQUITTO" -c "$OUT/bridge.conf" >"$OUT/bridge-$round.log" 2>&1 &
			e=$! broker=127.0.0.1:$BRIDGE
		fi
		pids+=("$e")
		sleep 1.5 # the relay's pool or the bridge connects
		echo "== round $round: $edge"
		"$BIN" bench --broker "$broker" --subscriber-broker "127.0.0.1:$UP" --scenario fanin \
			--publishers "$PUBLISHERS" --subscribers 1 --total-rate "$RATE" --qos 1 --duration "$DURATION" \
			--pid "$e" | grep -E '^(messages|delivery|latency|broker)'
		grep -h "dropped" "$OUT/up-$round-$edge.log" || true
		kill "$e" "$up"
		wait "$e" "$up" 2>/dev/null || true
	done
done
echo "logs in $OUT"
