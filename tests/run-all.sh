#!/bin/sh
# `make test`: unit tests, fuzz corpus replay, then the integration suite (pytest).
# Every suite runs even when an earlier one failed; the exit code says whether all passed.
set -u
b=${1:?build dir}
rc=0
tests/run-unit.sh "$b" || rc=1
if [ -n "$(ls tests/fuzz/fuzz_*.c 2>/dev/null)" ]; then
    make --no-print-directory -s BUILDDIR="$b" fuzz-replay || rc=1
fi
TENANTD_BUILDDIR=$(cd "$b" && pwd) /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration ${PYTEST_ARGS:-}
prc=$?
[ $prc = 0 ] || rc=1
exit $rc
