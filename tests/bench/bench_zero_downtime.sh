#!/bin/sh
# bench_zero_downtime.sh BUILDDIR — crash -> answering and overlapping
# restart -> new config answering, for one tenant with the bundled worker.
# Prints figures; not a test. See bench_zero_downtime.py.
set -eu
b=${1:?build dir}
exec /usr/bin/python3 "$(dirname "$0")/bench_zero_downtime.py" "$b"
