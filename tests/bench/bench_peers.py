"""
bench_peers.py BUILDDIR [N ...] — tenantd side by side with uWSGI Emperor.

For each N (default 100 and 1000) the same N tenants run under three
supervisors, one after the other, in an order that rotates per round
(interleaved, so that a busy spell of this shared machine does not land on
one of them only):

  uWSGI Emperor             one vassal per tenant, tests/bench/peer_app.py
  tenantd + peer_app (own)  the same app as an `own` worker, fully jailed
  tenantd + tenant-worker   tenantd's bundled worker, fully jailed

and prints one table: all tenants answering GET /healthz after the start,
the supervisor's RSS, its CPU over BENCH_IDLE seconds of idle, a crash
(SIGKILL) → that tenant answering again from a new process, a reload of one
tenant (its file changed) → answering from a new process, the tenants' PSS
per tenant; the ratio peer/tenantd per figure; the load average before and
after. Then the sizeof of tenantd's per-tenant structs (the unit test
tenantd_footprint, when built) and tenantd's RSS at 10/100/1000 tenants (the
per-tenant slope), and
one tenant's requests/s through tenantd's managed nginx versus direct, on
/healthz and /api/billing/usage (bench_peers_proxy.py).

Figures only, never a pass/fail on a number: a run that cannot bring its
tenants up within a bounded time says so and goes on. Loopback only; every
process started here is stopped by pid; the roots under /var/tmp are removed.
Environment: BENCH_IDLE=30 (s), BENCH_ROUNDS=1, BENCH_SYSTEMS=emperor,own,worker (""
for none: only the RSS slope and nginx),
BENCH_RSS_N="10 100 1000", BENCH_PROXY=1, BENCH_WRK_DURATION=5s, BENCH_PROXY_ROUNDS=3,
BENCH_BOOT_DEADLINE=180 (s), BENCH_TEMPLATES (another proxy templates folder).
"""
import os
import resource
import selectors
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_sys as ps  # noqa: E402
from tenantd_test import free_port_block  # noqa: E402  (path set by peers_sys)

IDLE = float(os.environ.get("BENCH_IDLE", "30"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
BOOT_DEADLINE = float(os.environ.get("BENCH_BOOT_DEADLINE", "180"))
EVENT_DEADLINE = 30.0
SYSTEMS = {"emperor": ps.Emperor, "own": ps.TenantdOwn, "worker": ps.TenantdWorker}


def answering(ports, deadline, host="localhost"):
    """Poll the ports until each answers GET /healthz with 200 (HTTP/1.0, one
    connection per try, all tries of a pass in flight at once). Returns the
    monotonic time when the last one answered, or None at the deadline."""
    req = f"GET /healthz HTTP/1.0\r\nHost: {host}\r\n\r\n".encode()
    pending, last = set(ports), None
    while pending and time.monotonic() < deadline:
        sel = selectors.DefaultSelector()
        conns = {}
        for p in pending:
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", p))
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            conns[s] = [p, b"", False]
            sel.register(s, selectors.EVENT_WRITE)
        pass_end = time.monotonic() + 0.25
        while conns and time.monotonic() < pass_end:
            for key, ev in sel.select(max(0.0, pass_end - time.monotonic())):
                s = key.fileobj
                st = conns[s]
                try:
                    if not st[2]:
                        s.send(req)
                        st[2] = True
                        sel.modify(s, selectors.EVENT_READ)
                        continue
                    chunk = s.recv(4096)
                except OSError:
                    chunk = b""
                st[1] += chunk
                if not chunk or b"\r\n" in st[1]:
                    if st[1].startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
                        pending.discard(st[0])
                        last = time.monotonic()
                    sel.unregister(s)
                    s.close()
                    del conns[s]
        for s in conns:
            s.close()
        sel.close()
        if pending:
            time.sleep(0.02)
    return None if pending else last


def get(port, path="/healthz", timeout=2.0):
    """One GET; the JSON body as a dict ({} when not JSON), or None."""
    import json
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            data = b""
            while True:
                c = s.recv(65536)
                if not c:
                    break
                data += c
    except OSError:
        return None
    if not data.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
        return None
    try:
        return json.loads(data.split(b"\r\n\r\n", 1)[1])
    except (ValueError, IndexError):
        return {}


def back_from(sysm, i, old_pid, t0):
    """Seconds from t0 until tenant i answers from a process other than
    old_pid, or None after EVENT_DEADLINE."""
    while time.monotonic() < t0 + EVENT_DEADLINE:
        body = get(sysm.port(i))
        if body is not None:
            pid = sysm.serving_pid(i, body)
            if pid is not None and pid != old_pid:
                return time.monotonic() - t0
        time.sleep(0.001)
    return None


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def measure(cls, builddir, n):
    base = free_port_block(n + 2)
    sysm = cls(builddir, n, base)
    r = {"name": cls.name}
    try:
        t0 = time.monotonic()
        sysm.start()
        done = answering([sysm.port(i) for i in range(n)], t0 + BOOT_DEADLINE)
        if done is None or not sysm.alive():
            r["error"] = (f"not every tenant answered within {BOOT_DEADLINE:.0f} s; "
                          f"log tail:\n{sysm.log_tail()}")
            return r
        r["boot_s"] = done - t0
        time.sleep(3)  # let the start-up settle (first probes, log flushes)
        r["rss_kb"] = ps.rss_kb(sysm.sup_pid())
        w = sysm.workers()
        r["pss_kb"] = sum(ps.pss_kb(p) for p in w) / n
        c0, w0 = ps.cpu_ticks(sysm.sup_pid()), time.monotonic()
        time.sleep(IDLE)
        c1, w1 = ps.cpu_ticks(sysm.sup_pid()), time.monotonic()
        r["cpu_ms"] = 1000.0 * (c1 - c0) / CLK_TCK
        r["cpu_pct"] = 100.0 * (c1 - c0) / CLK_TCK / (w1 - w0)
        i = n // 2
        body = get(sysm.port(i))
        old = sysm.serving_pid(i, body)
        t0 = time.monotonic()
        sysm.crash(i, body)
        r["crash_s"] = back_from(sysm, i, old, t0)
        j = n // 3
        body = get(sysm.port(j))
        old = sysm.serving_pid(j, body)
        t0 = time.monotonic()
        sysm.reload(j)
        r["reload_s"] = back_from(sysm, j, old, t0)
        r["rss_after_kb"] = ps.rss_kb(sysm.sup_pid())
    except Exception as e:  # a figure missing, not a crash of the bench
        import traceback
        r["error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
    finally:
        sysm.stop()
    return r


def fmt(v, unit):
    if v is None:
        return "—"
    if unit == "s":
        return f"{v:.3f} s" if v < 1 else f"{v:.2f} s"
    if unit == "MiB":
        return f"{v / 1024:.1f} MiB"
    if unit == "cpu":
        return f"{v[0]:.0f} ms ({v[1]:.2f} %)"
    return str(v)


ROWS = [("all tenants answering", "boot_s", "s"),
        ("supervisor RSS", "rss_kb", "MiB"),
        ("supervisor idle CPU / {idle:.0f} s", "cpu", "cpu"),
        ("crash -> answering again", "crash_s", "s"),
        ("reload one tenant -> answering", "reload_s", "s"),
        ("PSS per tenant", "pss_kb", "MiB")]


def value(r, key):
    if key == "cpu":
        return (r["cpu_ms"], r["cpu_pct"]) if "cpu_ms" in r else None
    return r.get(key)


def table(n, results):
    names = [r["name"] for r in results]
    print(f"\n| figure, N={n} | " + " | ".join(names) + " | peer / tenantd |")
    print("|---|" + "---|" * (len(names) + 1))
    peer = next((r for r in results if r["name"] == ps.Emperor.name), None)
    for label, key, unit in ROWS:
        cells = [fmt(value(r, key), unit) for r in results]
        ratios = []
        pv = value(peer, key) if peer else None
        for r in results:
            if r is peer or pv is None:
                continue
            v = value(r, key)
            if v is None:
                continue
            a, b = (pv[0], v[0]) if unit == "cpu" else (pv, v)
            ratios.append(f"{a / b:.1f}×" if b > 0 else ("∞" if a > 0 else "—"))
        print(f"| {label.format(idle=IDLE)} | " + " | ".join(cells) + " | "
              + " / ".join(ratios) + " |")
    for r in results:
        if "error" in r:
            print(f"  {r['name']}: {r['error']}")
    sys.stdout.flush()


def footprint(builddir):
    # The unit test tests/unit/tenantd/footprint.c prints the sizeof of the
    # per-tenant structs; shown beside the measured slope when it is built.
    exe = os.path.join(builddir, "tests", "tenantd_footprint")
    if os.access(exe, os.X_OK):
        out = subprocess.run([exe], capture_output=True, text=True, timeout=60).stdout
        print("\n" + "\n".join(ln for ln in out.splitlines() if not ln.startswith("[")))


def rss_slope(builddir, counts):
    footprint(builddir)
    print("\ntenantd RSS by tenant count (tenant-worker, after start-up):")
    prev = None
    for n in counts:
        base = free_port_block(n + 2)
        sysm = ps.TenantdWorker(builddir, n, base)
        try:
            t0 = time.monotonic()
            sysm.start()
            done = answering([sysm.port(i) for i in range(n)], t0 + BOOT_DEADLINE)
            if done is None:
                print(f"  N={n}: not every tenant answered within {BOOT_DEADLINE:.0f} s")
                continue
            time.sleep(3)
            rss = ps.rss_kb(sysm.sup_pid())
            slope = ""
            if prev:
                slope = f"; {(rss - prev[1]) / (n - prev[0]):.1f} KiB per added tenant"
            print(f"  N={n}: {rss / 1024:.1f} MiB{slope}")
            prev = (n, rss)
        finally:
            sysm.stop()
        sys.stdout.flush()


def main():
    builddir = os.path.abspath(sys.argv[1])
    ns = [int(x) for x in sys.argv[2:]] or [100, 1000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    # BENCH_SYSTEMS="" skips the side-by-side tables (e.g. for the RSS slope only).
    keys = [k for k in os.environ.get("BENCH_SYSTEMS", "emperor,own,worker").split(",") if k]
    print(f"bench_peers: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} cores, {os.uname().release}, load {loadavg()}; "
          f"{ROUNDS} round(s), idle {IDLE:.0f} s")
    for n in ns if keys else []:
        for rnd in range(ROUNDS):
            order = keys[rnd % len(keys):] + keys[:rnd % len(keys)]
            res = {}
            for k in order:
                print(f"  N={n} round {rnd + 1}: {SYSTEMS[k].name} (load {loadavg()})")
                sys.stdout.flush()
                res[k] = measure(SYSTEMS[k], builddir, n)
            table(n, [res[k] for k in keys])
            print(f"load average after: {loadavg()}")
    counts = [int(x) for x in os.environ.get("BENCH_RSS_N", "10 100 1000").split()]
    if counts:
        rss_slope(builddir, counts)
    if os.environ.get("BENCH_PROXY", "1") == "1":
        import bench_peers_proxy
        bench_peers_proxy.run(builddir)


if __name__ == "__main__":
    main()
