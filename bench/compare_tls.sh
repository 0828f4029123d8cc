#!/usr/bin/env bash
# compare_tls.sh: gateway CPU and memory per TLS client, edgegw against
# mosquitto with a TLS listener, on loopback, in interleaved rounds; then
# fan-out and p2p over TLS next to plain TCP, edgegw and mosquitto. For the
# connects edgegw runs twice per round: with its default key exchange groups (the hybrid
# post-quantum X25519MLKEM768 first, which mosquitto 2.0 on OpenSSL 3.0 does
# not offer) and with listeners.tls_key_exchange = ["X25519"], the group
# mosquitto negotiates with the same Go clients: the like-for-like figure.
#
#   bench/compare_tls.sh [ROUNDS]        (default 2 rounds)
#
# Environment: OUT, EDGEGW_BIN, MOSQUITTO, CLIENTS (default 4000), DURATION
# (default 10s) as in compare.sh. One ECDSA P-256 certificate made with
# openssl for all three. Loopback only; every run is bounded by --duration.
set -euo pipefail

ROUNDS=${1:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d /tmp/edgegw-compare-tls.XXXXXX)}
DURATION=${DURATION:-10s}
CLIENTS=${CLIENTS:-4000}
MOSQUITTO=${MOSQUITTO:-mosquitto}
mkdir -p "$OUT"
for tool in "$MOSQUITTO" openssl; do
	if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
		echo "compare_tls.sh: $tool not installed" >&2
		exit 1
	fi
done
BIN=${EDGEGW_BIN:-}
if [ -z "$BIN" ]; then
	BIN="$OUT/edgegw"
	(cd "$ROOT" && go build -o "$BIN" .)
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
# mosquitto started as root drops to its own user: a throwaway key it can read.
chmod 0755 "$OUT"
chmod 0644 "$OUT/key.pem"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
TCP_PORT=$(free_port)
HTTP_PORT=$(free_port)
gwconf() { # file groups
	cat >"$1" <<TOML
[listeners]
tcp = "127.0.0.1:$TCP_PORT"
ws = ""
tls = "127.0.0.1:$PORT"
tls_cert = "$OUT/cert.pem"
tls_key = "$OUT/key.pem"
tls_key_exchange = $2
[http]
addr = "127.0.0.1:$HTTP_PORT"
[log]
level = "warn"
TOML
}
gwconf "$OUT/edgegw.toml" '["X25519MLKEM768", "X25519", "P-256"]'
gwconf "$OUT/edgegw-x25519.toml" '["X25519"]'
cat >"$OUT/mosquitto.conf" <<CONF
listener $TCP_PORT 127.0.0.1
listener $PORT 127.0.0.1
certfile $OUT/cert.pem
keyfile $OUT/key.pem
allow_anonymous true
max_connections -1
CONF

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "compare_tls.sh: nothing listens on 127.0.0.1:$PORT (see $OUT/*.log)" >&2
	exit 1
}
run_one() { # broker scenario transport round flags...
	local b=$1 name=$2 tr=$3 round=$4
	shift 4
	case $b in
	edgegw) "$BIN" run -config "$OUT/edgegw.toml" >>"$OUT/edgegw.log" 2>&1 & ;;
	edgegw-x25519) "$BIN" run -config "$OUT/edgegw-x25519.toml" >>"$OUT/edgegw.log" 2>&1 & ;;
	mosquitto) "$MOSQUITTO" -c "$OUT/mosquitto.conf" >>"$OUT/mosquitto.log" 2>&1 & ;;
	esac
	local pid=$!
	PIDS+=("$pid")
	wait_port
	local port=$PORT tls=(--transport tls --tls-ca "$OUT/cert.pem")
	if [ "$tr" = tcp ]; then port=$TCP_PORT tls=(); fi
	local f="$OUT/$name-$tr-$b-r$round"
	if ! "$BIN" bench --broker "127.0.0.1:$port" --pid "$pid" --duration "$DURATION" "${tls[@]}" \
		--json "$f.json" "$@" >"$f.txt" 2>&1; then
		echo "  $b $name $tr: $(tail -1 "$f.txt")" >&2
	fi
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
ratio() { # scenario transport-or-broker-A B round
	echo "== $1 round $4: A = $2, B = $3 (B/A > 1 means B is higher)"
	"$BIN" bench --ratio "$OUT/$1-$2-r$4.json,$OUT/$1-$3-r$4.json" || true
}
FANOUT=(--scenario fanout --publishers 1 --subscribers 1000 --rate 20 --qos 0)
P2P=(--scenario p2p --clients 1000 --total-rate 20000 --qos 1)
for round in $(seq "$ROUNDS"); do
	order=(edgegw edgegw-x25519 mosquitto)
	if (( round % 2 == 0 )); then order=(mosquitto edgegw-x25519 edgegw); fi
	for b in "${order[@]}"; do run_one "$b" conn tls "$round" --scenario conn --clients "$CLIENTS"; done
	for b in edgegw edgegw-x25519; do ratio conn tls-mosquitto "tls-$b" "$round"; done
	for tr in tcp tls; do
		for b in edgegw mosquitto; do
			run_one "$b" fanout "$tr" "$round" "${FANOUT[@]}"
			run_one "$b" p2p "$tr" "$round" "${P2P[@]}"
		done
	done
	for sc in fanout p2p; do
		ratio "$sc" tcp-edgegw tls-edgegw "$round"
		ratio "$sc" tls-mosquitto tls-edgegw "$round"
	done
done
echo "results in $OUT"
