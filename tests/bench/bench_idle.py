"""
bench_idle.py BUILDDIR — scale to zero: how long the first request to an idle
tenant waits for its answer.

One tenant with the real tenant-worker (passed socket, `[worker] idle_after =
300ms`) in a fresh temporary root under /var/tmp, default [supervise]
timings. Each round waits (GET /v1/tenants/<id>?wait=idle, no polling) until
the worker has gone away on its own, then sends one GET / (the firm's login
page, a real request) straight to the tenant's port: it waits in the backlog
of the socket tenantd holds, tenantd sees it, starts a worker, which accepts
it. Prints the time from sending to the 200 (median and p99 over ROUNDS), the
wake-up counter, and the worker's resident memory that idle gives back.
Target (issue 14): <= 30 ms. A figure, not a test: it never fails on a number.

Every process it started is stopped by pid (SIGTERM to tenantd, which stops
its workers); the root is removed.
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))

sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from tenantd_test import UnixHTTPConnection, free_port_block  # noqa: E402


def api(sock, method, path):
    c = UnixHTTPConnection(sock, timeout=30)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


def wait_state(sock, state, timeout=30):
    deadline = time.monotonic() + timeout
    s = None
    while time.monotonic() < deadline:
        st, s = api(sock, "GET", f"/v1/tenants/b1?wait={state}&timeout=5000")
        if st == 200 and s.get("state") == state:
            return s
    raise SystemExit(f"tenant not {state}: {s}")


def get(port, path="/", timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": "b1.localhost"})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    builddir = os.path.abspath(sys.argv[1])
    root = tempfile.mkdtemp(prefix="tenantd-bench-", dir="/var/tmp")
    os.chmod(root, 0o755)
    base = free_port_block(3)
    port = base
    os.makedirs(os.path.join(root, "tenants.d"))
    shutil.copy(os.path.join(REPO, "plans.ini"), root)
    with open(os.path.join(root, "tenantd.ini"), "w") as f:
        f.write(f"[tenantd]\nport_range = {base}-{base}\n"
                f"templates = {os.path.join(REPO, 'templates')}\n"
                f"[admin]\nlisten = 127.0.0.1:{base + 1}\n"
                f"[proxy]\nmode = off\n[backup]\nevery = 0\n")
    with open(os.path.join(root, "tenants.d", "b1.ini"), "w") as f:
        f.write(f"[tenant]\nname = Cabinet B\nplan = professional\n"
                f"[worker]\nport = {port}\npassword_cost = min\nidle_after = 300ms\n")
    log = open(os.path.join(root, "tenantd.stderr"), "wb")
    proc = subprocess.Popen([os.path.join(builddir, "tenantd"), "-c",
                             os.path.join(root, "tenantd.ini")],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    sock = os.path.join(root, "run", "admin.sock")
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.01)
        s = wait_state(sock, "running")
        rss = s.get("rss_bytes", 0)
        lat = []
        for _ in range(ROUNDS):
            wait_state(sock, "idle")
            t0 = time.monotonic()
            st = get(port)
            lat.append((time.monotonic() - t0) * 1000)
            assert st == 200, st
            s = wait_state(sock, "running")
            rss = max(rss, s.get("rss_bytes", 0))
        s = wait_state(sock, "idle")
        print(f"idle -> first answer (GET / to an idle tenant, bundled worker, n={len(lat)}): "
              f"median {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms (target <= 30 ms); "
              f"wake-ups {s['wakeups']}, restarts {s['restarts']}; "
              f"worker RSS given back while idle: {rss / 1048576:.1f} MiB")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
