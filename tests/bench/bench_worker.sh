#!/bin/sh
# bench_worker.sh BUILDDIR — one tenant-worker on loopback, measured from outside:
#   1. idle memory (PSS from /proc/PID/smaps_rollup) with the database open,
#   2. wrk, 2 threads, 64 connections, 10 s: authenticated GET /api/billing/usage,
#   3. the same for POST /api/analyses (each request is one durable commit),
#   4. idle PSS again after the load.
# Prints figures; targets: >= 25000 req/s on usage, idle PSS <= 2.5 MB. Not a test.
set -eu
b=${1:?usage: bench_worker.sh BUILDDIR}
worker=$(cd "$b" && pwd)/tenant-worker
repo=$(cd "$(dirname "$0")/../.." && pwd)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }

dir=$(mktemp -d /var/tmp/bench-worker.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CLIENT_ID=bench CLIENT_NAME="Cabinet Bench" DATA_DIR="$dir" PORT="$port" \
    SECRET_KEY=bench-secret-0123456789abcdef TEMPLATES_DIR="$repo/templates/worker" \
    PASSWORD_COST=min MAX_ANALYSIS_MONTHLY=-1 MAX_CASES=-1 SUBSCRIPTION_PLAN=professional DATABASE_TYPE=sqlite
pw=$("$worker" --create-admin admin | sed -n 's/^password: //p')
"$worker" 2>"$dir/worker.log" &
pid=$!
# Wait for the first 200 (bounded by curl's own retry budget).
curl -sf --retry 50 --retry-connrefused --retry-delay 0 --retry-max-time 10 \
    "http://127.0.0.1:$port/healthz" >/dev/null
token=$(curl -sf -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$pw\"}" "http://127.0.0.1:$port/api/auth/login" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/billing/usage" >/dev/null

pss() { awk '/^Pss:/ {printf "%.2f MB", $2/1024}' "/proc/$pid/smaps_rollup"; }
rss() { awk '/^VmRSS:/ {printf "%.2f MB", $2/1024}' "/proc/$pid/status"; }
# PSS shares library pages among the processes that map them, and a library's
# clean pages count as private whenever no other process maps it at that
# moment, so both move with whatever else runs. Private dirty memory (heap,
# stacks, relocated data) is this process's own cost, whatever runs beside it.
dirty() { awk '/^Private_Dirty:/ {s += $2} END {printf "%.2f MB", s/1024}' "/proc/$pid/smaps_rollup"; }
# The worker gives memory back once a full second (1 to 2 s after the last
# request) has passed without requests (http.c); this is a benchmark, not a
# test, so a plain wait is fine here.
sleep 3 # idle_wait
echo "idle after start-up + one login: PSS $(pss), private dirty $(dirty), RSS $(rss)"

rps() { awk '/Requests\/sec/ {print $2}'; }
out=$(wrk -t2 -c64 -d10s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/billing/usage")
echo "$out" | sed 's/^/    /'
echo "GET /api/billing/usage: $(echo "$out" | rps) req/s"

cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"case_text":"Demande de titre de sejour, conjoint de francais, enfant scolarise, 10 ans de presence"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
out=$(wrk -t2 -c64 -d10s -s "$dir/post.lua" "http://127.0.0.1:$port/api/analyses")
echo "$out" | sed 's/^/    /'
echo "POST /api/analyses: $(echo "$out" | rps) req/s (synchronous=FULL: one fsync per commit)"
n=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/billing/usage" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["analyses_used"])')
echo "analyses stored: $n"
sleep 3 # see idle_wait above
echo "idle after the load: PSS $(pss), private dirty $(dirty), RSS $(rss)"
kill -TERM "$pid"
wait "$pid" && echo "worker stopped cleanly (exit 0)"
pid=
