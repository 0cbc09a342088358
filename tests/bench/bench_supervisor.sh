#!/bin/sh
# bench_supervisor.sh BUILDDIR — start 100 then 1000 tenants and print how
# long until all are ready, tenantd's RSS, the workers' PSS per tenant and
# tenantd's idle CPU. Prints figures; not a test. See bench_supervisor.py.
set -eu
b=${1:?build dir}
exec /usr/bin/python3 "$(dirname "$0")/bench_supervisor.py" "$b" ${BENCH_N:-100 1000}
