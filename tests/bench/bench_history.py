"""
bench_history.py BUILDDIR — the history tenantd keeps for the status page.

BENCH_TENANTS (default 20) tenants running the echo helper, in a fresh root
under /var/tmp, `[tenantd] history_every = 1s`. One tenant's history is
first filled with a full day of 1 s samples (86,400 rows, written with
SQLite into state.db beside the running tenantd), then, over BENCH_SECONDS
(default 20):
  - tenantd's VmRSS at the start and at the end (the history is on disk:
    it must not grow with the samples);
  - rows written and state.db's size per row;
  - GET /v1/tenants/<id>/history over that full day (folded to at most 288
    points): median and worst of 20 calls, and the answer's size.
A figure, not a test: it never fails on a number. tenantd is stopped by pid
(SIGTERM, which stops its workers); the root is removed.
"""
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["TENANTD_BUILDDIR"] = os.path.abspath(sys.argv[1])
N = int(os.environ.get("BENCH_TENANTS", "20"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))

sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from tenantd_test import TenantdRoot, helper  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def db_bytes(run_dir):
    return sum(os.path.getsize(os.path.join(run_dir, f)) for f in os.listdir(run_dir)
               if f.startswith("state.db"))


def main():
    path = tempfile.mkdtemp(prefix="tenantd-bench-", dir="/var/tmp")
    root = TenantdRoot(os.path.join(path, "root"), n_ports=N + 2)
    try:
        root.write_global(tenantd={"history_every": "1s"})
        for i in range(N):
            root.add_tenant(f"h{i:02d}", worker={"command": helper("echoworker"),
                                                 "socket": "passed"})
        root.start()
        db = sqlite3.connect(os.path.join(root.run_dir, "state.db"), timeout=10)
        now = int(time.time() * 1000)
        day = [("h00", now - 86400_000 + i * 1000, "running", 50 << 20, i * 0.01, 0, 5, 0)
               for i in range(86400 - 5)]
        db.executemany("INSERT OR REPLACE INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?)", day)
        db.commit()
        rows0 = db.execute("SELECT count(*) FROM history").fetchone()[0]
        pid = root.proc.pid
        rss0 = rss_kib(pid)
        time.sleep(SECONDS)  # a bench: let the sampling run for a fixed time
        rss1 = rss_kib(pid)
        rows1 = db.execute("SELECT count(*) FROM history").fetchone()[0]
        db.close()
        size = db_bytes(root.run_dir)
        times, body = [], None
        for _ in range(20):
            t0 = time.perf_counter()
            r = root.get("/v1/tenants/h00/history")
            times.append((time.perf_counter() - t0) * 1000)
            assert r.status == 200, r.text
            body = r
        pts = len(body.json()["points"])
        print(f"tenants: {N}, history_every = 1s, {SECONDS} s")
        print(f"tenantd VmRSS: {rss0} KiB at the start, {rss1} KiB after "
              f"{rows1 - rows0} more samples ({rss1 - rss0:+d} KiB)")
        print(f"state.db: {size / 1e6:.1f} MB for {rows1} samples "
              f"(~{size / max(rows1, 1):.0f} bytes a sample)")
        print(f"GET /v1/tenants/h00/history over 86,400 samples: median "
              f"{statistics.median(times):.1f} ms, worst {max(times):.1f} ms, {pts} points, "
              f"{len(body.text)} bytes")
    finally:
        if root.proc is not None and root.proc.poll() is None:
            root.stop()
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
