"""
bench_scale.py BUILDDIR N [N...] — every surface of tenantd at N tenants.

For each N: a fresh root under /var/tmp with N tenants of the test worker
(tests/helpers/miniworker: the figures are tenantd's and nginx's, not the
application's; BENCH_WORKER=real runs tenant-worker), the managed nginx on
loopback, default [supervise] timings. Prints, per N:
  - seconds until every tenant is running, and until every one answers
    GET /healthz through nginx (Host: <id>.localhost);
  - tenantd's RSS and open fds (and fds per tenant);
  - the generated nginx config's size, `nginx -t` on it, and how long after
    one tenant's subdomain changes its new name answers through nginx
    (render, test, reload);
  - GET /v1/tenants latency: the whole list, a page of 50, a filter that
    matches nothing, one tenant by id;
  - one tenant's file changed: POST /v1/reload's latency (tenantd reads the
    tenants folder, parses the changed file only, applies; and the time
    tenantd logs for it, "reloaded in X ms"), median of 5, and, with every
    worker running, seconds until its new worker answers;
  - tenantd's CPU while nothing happens (BENCH_IDLE_SECONDS, default 10).
A figure, not a test: it fails only when tenantd does not come up.
BENCH_KEEP=1 keeps each root (tenantd's log, nginx's config) for a look. Bounded
(every wait has a deadline, scaled with N), loopback only; every process it
started is stopped by pid, the root removed. It prints the load average
first: the machine is shared.

10,000 tenants need the idle state (scale to zero): with every worker
running, 10,000 processes do not fit a small machine. Run
BENCH_SCALE_N="1000 3000 10000" BENCH_IDLE_AFTER=60s (each tenant of an N
above 5,000 gets [worker] idle_after, or every N from BENCH_IDLE_FROM; the smaller N
run every worker, as without the variable). An idle tenant boots idle (socket bound, server
block written, no worker): "up" is then running or idle, and instead of
waking all 10,000 (which would start 10,000 workers), a bounded sample
(BENCH_IDLE_SAMPLE, default 200, spread over the ids) is asked once through
nginx: the first request to an idle tenant, median and p99, counted apart.
The tenants' ports lie below the kernel's ephemeral range (free_port_block);
the script needs an fd limit above N (free_port_block holds N sockets).
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
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from tenantd_test import UnixHTTPConnection, free_port_block  # noqa: E402
from bench_supervisor import rss_kb, tree  # noqa: E402


def api(sock, path):
    c = UnixHTTPConnection(sock)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def count(sock, state):
    st, h, _ = api(sock, f"/v1/tenants?state={state}&limit=1")
    return int(h.get("x-total-count", "0")) if st == 200 else -1


def via_nginx(port, host, path="/healthz", timeout=2):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Host": host})
        r = c.getresponse()
        r.read()
        return r.status
    except OSError:
        return None
    finally:
        c.close()


def post(sock, path):
    c = UnixHTTPConnection(sock)
    try:
        c.request("POST", path, body=b"")
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return int(v[11]) + int(v[12])  # utime + stime


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def timed(fn, reps):
    t = time.monotonic()
    for _ in range(reps):
        fn()
    return (time.monotonic() - t) / reps * 1000


def wait(pred, deadline):
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def write_tenant(root, i, base, worker_lines, sub=None):
    text = (f"[tenant]\nname = Cabinet {i}\nplan = starter\n"
            + (f"subdomain = {sub}\n" if sub else "")
            + f"[worker]\nport = {base + i}\npassword_cost = min\n{worker_lines}")
    path = os.path.join(root, "tenants.d", f"t{i:05d}.ini")
    with open(path + ".tmp~", "w") as f:
        f.write(text)
    os.rename(path + ".tmp~", path)


def run(builddir, n):
    idle_from = int(os.environ.get("BENCH_IDLE_FROM", "5001"))
    idle_after = os.environ.get("BENCH_IDLE_AFTER", "") if n >= idle_from else ""
    if n > 5000 and not idle_after:
        print(f"N={n}: skipped: needs the idle state (BENCH_IDLE_AFTER=...), see the header")
        return
    real = os.environ.get("BENCH_WORKER") == "real"
    root = tempfile.mkdtemp(prefix="tenantd-bench-", dir="/var/tmp")
    os.chmod(root, 0o755)
    base = free_port_block(n + 2)
    proxy_port, admin_port = base + n, base + n + 1
    os.makedirs(os.path.join(root, "tenants.d"))
    shutil.copy(os.path.join(REPO, "plans.ini"), root)
    with open(os.path.join(root, "tenantd.ini"), "w") as f:
        f.write(f"[tenantd]\nport_range = {base}-{base + n - 1}\n"
                f"templates = {os.path.join(REPO, 'templates')}\n"
                f"[admin]\nlisten = 127.0.0.1:{admin_port}\n"
                f"[proxy]\nmode = managed\nlisten = 127.0.0.1:{proxy_port}\n"
                f"templates = {os.path.join(REPO, 'templates', 'nginx')}\n"
                f"[backup]\nevery = 0\n")
    worker_lines = "" if real else (
        f"command = {os.path.join(builddir, 'helpers', 'miniworker')}\nsocket = passed\n")
    if idle_after:
        worker_lines += f"idle_after = {idle_after}\n"
    for i in range(n):
        write_tenant(root, i, base, worker_lines)

    print(f"N={n}: load average {' '.join('%.2f' % x for x in os.getloadavg())}")
    sys.stdout.flush()
    log = open(os.path.join(root, "tenantd.stderr"), "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen([os.path.join(builddir, "tenantd"), "-c",
                             os.path.join(root, "tenantd.ini")],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    sock = os.path.join(root, "run", "admin.sock")
    pids = set()
    try:
        limit = max(300, n * 0.06)
        deadline = t0 + limit

        def up():
            try:
                if idle_after:
                    return count(sock, "running") + count(sock, "idle") == n
                return count(sock, "running") == n
            except OSError:
                return False
        if not wait(up, deadline):
            print(f"N={n}: not every tenant up within {limit:.0f} s (see {root}/tenantd.stderr)")
            return
        running_s = time.monotonic() - t0
        idle_at_boot = count(sock, "idle")
        woken = []
        def proxy_ready():
            st, _, b = api(sock, "/v1/proxy")
            v = json.loads(b) if st == 200 else {}
            return v.get("generation") and v.get("nginx_pid") and \
                via_nginx(proxy_port, "no-such-tenant.localhost") == 404
        if not wait(proxy_ready, deadline):
            print(f"N={n}: nginx never served the tenants' config (see {root}/tenantd.stderr)")
            return
        proxy_s = time.monotonic() - t0
        if idle_after:
            # A bounded sample, asked once each through nginx; each was idle.
            k = min(n, int(os.environ.get("BENCH_IDLE_SAMPLE", "200")))
            for i in sorted({j * n // k for j in range(k)}):
                t = time.monotonic()
                if via_nginx(proxy_port, f"t{i:05d}.localhost", "/", timeout=10) == 200:
                    woken.append((time.monotonic() - t) * 1000)
            answer_s = float("nan")
        else:
            todo = list(range(n))
            while todo and time.monotonic() < deadline:
                todo = [i for i in todo if via_nginx(proxy_port, f"t{i:05d}.localhost") != 200]
                if todo:
                    time.sleep(0.2)
            if todo:
                print(f"N={n}: {len(todo)} tenants never answered through nginx")
                return
            answer_s = time.monotonic() - t0
        idle_s = float(os.environ.get("BENCH_IDLE_SECONDS", "10"))
        c0 = cpu_ticks(proc.pid)
        time.sleep(idle_s)  # the measurement itself: CPU while nothing happens
        cpu_pct = (cpu_ticks(proc.pid) - c0) / os.sysconf("SC_CLK_TCK") / idle_s * 100 \
            if idle_s > 0 else float("nan")
        pids.update(tree(proc.pid))
        fds = len(os.listdir(f"/proc/{proc.pid}/fd"))
        rss = rss_kb(proc.pid) / 1024
        # The live generation of the config: <run>/nginx/live -> conf.<n>.
        live = os.path.join(root, "run", "nginx", "live")
        conf = os.path.join(live, "tenants.conf")
        conf_kib = os.path.getsize(conf) / 1024 if os.path.exists(conf) else float("nan")
        t = time.monotonic()
        r = subprocess.run(["nginx", "-t", "-q", "-p", os.path.join(root, "run", "nginx"), "-c",
                            os.path.join(live, "main.conf")], capture_output=True, timeout=120)
        ngx_t_ms = (time.monotonic() - t) * 1000 if r.returncode == 0 else float("nan")

        # One subdomain changes: render, nginx -t, reload, until the new name answers.
        t = time.monotonic()
        write_tenant(root, 0, base, worker_lines, sub="renamed0")
        ok = wait(lambda: via_nginx(proxy_port, "renamed0.localhost", timeout=10) == 200,
                  time.monotonic() + 120)
        proxy_apply_s = time.monotonic() - t if ok else float("nan")
        if not ok:
            with open(os.path.join(root, "tenantd.stderr"), errors="replace") as f:
                said = [l.rstrip() for l in f if "proxy" in l][-4:]
            print(f"N={n}: the renamed subdomain did not answer within 120 s; tenantd said:\n  "
                  + "\n  ".join(said))

        lat_all = timed(lambda: api(sock, "/v1/tenants"), 3)
        lat_page = timed(lambda: api(sock, "/v1/tenants?limit=50&after=t00100"), 20)
        lat_none = timed(lambda: api(sock, "/v1/tenants?state=failed"), 20)
        lat_one = timed(lambda: api(sock, f"/v1/tenants/t{n // 2:05d}"), 50)

        # One tenant's file changes (its [firm] color): POST /v1/reload's
        # latency is the reload itself (inotify's own reload follows, debounced).
        reloads = []
        for tid in ("t00002", "t00003", "t00004", "t00005", "t00006"):
            path = os.path.join(root, "tenants.d", f"{tid}.ini")
            with open(path) as f:
                text = f.read()
            with open(path + ".tmp~", "w") as f:
                f.write(text + "[firm]\ncolor = #123456\n")
            os.rename(path + ".tmp~", path)
            t = time.monotonic()
            st, _ = post(sock, "/v1/reload")
            if st == 200:
                reloads.append((time.monotonic() - t) * 1000)
        reload_ms = pct(reloads, 0.5)
        # tenantd's own figure: "reloaded in X ms" (read, parse, apply), the
        # last five, without the API's and the audit log's share.
        with open(os.path.join(root, "tenantd.stderr"), errors="replace") as f:
            inside = [float(l.rsplit("reloaded in ", 1)[1].split()[0]) for l in f
                      if "reloaded in " in l][-5:]
        inside_ms = pct(inside, 0.5)

        # With every worker running: its worker restarts and answers again.
        reload_one_s = float("nan")
        if not idle_after:
            st, _, body = api(sock, "/v1/tenants/t00001")
            old = json.loads(body)["pid"]
            path = os.path.join(root, "tenants.d", "t00001.ini")
            with open(path) as f:
                text = f.read()
            t = time.monotonic()
            with open(path + ".tmp~", "w") as f:
                f.write(text + "[firm]\ncolor = #123456\n")
            os.rename(path + ".tmp~", path)

            def restarted():
                s, _, b = api(sock, "/v1/tenants/t00001")
                v = json.loads(b)
                return v["state"] == "running" and v["pid"] not in (None, old) and \
                    via_nginx(proxy_port, "t00001.localhost") == 200
            ok = wait(restarted, time.monotonic() + 60)
            reload_one_s = time.monotonic() - t if ok else float("nan")

        if idle_after:
            first = (f"up (running or idle) in {running_s:.1f} s, {idle_at_boot} idle at boot, "
                     f"nginx serving their config at {proxy_s:.1f} s; "
                     f"first request to an idle tenant through nginx: {len(woken)} of a sample "
                     f"answered, median {pct(woken, 0.5):.1f} ms, p99 {pct(woken, 0.99):.1f} ms")
        else:
            first = (f"running in {running_s:.1f} s, all answer via nginx in {answer_s:.1f} s")
        print(f"N={n} worker={'tenant-worker' if real else 'miniworker'}"
              f"{' idle_after=' + idle_after if idle_after else ''}: {first}; "
              f"tenantd RSS {rss:.1f} MiB, {fds} fds ({fds / n:.2f}/tenant); "
              f"tenantd idle CPU {cpu_pct:.2f} % of a core; "
              f"nginx tenants.conf {conf_kib:.0f} KiB, nginx -t {ngx_t_ms:.0f} ms, "
              f"subdomain change answering in {proxy_apply_s * 1000:.0f} ms; "
              f"GET /v1/tenants all {lat_all:.1f} ms, page of 50 {lat_page:.2f} ms, "
              f"filter none {lat_none:.2f} ms, one {lat_one:.2f} ms; "
              f"one tenant's file changed: POST /v1/reload {reload_ms:.0f} ms (median of 5; "
              f"tenantd's own reload {inside_ms:.0f} ms)"
              + ("" if idle_after else
                 f", new worker answering in {reload_one_s * 1000:.0f} ms"))
        sys.stdout.flush()
    finally:
        pids.update(tree(proc.pid))
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
        if os.environ.get("BENCH_KEEP"):
            print(f"N={n}: root kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main():
    builddir = os.path.abspath(sys.argv[1])
    for n in [int(x) for x in sys.argv[2:]] or [1000, 3000]:
        run(builddir, n)


if __name__ == "__main__":
    main()
