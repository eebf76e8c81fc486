#!/usr/bin/env bash
# make demo: build the commands, start portmapd on a loopback port (no root
# needed: an unprivileged port and a unix socket in a temporary directory),
# register the seed table (testdata/seed-registrations.txt) with pmapset, list
# it with rpcinfo -p and -s and with pmapdump, then stop the server.
#
# Environment: GO (default go), BIN (where to build, default bin), DEMO_PORT
# (default 11111).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
BIN=${BIN:-bin}
PORT=${DEMO_PORT:-11111}
# Go's home on the project's machines may not be on PATH.
export PATH="$PATH:/usr/local/go/bin"

echo "# building portmapd, pmapset, pmapdump and rpcinfo into $BIN/"
mkdir -p "$BIN"
"$GO" build -o "$BIN/" ./cmd/portmapd ./cmd/pmapset ./cmd/pmapdump ./cmd/rpcinfo

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmap-demo.XXXXXX")
sock="$tmp/rpcbind.sock"
pid=
stop() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 130' INT TERM

echo "# starting portmapd on 127.0.0.1 port $PORT, socket $sock"
"$BIN/portmapd" --listen 127.0.0.1 --port "$PORT" --socket "$sock" --log-level warn 2>"$tmp/portmapd.log" &
pid=$!

# Wait (at most 10 seconds) until it answers on its socket and its port.
for _ in $(seq 100); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "demo: portmapd did not start:" >&2
		cat "$tmp/portmapd.log" >&2
		exit 1
	fi
	if [ -S "$sock" ] && "$BIN/rpcinfo" --port "$PORT" -p 127.0.0.1 >/dev/null 2>&1; then
		break
	fi
	sleep 0.1
done

run() {
	echo
	echo "\$ $*"
	"$@"
}

run "$BIN/pmapset" --socket "$sock" --file testdata/seed-registrations.txt
run "$BIN/rpcinfo" --port "$PORT" -p 127.0.0.1
run "$BIN/rpcinfo" --port "$PORT" -s 127.0.0.1
run "$BIN/pmapdump" --socket "$sock" -o extended
echo
echo "# stopping portmapd (pid $pid)"
