"""
bench_logflood.py BUILDDIR [SECONDS] — what a tenant flooding its stdout costs
tenantd (issue 12).

A temporary root under /var/tmp with one quiet tenant (the bundled worker, or
tests/helpers/miniworker when it is not built). Two phases of SECONDS each
(default 5): first the quiet tenant alone, then with a second tenant running
tests/helpers/yesworker, which writes "y\\n" lines to its stdout as fast as
the pipe takes them. In each phase it prints tenantd's CPU use (% of one
core), the admin API's latency (GET /v1/tenants over the unix socket, every
20 ms: p50, p99, max) and, in the flood phase, the bytes per second the
flooder got through. A figure, not a test: it fails only when tenantd does
not come up.

Every process it started is stopped by pid (the harness sends SIGTERM to
tenantd; a worker still alive afterwards gets SIGKILL); the root is removed.
"""
import os
import shutil
import signal
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if len(sys.argv) < 2:
    sys.exit(__doc__)
os.environ["TENANTD_BUILDDIR"] = os.path.abspath(sys.argv[1])
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from tenantd_test import TenantdRoot, binpath, helper, pid_alive, wait_for  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def flooded(port):
    import http.client
    import json
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", "/flood")
        return json.loads(c.getresponse().read())["bytes"]
    finally:
        c.close()


def pct(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def phase(root, name, flood_port=None):
    pid = root.proc.pid
    w0 = flooded(flood_port) if flood_port else 0
    c0, t0 = cpu_seconds(pid), time.monotonic()
    lat = []
    while time.monotonic() - t0 < SECONDS:
        a = time.monotonic()
        r = root.get("/v1/tenants")
        lat.append((time.monotonic() - a) * 1000)
        if r.status != 200:
            raise SystemExit(f"admin API answered {r.status}")
        time.sleep(0.02)
    el = time.monotonic() - t0
    cpu = (cpu_seconds(pid) - c0) / el * 100
    lat.sort()
    line = (f"{name:6s} tenantd cpu {cpu:5.1f}%  admin latency p50 {pct(lat, 0.5):6.2f} ms  "
            f"p99 {pct(lat, 0.99):6.2f} ms  max {lat[-1]:6.2f} ms  ({len(lat)} requests)")
    if flood_port:
        line += f"  flood {(flooded(flood_port) - w0) / el / 1e6:.2f} MB/s"
    print(line, flush=True)


def main():
    yes = helper("yesworker")
    if not os.path.exists(yes):
        raise SystemExit(f"{yes} is not built (make BUILDDIR=... all builds the helpers)")
    d = tempfile.mkdtemp(prefix="tenantd-bench-", dir="/var/tmp")
    os.chmod(d, 0o755)
    root = TenantdRoot(d)
    pids = []
    try:
        quiet = {} if os.path.exists(binpath("tenant-worker")) else \
            {"worker": {"command": helper("miniworker")}}
        root.add_tenant("quiet", plan="starter", **quiet)
        root.start()
        pids.append(root.status("quiet")["pid"])
        phase(root, "quiet")
        port = root.add_tenant("flood", worker={"command": yes, "socket": "passed"})
        wait_for(lambda: any(t["id"] == "flood" and t["state"] == "running"
                             for t in root.status()), timeout=30, what="the flooder")
        pids.append(root.status("flood")["pid"])
        phase(root, "flood", port)
        lg = root.status("flood").get("log") or {}
        print(f"flood  log capture: {lg.get('bytes_read', 0)} bytes read, "
              f"{lg.get('lines_dropped', 0)} lines ({lg.get('bytes_dropped', 0)} bytes) dropped, "
              f"reading paused {lg.get('pauses', 0)} times for "
              f"{lg.get('throttled_ms', 0) / 1000:.1f} s", flush=True)
    finally:
        root.stop()
        for p in pids:
            if p and pid_alive(p):
                os.kill(p, signal.SIGKILL)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
