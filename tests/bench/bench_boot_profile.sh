#!/bin/sh
# bench_boot_profile.sh BUILDDIR — where a boot's CPU goes per tenant (tenantd,
# tenant-jail, tenant-worker; by phase), from perf samples of 100 tenants booted
# twice. Prints figures; not a test. See bench_boot_profile.py.
set -eu
b=${1:?build dir}
exec /usr/bin/python3 "$(dirname "$0")/bench_boot_profile.py" "$b" ${BENCH_N:-100}
