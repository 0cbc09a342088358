#!/bin/sh
# bench_upgrade.sh BUILDDIR — tenantd upgraded in place, and restarted after a
# crash, with 100 and 1000 tenants (BENCH_UPGRADE_N overrides). Prints
# figures; not a test. See bench_upgrade.py.
set -eu
b=${1:?build dir}
exec /usr/bin/python3 "$(dirname "$0")/bench_upgrade.py" "$b"
