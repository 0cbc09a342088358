#!/bin/sh
# bench_idle.sh BUILDDIR — scale to zero: idle -> first answer, for one tenant
# with the bundled worker. Prints figures; not a test. See bench_idle.py.
set -eu
b=${1:?build dir}
exec /usr/bin/python3 "$(dirname "$0")/bench_idle.py" "$b"
