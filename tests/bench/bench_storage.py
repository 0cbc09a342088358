"""
bench_storage.py BUILDDIR — the same tenant-worker measured on both storage
backends, from outside, on loopback:
  - GET /api/billing/usage (authenticated: a session check and the usage
    queries) with wrk, 2 threads, 32 connections, BENCH_SECONDS (default 5);
  - POST /api/analyses (one durable write transaction each) the same way;
  - tenant-worker --migrate-copy of the SQLite firm the run filled (a few
    thousand analyses) into PostgreSQL and back, verified: rows and seconds.
PostgreSQL runs as a throw-away cluster of its own (tenantd_test.pg: initdb
and pg_ctl as the postgres user, a temporary folder, a free loopback port),
the worker with tenantd's environment (POSTGRESQL_URL without a password,
PGPASSFILE). A figure, not a test: it never fails on a number, only when a
part does not work (non-2xx answers are counted and printed). Every process it
started is stopped by pid and its folders removed; PostgreSQL is skipped, with
the reason, where it cannot run.
"""
import json
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["TENANTD_BUILDDIR"] = os.path.abspath(sys.argv[1])
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))

sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from tenantd_test import pg as pgmod  # noqa: E402
from tenantd_test.worker import WORKER, Worker  # noqa: E402


def wrk(url, token, lua=None):
    argv = ["wrk", "-t2", "-c32", f"-d{SECONDS}s", "-H", "Authorization: Bearer " + token]
    if lua:
        argv += ["-s", lua]
    out = subprocess.run(argv + [url], capture_output=True, text=True,
                         timeout=SECONDS + 60, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, int(bad.group(1)) if bad else 0


def measure(name, w):
    pw = w.create_admin("admin")
    w.start()
    token = w.login("admin", pw)
    base = f"http://127.0.0.1:{w.port}"
    lua = os.path.join(w.tmp, "post.lua")
    with open(lua, "w") as f:
        f.write('wrk.method = "POST"\n'
                'wrk.body = \'{"case_text":"Demande de titre de sejour, conjoint de francais,'
                ' enfant scolarise, 10 ans de presence"}\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n')
    usage, bad_u = wrk(base + "/api/billing/usage", token)
    writes, bad_w = wrk(base + "/api/analyses", token, lua)
    print(f"{name:10s}  GET /api/billing/usage: {usage:9.0f} req/s"
          f"{f'  ({bad_u} non-2xx)' if bad_u else ''}")
    print(f"{name:10s}  POST /api/analyses:     {writes:9.0f} writes/s"
          f"{f'  ({bad_w} non-2xx)' if bad_w else ''}")
    assert w.stop() == 0, "the worker did not stop cleanly"


def copy_figure(src, server, folder):
    """--migrate-copy of the SQLite file the first run filled into a fresh
    PostgreSQL database, and back into a new SQLite file: rows and seconds."""
    url, env = server.new_database_pgpass(folder, prefix="copy")
    env = dict(env, PATH="/usr/bin:/bin")
    for name, argv in (("sqlite -> postgresql", [src, url]),
                       ("postgresql -> sqlite", [url, "sqlite:" + os.path.join(folder, "back.db")])):
        t0 = time.monotonic()
        r = subprocess.run([WORKER, "--migrate-copy", *argv], env=env, capture_output=True,
                           text=True, timeout=600)
        took = time.monotonic() - t0
        out = json.loads(r.stdout)
        assert r.returncode == 0 and out["ok"], (r.stdout, r.stderr)
        rows = sum(t["rows"] for t in out["tables"].values())
        print(f"--migrate-copy {name}: {rows} rows in {took:.2f} s (verified)")


def main():
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        print("wrk is not installed (apt-get install wrk)")
        return 1
    unlimited = {"MAX_ANALYSIS_MONTHLY": "-1", "MAX_CASES": "-1"}
    print(f"tenant-worker, wrk -t2 -c32 -d{SECONDS}s on loopback, same machine")
    lite = Worker(client_id="bench", **unlimited)
    server = None
    try:
        measure("sqlite", lite)
        why = pgmod.available()
        if why:
            print("postgresql: skipped:", why)
            return 0
        server = pgmod.PgServer().init().start()
        w = Worker(client_id="bench", DATABASE_TYPE="postgresql", **unlimited)
        try:
            url, env = server.new_database_pgpass(w.data_dir)
            w.env.update(env, POSTGRESQL_URL=url)
            measure("postgresql", w)
        finally:
            w.cleanup()
        copy_figure("sqlite:" + os.path.join(lite.data_dir, "bench.db"), server, lite.tmp)
    finally:
        lite.cleanup()
        if server is not None:
            server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
