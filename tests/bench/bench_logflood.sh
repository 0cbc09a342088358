#!/bin/sh
# bench_logflood.sh BUILDDIR — tenantd's CPU and admin latency while a tenant
# floods its stdout. Prints figures; not a test. See bench_logflood.py.
set -eu
b=${1:?build dir}
exec /usr/bin/python3 "$(dirname "$0")/bench_logflood.py" "$b" ${BENCH_SECONDS:-5}
