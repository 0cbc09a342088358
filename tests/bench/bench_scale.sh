#!/bin/sh
# bench_scale.sh BUILDDIR — tenantd's surfaces at 1,000 and 3,000 tenants:
# start, answering through nginx, RSS and fds, nginx config and reload, the
# status API, one tenant's reload, idle CPU. Prints figures; not a test.
# 10,000 runs with the idle state: BENCH_SCALE_N="1000 3000 10000"
# BENCH_IDLE_AFTER=60s (see bench_scale.py; about 6 minutes on 2 cores).
set -eu
b=${1:?build dir}
exec /usr/bin/python3 "$(dirname "$0")/bench_scale.py" "$b" ${BENCH_SCALE_N:-1000 3000}
