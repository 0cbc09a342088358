"""
bench_upgrade.py BUILDDIR [N...] — upgrading tenantd in place, and restarting
it after a crash, with N tenants (default 100 and 1000; BENCH_UPGRADE_N
overrides, e.g. "100").

For each N: a fresh temporary root under /var/tmp (as bench_supervisor.py:
the real tenant-worker, or tests/helpers/miniworker when it is not built,
default [supervise] timings, proxy off). Prints:
  - upgrade: the wall time of `tenantctl upgrade` (the -n check of the new
    binary, quiescing, the exec, the new image taking every tenant, until
    GET /v1/upgrade reports it serving), with the number of workers whose pid
    changed (should be 0);
  - tenantd crash -> all answering: kill -9 of tenantd (its workers stop with
    it: parent-death signal), then a new tenantd started at once, as systemd's
    Restart= would; the time from the kill until every tenant's port answers
    GET /healthz 200.
A figure, not a test: it never fails on a number. Every wait is bounded
(DEADLINE_S); every process it started is stopped by pid; the root is removed.
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
DEADLINE_S = 300

sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tenantd_test import UnixHTTPConnection, free_port_block  # noqa: E402
from bench_supervisor import tree  # noqa: E402


def api(sock, path):
    c = UnixHTTPConnection(sock, timeout=60)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return json.loads(r.read()) if r.status == 200 else None
    finally:
        c.close()


def answers(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        return r.status == 200
    except OSError:
        return False
    finally:
        c.close()


def make_root(builddir, n):
    worker = os.path.join(builddir, "tenant-worker")
    use_real = os.access(worker, os.X_OK)
    root = tempfile.mkdtemp(prefix="tenantd-bench-up-", dir="/var/tmp")
    os.chmod(root, 0o755)
    base = free_port_block(n + 2)
    os.makedirs(os.path.join(root, "tenants.d"))
    shutil.copy(os.path.join(REPO, "plans.ini"), root)
    with open(os.path.join(root, "tenantd.ini"), "w") as f:
        f.write(f"[tenantd]\nport_range = {base}-{base + n - 1}\n"
                f"templates = {os.path.join(REPO, 'templates')}\n"
                f"[admin]\nlisten = 127.0.0.1:{base + n}\n"
                f"[proxy]\nmode = off\n[backup]\nevery = 0\n")
    for i in range(n):
        w = f"port = {base + i}\npassword_cost = min\n"
        if not use_real:
            w += f"command = {os.path.join(builddir, 'helpers', 'miniworker')}\nsocket = passed\n"
        with open(os.path.join(root, "tenants.d", f"t{i:04d}.ini"), "w") as f:
            f.write(f"[tenant]\nname = Cabinet {i}\nplan = starter\n[worker]\n{w}")
    return root, [base + i for i in range(n)], use_real


def start(builddir, root, log):
    return subprocess.Popen([os.path.join(builddir, "tenantd"), "-c",
                             os.path.join(root, "tenantd.ini")],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def all_answer(ports, t0):
    """Every port answers 200; the ones that do are not asked again."""
    left = list(ports)
    while left and time.monotonic() - t0 < DEADLINE_S:
        left = [p for p in left if not answers(p)]
        if left:
            time.sleep(0.01)
    return not left


def all_running(sock, n, t0):
    while time.monotonic() - t0 < DEADLINE_S:
        try:
            st = api(sock, "/v1/tenants")
        except OSError:
            st = None
        if st and len(st) == n and all(t["state"] == "running" for t in st):
            return st
        time.sleep(0.2)
    return None


def run(builddir, n):
    root, ports, use_real = make_root(builddir, n)
    sock = os.path.join(root, "run", "admin.sock")
    conf = os.path.join(root, "tenantd.ini")
    log = open(os.path.join(root, "tenantd.stderr"), "wb")
    procs, seen = [], set()
    label = f"N={n} worker={'tenant-worker' if use_real else 'miniworker'}"
    try:
        procs.append(start(builddir, root, log))
        before = all_running(sock, n, time.monotonic())
        if before is None:
            print(f"{label}: not every tenant came up within {DEADLINE_S} s "
                  f"(see {root}/tenantd.stderr)")
            return
        seen.update(tree(procs[-1].pid))

        t0 = time.monotonic()
        r = subprocess.run([os.path.join(builddir, "tenantctl"), "-c", conf, "upgrade",
                            "--timeout", str(DEADLINE_S)],
                           capture_output=True, text=True, timeout=DEADLINE_S + 30)
        up_ms = (time.monotonic() - t0) * 1000
        after = api(sock, "/v1/tenants") or []
        pids0 = {t["id"]: t["pid"] for t in before}
        changed = sum(1 for t in after if pids0.get(t["id"]) != t["pid"])
        if r.returncode != 0:
            print(f"{label}: upgrade failed ({r.returncode}): {r.stderr.strip()}")
        else:
            print(f"{label}: upgrade (tenantctl upgrade, until the new image serves) "
                  f"{up_ms:.0f} ms; workers with a new pid: {changed} of {n}")
        sys.stdout.flush()

        seen.update(tree(procs[-1].pid))
        t0 = time.monotonic()
        procs[-1].send_signal(signal.SIGKILL)
        procs[-1].wait()
        procs.append(start(builddir, root, log))
        ok = all_answer(ports, t0)
        crash_s = time.monotonic() - t0
        if ok:
            print(f"{label}: tenantd crash (kill -9) -> restarted -> all {n} answering: "
                  f"{crash_s:.2f} s")
        else:
            print(f"{label}: after a crash of tenantd, not every tenant answered within "
                  f"{DEADLINE_S} s")
        sys.stdout.flush()
    finally:
        for p in procs:
            if p.poll() is None:
                seen.update(tree(p.pid))
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for pid in seen:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def main():
    builddir = os.path.abspath(sys.argv[1])
    ns = [int(x) for x in sys.argv[2:]] or \
        [int(x) for x in os.environ.get("BENCH_UPGRADE_N", "100 1000").split()]
    for n in ns:
        run(builddir, n)


if __name__ == "__main__":
    main()
