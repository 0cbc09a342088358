#!/bin/sh
# bench_proxy.sh BUILDDIR — requests/s of one tenant's GET /healthz through the
# managed nginx (upstream keepalive) versus straight to the worker, with wrk on
# loopback. Prints both figures and the ratio; target: nginx >= 60 % of direct.
#
# A throw-away tenantd root is made under /var/tmp and removed at the end; the
# only processes stopped are the tenantd this script started (by pid), which
# stops its worker and its nginx.
#   BENCH_DURATION=10s  BENCH_CONNECTIONS=64  BENCH_THREADS=2  BENCH_ROUNDS=2
#   BENCH_WORKER=echo   use tests/helpers/echoworker instead of tenant-worker
#   BENCH_TEMPLATES=DIR another proxy templates folder (to compare settings)
set -eu
b=$(cd "${1:?usage: bench_proxy.sh BUILDDIR}" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
dur=${BENCH_DURATION:-10s}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
rounds=${BENCH_ROUNDS:-2}
for tool in wrk curl nginx; do
    command -v $tool >/dev/null || { echo "bench_proxy: $tool is not installed"; exit 1; }
done

# Three free loopback ports in a row: worker, admin, proxy.
base=$(/usr/bin/python3 - <<'PY'
import random, socket
for _ in range(200):
    b = random.randint(10000, 31000); ok = []
    try:
        for p in range(b, b + 3):
            s = socket.socket(); s.bind(("127.0.0.1", p)); ok.append(s)
        print(b); break
    except OSError:
        pass
    finally:
        for s in ok: s.close()
PY
)
wport=$base; aport=$((base + 1)); pport=$((base + 2))
root=$(mktemp -d /var/tmp/tenantd-bench.XXXXXX)
chmod 755 "$root"
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        wait "$pid" || true
    fi
    rm -rf "$root"
}
trap cleanup EXIT INT TERM

mkdir -p "$root/tenants.d"
cp "$repo/plans.ini" "$root/plans.ini"
cat >"$root/tenantd.ini" <<INI
[tenantd]
port_range = $wport-$wport
templates = $repo/templates

[admin]
listen = 127.0.0.1:$aport

[proxy]
mode = managed
listen = 127.0.0.1:$pport
templates = ${BENCH_TEMPLATES:-$repo/templates/nginx}

[backup]
every = 0
INI
worker_lines="password_cost = min"
if [ "${BENCH_WORKER:-}" = echo ]; then
    worker_lines="$worker_lines
command = $b/helpers/echoworker
socket = passed"
fi
cat >"$root/tenants.d/proxybench.ini" <<INI
[tenant]
name = Cabinet Bench
plan = enterprise

[worker]
port = $wport
$worker_lines
INI

"$b/tenantd" -c "$root/tenantd.ini" >"$root/tenantd.log" 2>&1 &
pid=$!
# Wait, bounded by 30 s, for the worker and nginx to answer.
up() {
    curl -fsS --max-time 2 -o /dev/null -H 'Host: proxybench.localhost' \
        "http://127.0.0.1:$pport/healthz" 2>/dev/null &&
        curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$wport/healthz" 2>/dev/null
}
deadline=$(($(date +%s) + 30))
until up; do
    if [ "$(date +%s)" -ge $deadline ] || ! kill -0 "$pid" 2>/dev/null ||
        grep -q ' FAILED' "$root/tenantd.log"; then
        echo "bench_proxy: the tenant did not come up; tenantd's log:"; cat "$root/tenantd.log"
        exit 1
    fi
    sleep 0.1
done

rps() { wrk -t"$threads" -c"$conns" -d"$dur" "$@" | awk '/^Requests\/sec:/ { print $2 }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'; }
# Other load on a shared machine only ever lowers a figure: alternate the two
# measurements and keep the best of each.
echo "bench_proxy: GET /healthz, wrk -t$threads -c$conns -d$dur, best of $rounds rounds," \
    "worker: ${BENCH_WORKER:-tenant-worker}"
direct=0
proxied=0
r=0
while [ $r -lt "$rounds" ]; do
    direct=$(max "$direct" "$(rps "http://127.0.0.1:$wport/healthz")")
    proxied=$(max "$proxied" "$(rps -H 'Host: proxybench.localhost' "http://127.0.0.1:$pport/healthz")")
    r=$((r + 1))
done
echo "direct to the worker:  $direct req/s"
echo "through nginx:         $proxied req/s"
awk -v d="$direct" -v p="$proxied" 'BEGIN {
    r = d > 0 ? 100 * p / d : 0
    printf "ratio:                 %.0f %% (target >= 60 %%)\n", r
}'
