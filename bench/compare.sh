#!/usr/bin/env bash
# compare.sh: the same scenarios against edgegw and mosquitto on loopback,
# in interleaved pairs (the order alternates each round), then the ratio
# edgegw/mosquitto per figure from `edgegw bench --ratio`.
#
#   bench/compare.sh [ROUNDS]            (default 2 rounds)
#
# Environment: OUT (result folder, default a temp dir), EDGEGW_BIN (a built
# edgegw; default: go build from this repository), MOSQUITTO (default
# `mosquitto` on PATH), SCALE (multiplies clients and rates, default 1),
# DURATION (per run, default 10s). Everything listens on 127.0.0.1 only and
# every run is bounded by --duration; both brokers are stopped on exit.
set -euo pipefail

ROUNDS=${1:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d /tmp/edgegw-compare.XXXXXX)}
DURATION=${DURATION:-10s}
SCALE=${SCALE:-1}
MOSQUITTO=${MOSQUITTO:-mosquitto}
mkdir -p "$OUT"

if ! command -v "$MOSQUITTO" >/dev/null 2>&1 && [ ! -x "$MOSQUITTO" ]; then
	echo "compare.sh: mosquitto not installed (apt-get install mosquitto, or set MOSQUITTO=/path)" >&2
	exit 1
fi
BIN=${EDGEGW_BIN:-}
if [ -z "$BIN" ]; then
	BIN="$OUT/edgegw"
	(cd "$ROOT" && go build -o "$BIN" .)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
GW_PORT=$(free_port)
MQ_PORT=$(free_port)
HTTP_PORT=$(free_port)
cat >"$OUT/edgegw.toml" <<TOML
[listeners]
tcp = "127.0.0.1:$GW_PORT"
ws = ""
[http]
addr = "127.0.0.1:$HTTP_PORT"
[log]
level = "warn"
TOML

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "compare.sh: nothing listens on 127.0.0.1:$1 (see $OUT/*.log)" >&2
	exit 1
}

# Each run gets a freshly started broker, so that memory figures (RSS per
# connection) and queues start from the same state for both.
start_broker() { # name -> sets BPID, BPORT
	if [ "$1" = edgegw ]; then
		"$BIN" run -config "$OUT/edgegw.toml" >>"$OUT/edgegw.log" 2>&1 &
		BPID=$!
		BPORT=$GW_PORT
	else
		"$MOSQUITTO" -p "$MQ_PORT" >>"$OUT/mosquitto.log" 2>&1 &
		BPID=$!
		BPORT=$MQ_PORT
	fi
	PIDS+=("$BPID")
	wait_port "$BPORT"
}
stop_broker() {
	kill "$BPID" 2>/dev/null || true
	wait "$BPID" 2>/dev/null || true
}

s() { echo $(( $1 * SCALE )); }
# name|flags
SCENARIOS=(
	"conn|--scenario conn --clients $(s 5000) --connect-rate $(s 2000)"
	"fanin-q0|--scenario fanin --publishers $(s 100) --subscribers 1 --total-rate $(s 20000) --qos 0"
	"fanin-q1|--scenario fanin --publishers $(s 100) --subscribers 1 --total-rate $(s 20000) --qos 1"
	"fanout-q0|--scenario fanout --publishers 1 --subscribers $(s 1000) --rate 20 --qos 0"
	"p2p-q1|--scenario p2p --clients $(s 1000) --total-rate $(s 20000) --qos 1"
	"storm|--scenario storm --clients $(s 5000) --connect-rate $(s 5000) --storm-at 3s"
	"shared-q1|--scenario shared --publishers $(s 50) --subscribers 10 --groups 2 --total-rate $(s 10000) --qos 1 --mqtt 5"
)

run_one() { # broker-name name flags round
	local json="$OUT/$2-$1-r$4.json"
	start_broker "$1"
	# shellcheck disable=SC2086
	if ! "$BIN" bench --broker "127.0.0.1:$BPORT" --pid "$BPID" --duration "$DURATION" --json "$json" $3 >"$OUT/$2-$1-r$4.txt" 2>&1; then
		echo "  $1 $2: $(tail -1 "$OUT/$2-$1-r$4.txt")" >&2
	fi
	stop_broker
}

for round in $(seq "$ROUNDS"); do
	for sc in "${SCENARIOS[@]}"; do
		name=${sc%%|*}
		flags=${sc#*|}
		if (( round % 2 )); then
			run_one edgegw "$name" "$flags" "$round"
			run_one mosquitto "$name" "$flags" "$round"
		else
			run_one mosquitto "$name" "$flags" "$round"
			run_one edgegw "$name" "$flags" "$round"
		fi
		echo "== $name round $round (A = mosquitto, B = edgegw; B/A > 1 means edgegw is higher)"
		"$BIN" bench --ratio "$OUT/$name-mosquitto-r$round.json,$OUT/$name-edgegw-r$round.json" || true
	done
done
echo "results in $OUT"
