"""
bench_zero_downtime.py BUILDDIR — how long a tenant is not answering.

One tenant with the real tenant-worker (passed socket, READY=1) in a fresh
temporary root under /var/tmp, default [supervise] timings. Prints:
  - crash -> answering: kill -9 of the worker, then one GET /healthz sent at
    once (it waits in the backlog of the socket tenantd holds); the time from
    the kill to its 200 (median and p99 over ROUNDS). A restart between rounds
    resets the schedule, so that each kill is a first crash after a ready run.
  - overlap restart -> new config answering: a change of the tenant's file,
    then the time until the new worker is ready (status pid changed, state
    running), while GET /healthz keeps answering (failures are counted).
A figure, not a test: it never fails on a number. The "tenantd restart -> all
answering" figure for 100 and 1000 tenants is bench_upgrade's (after a kill -9 of
tenantd) and bench_supervisor's start-up time; bench_upgrade also times an upgrade.

Every process it started is stopped by pid (SIGTERM to tenantd, SIGKILL to
whatever is left of its process tree); the root is removed.
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


def get(port, path="/healthz", timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def wait_running(sock, pred, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st, s = api(sock, "GET", "/v1/tenants/b1?wait=running&timeout=1000")
        if st == 200 and s.get("state") == "running" and pred(s):
            return s
    raise SystemExit(f"tenant not running as expected: {s}")


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
    tfile = os.path.join(root, "tenants.d", "b1.ini")

    def write_tenant(phone):
        with open(tfile + ".tmp", "w") as f:
            f.write(f"[tenant]\nname = Cabinet B\nplan = professional\n[firm]\nphone = {phone}\n"
                    f"[worker]\nport = {port}\npassword_cost = min\n")
        os.rename(tfile + ".tmp", tfile)

    write_tenant("01")
    log = open(os.path.join(root, "tenantd.stderr"), "wb")
    proc = subprocess.Popen([os.path.join(builddir, "tenantd"), "-c",
                             os.path.join(root, "tenantd.ini")],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    sock = os.path.join(root, "run", "admin.sock")
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.01)
        s = wait_running(sock, lambda s: True)
        crash = []
        for _ in range(ROUNDS):
            pid = s["pid"]
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            st = get(port)
            crash.append((time.monotonic() - t0) * 1000)
            assert st == 200, st
            s = wait_running(sock, lambda x, p=pid: x["pid"] != p)
            # A restart resets the schedule: the next kill is a first crash again.
            api(sock, "POST", "/v1/tenants/b1/restart")
            s = wait_running(sock, lambda x, p=s["pid"]: x["pid"] != p and not x["draining_pid"])
        overlap, failures = [], 0
        for i in range(ROUNDS // 3 or 1):
            pid = s["pid"]
            t0 = time.monotonic()
            write_tenant(f"{i + 2:02d}")
            while True:
                try:
                    failures += get(port, timeout=5) != 200
                except OSError:
                    failures += 1
                st, s = api(sock, "GET", "/v1/tenants/b1")
                if s["state"] == "running" and s["pid"] != pid:
                    break
                if time.monotonic() - t0 > 30:
                    raise SystemExit(f"no new worker after a config change: {s}")
            overlap.append((time.monotonic() - t0) * 1000)
            s = wait_running(sock, lambda x: not x["draining_pid"])
        print(f"crash -> answering (kill -9, first crash after a ready run, n={len(crash)}): "
              f"median {pct(crash, 50):.1f} ms, p99 {pct(crash, 99):.1f} ms")
        print(f"overlap restart -> new config answering (file change, inotify debounce "
              f"included, n={len(overlap)}): median {pct(overlap, 50):.1f} ms, "
              f"p99 {pct(overlap, 99):.1f} ms; failed /healthz meanwhile: {failures}")
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
