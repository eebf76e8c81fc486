#!/usr/bin/env bash
# The side-by-side comparisons of docs/performance.md (issue #10): portmapd,
# rpcinfo and pmapset against Debian's rpcbind, rpcinfo and a libtirpc
# pmap_set loop, in one invocation, inside private network, mount and pid
# namespaces (port 111 and /run are theirs; nothing leaves the loopback and
# everything started dies with the namespace), the mappers pinned to one CPU
# and every client to another.
#
# Rows light up as bin/portmapd, bin/rpcinfo and bin/pmapset appear (make
# build); until then they say "pending" and the reference is still measured.
# Without root, unshare, taskset or rpcbind it says what it skipped and exits 0.
#
# Knobs (environment): BENCH_ROUNDS (5), BENCH_SECONDS (2s per load run),
# BENCH_RUNS (20 runs per side and round of rpcinfo), BENCH_CLIENTS (16),
# BENCH_SPIN (1: pmapload --spin), BENCH_ONLY (rows whose name contains it),
# BENCH_JSON (file for every measurement), BENCH_SERVER_CPUS and
# BENCH_CLIENT_CPUS (taskset lists; 1 and 0 by default).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

skip() {
	echo "bench: skipped the comparisons with rpcbind: $*" >&2
	exit 0
}

[ "$(id -u)" -eq 0 ] || skip "they need root for private namespaces (unshare)"
for tool in unshare taskset ip go; do
	command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[ -x /usr/sbin/rpcbind ] || skip "Debian's rpcbind is not installed (apt-get install rpcbind)"

ncpu=$(nproc)
server_cpus=${BENCH_SERVER_CPUS:-1}
client_cpus=${BENCH_CLIENT_CPUS:-0}
if [ "$ncpu" -lt 2 ]; then
	echo "bench: one CPU only: the mappers and the clients share it" >&2
	server_cpus=0 client_cpus=0
fi

work=$(mktemp -d /tmp/pmap-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

go build -o "$work/pmapload" ./cmd/pmapload
go build -o "$work/compare" ./bench/compare
loop=
if command -v cc >/dev/null && [ -f /usr/include/tirpc/rpc/rpc.h ]; then
	cc -O2 -I/usr/include/tirpc -o "$work/pmapsetloop" bench/pmapsetloop.c -ltirpc
	loop="$work/pmapsetloop"
fi

# timeout bounds the whole run; --kill-child and the pid namespace end every
# process the harness started, whatever happens to it.
taskset -c "$client_cpus" timeout -k 10 3600 \
	unshare --net --mount --pid --fork --kill-child --mount-proc \
	"$work/compare" -repo "$PWD" -work "$work" -pmapload "$work/pmapload" -pmapsetloop "$loop" \
	-rounds "${BENCH_ROUNDS:-5}" -seconds "${BENCH_SECONDS:-2s}" -runs "${BENCH_RUNS:-20}" \
	-clients "${BENCH_CLIENTS:-16}" -server-cpus "$server_cpus" -spin="${BENCH_SPIN:-0}" \
	-only "${BENCH_ONLY:-}" -json "${BENCH_JSON:-}"
