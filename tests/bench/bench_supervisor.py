"""
bench_supervisor.py BUILDDIR N [N...] — how tenantd copes with many tenants.

For each N: a fresh temporary root under /var/tmp with N tenants on a free
block of loopback ports, the real tenant-worker (or tests/helpers/miniworker
when the real one is not built), default [supervise] timings. Prints:
seconds until every tenant is running, the CPU time the boot cost per tenant
(tenantd's own, and the jail + worker processes' from /proc/<pid>/schedstat),
the load average, tenantd's RSS, the workers' total PSS per tenant (from
/proc/<pid>/smaps_rollup), and tenantd's CPU use over 30 s of idle (only
health probes running). BENCH_IDLE_SECONDS=0 skips the idle figure;
BENCH_BOOTS=2 stops tenantd and boots it again on the same root, where every
tenant's uid, secret and database already exist (a machine's reboot). A figure, not a test: it never fails
on a number, only when tenantd does not come up within its deadline.

Every process it started is stopped by pid (SIGTERM to tenantd, then SIGKILL
to whatever of its process tree is left); the root is removed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IDLE_SECONDS = int(os.environ.get("BENCH_IDLE_SECONDS", "30"))  # 0: skip the idle figure
BOOTS = int(os.environ.get("BENCH_BOOTS", "1"))  # 2: also restart on the kept data
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The integration harness's free-port search and unix-socket HTTP client.
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from tenantd_test import UnixHTTPConnection, free_port_block  # noqa: E402


def status(sock):
    c = UnixHTTPConnection(sock)
    try:
        c.request("GET", "/v1/tenants")
        r = c.getresponse()
        return json.loads(r.read()) if r.status == 200 else None
    finally:
        c.close()


def tree(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_ns(pid):
    """Time on a CPU so far, in ns (schedstat: finer than clock ticks)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, IndexError, ValueError):
        return 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run(builddir, n):
    worker = os.path.join(builddir, "tenant-worker")
    use_real = os.access(worker, os.X_OK)
    root = tempfile.mkdtemp(prefix="tenantd-bench-", dir="/var/tmp")
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

    try:
        for boot in range(1, BOOTS + 1):
            if not boot_once(builddir, root, n, use_real, boot):
                break
    finally:
        shutil.rmtree(root, ignore_errors=True)


def wait_ready(proc, logpath, n, deadline):
    """Seconds (monotonic time) when every tenant's worker said ready, from
    tenantd's log, or None."""
    # Watch tenantd's log rather than poll the status API: a status of
    # N tenants reads 2N /proc files and would slow the boot it measures.
    ready, off = set(), 0
    while time.monotonic() < deadline and proc.poll() is None:
        with open(logpath, "rb") as f:
            f.seek(off)
            chunk = f.read()
        cut = chunk.rfind(b"\n") + 1
        off += cut
        for line in chunk[:cut].decode(errors="replace").splitlines():
            if "] worker ready " in line:
                ready.add(line.split("[", 1)[1].split("]", 1)[0])
            elif "FAILED" in line:
                print(f"N={n}: a tenant failed: {line}")
                return None
        if len(ready) >= n:
            return time.monotonic()
        time.sleep(0.01)
    return None


def boot_once(builddir, root, n, use_real, boot):
    """Start tenantd on root, print the figures, stop it. Boot 1 creates every
    tenant's data (uid, secret, database); later boots find it."""
    logpath = os.path.join(root, f"tenantd.{boot}.stderr")
    log = open(logpath, "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen([os.path.join(builddir, "tenantd"), "-c",
                             os.path.join(root, "tenantd.ini")],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    sock = os.path.join(root, "run", "admin.sock")
    all_pids = set()
    ok = False
    try:
        t1 = wait_ready(proc, logpath, n, t0 + 120)
        ready_s = t1 - t0 if t1 is not None else None
        if ready_s is not None:
            st = status(sock)
            if len(st) != n or not all(t["state"] == "running" for t in st):
                ready_s = None
        if ready_s is None:
            print(f"N={n}: tenantd did not bring every tenant up within 120 s "
                  f"(see {logpath})")
            return False
        all_pids.update(tree(proc.pid))
        workers = [p for p in tree(proc.pid) if p != proc.pid]
        pss = sum(pss_kb(p) for p in workers)
        # CPU spent on the boot, per tenant: tenantd's own (fork, exec,
        # bookkeeping) and each worker process's (tenant-jail's steps, then
        # the worker's exec, dynamic linking and init up to READY=1).
        boot_sup = cpu_ns(proc.pid) / n / 1e6
        boot_wrk = sum(cpu_ns(p) for p in workers) / n / 1e6
        load = os.getloadavg()[0]
        idle = "idle CPU not measured"
        if IDLE_SECONDS > 0:
            time.sleep(2)  # let the start-up settle before measuring idle
            c0, w0 = cpu_ticks(proc.pid), time.monotonic()
            time.sleep(IDLE_SECONDS)
            c1, w1 = cpu_ticks(proc.pid), time.monotonic()
            cpu_pct = 100.0 * (c1 - c0) / CLK_TCK / (w1 - w0)
            idle = f"tenantd CPU {cpu_pct:.2f} % of a core over {IDLE_SECONDS} s idle"
        print(f"N={n} worker={'tenant-worker' if use_real else 'miniworker'} "
              f"boot {boot} ({'new data' if boot == 1 else 'data kept'}): "
              f"all ready in {ready_s:.2f} s (load {load:.1f}); boot CPU per tenant: "
              f"tenantd {boot_sup:.2f} ms, jail+worker {boot_wrk:.2f} ms; "
              f"tenantd RSS {rss_kb(proc.pid) / 1024:.1f} MiB; "
              f"worker PSS {pss / n / 1024:.2f} MiB per tenant "
              f"({len(workers)} processes); {idle}")
        if os.environ.get("BENCH_MARKS"):
            # CLOCK_MONOTONIC, for bench_boot_profile.py to cut its samples.
            print(f"mark boot={boot} start={t0:.6f} ready={t1:.6f}")
        sys.stdout.flush()
        ok = True
    finally:
        all_pids.update(tree(proc.pid))
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                ok = False
        for p in all_pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
    return ok


def main():
    builddir = os.path.abspath(sys.argv[1])
    for n in [int(x) for x in sys.argv[2:]] or [100, 1000]:
        run(builddir, n)


if __name__ == "__main__":
    main()
