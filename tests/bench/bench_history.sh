#!/bin/sh
# bench_history.sh BUILDDIR — the status page's history (history.h): tenantd's
# memory while it samples every tenant every second, the disk a sample takes,
# and how long GET /v1/tenants/<id>/history takes over a full day of 1 s
# samples. Prints figures; not a test. See bench_history.py.
set -eu
b=${1:?build dir}
exec /usr/bin/python3 "$(dirname "$0")/bench_history.py" "$b"
