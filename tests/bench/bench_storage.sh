#!/bin/sh
# bench_storage.sh BUILDDIR — tenant-worker on each storage backend (SQLite,
# then PostgreSQL on a throw-away cluster of its own): authenticated
# GET /api/billing/usage req/s and POST /api/analyses writes/s (wrk, loopback,
# bounded), and --migrate-copy of that firm into PostgreSQL and back (rows,
# seconds). Prints figures; not a test. See bench_storage.py.
set -eu
b=${1:?build dir}
exec /usr/bin/python3 "$(dirname "$0")/bench_storage.py" "$b"
