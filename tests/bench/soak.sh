#!/bin/sh
# Soak test, run by hand (not part of `make test`):
#     tests/bench/soak.sh [BUILDDIR] [MINUTES]      (default build/release, 2 minutes)
# 100 tenants under the real tenantd, client load, random kill -9 of workers,
# tenantd killed once, reloads, onboard/offboard cycles; prints requests
# served, errors, restarts and lost writes (must be 0; exit 1 otherwise).
# SOAK_SEED=<n> replays a run's random choices.
set -eu
cd "$(dirname "$0")/../.."
b=${1:-build/release}
m=${2:-2}
exec /usr/bin/python3 tests/bench/soak.py "$b" "$m"
