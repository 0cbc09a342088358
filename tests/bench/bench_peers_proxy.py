"""
bench_peers_proxy.py — the "through nginx vs direct" row of bench_peers.py.

One tenant (tenant-worker) under tenantd with its managed nginx and the
config tenantd generates from templates/nginx; requests/s with wrk on
loopback, straight to the worker and through nginx, alternated for
BENCH_PROXY_ROUNDS rounds (best of each kept: other load on a shared machine
only ever lowers a figure), on GET /healthz and on GET /api/billing/usage
(an admin made through the admin API, a bearer token from the worker's
login). Also the CPU each process spent per request during the nginx runs,
which says where the rest of the time goes on a machine where wrk, nginx and
the worker share the cores.

Run by bench_peers.py, or alone: bench_peers_proxy.py BUILDDIR.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers_sys as ps  # noqa: E402
from tenantd_test import free_port_block  # noqa: E402

DURATION = os.environ.get("BENCH_WRK_DURATION", "5s")
ROUNDS = int(os.environ.get("BENCH_PROXY_ROUNDS", "3"))
CONNS = os.environ.get("BENCH_WRK_CONNECTIONS", "64")


def wrk(url, headers):
    argv = ["wrk", "-t2", f"-c{CONNS}", f"-d{DURATION}"]
    for h in headers:
        argv += ["-H", h]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=120).stdout
    rps, errors = 0.0, 0
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            rps = float(line.split()[1])
        if "Non-2xx" in line or "Socket errors" in line:
            errors += 1
    return rps, errors


def cpu_of(pids):
    t = {}
    for p in pids:
        try:
            t[p] = ps.cpu_ticks(p)
        except OSError:
            pass
    return t


def spent(before, after):
    # Only processes seen at both ends: one that went away in between
    # would otherwise count negative.
    return sum(after[p] - before[p] for p in before if p in after)


def comm(p):
    try:
        with open(f"/proc/{p}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class Proxied(ps.TenantdWorker):
    proxy = "managed"


def run(builddir):
    print("\nthrough tenantd's managed nginx vs direct (one tenant, tenant-worker, "
          f"wrk -t2 -c{CONNS} -d{DURATION}, best of {ROUNDS} alternated rounds):")
    base = free_port_block(3)
    sysm = Proxied(builddir, 1, base)
    sysm.proxy_port = base + 2
    try:
        sysm.start()
        deadline = time.monotonic() + 60
        import bench_peers as bp
        if (bp.answering([sysm.port(0)], deadline) is None
                or bp.answering([sysm.proxy_port], deadline, "t0000.localhost") is None):
            print("  the tenant or nginx did not answer within 60 s:\n" + sysm.log_tail())
            return
        st, body = sysm.api("POST", "/v1/tenants/t0000/admins", {"username": "bench"})
        if st not in (200, 201):
            print(f"  cannot create an admin: HTTP {st} {body}")
            return
        pw = body["admin"]["password"]
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", sysm.port(0), timeout=10)
        c.request("POST", "/api/auth/login", json.dumps({"username": "bench", "password": pw}),
                  {"Content-Type": "application/json"})
        tok = json.loads(c.getresponse().read())["token"]
        c.close()
        host = "Host: t0000.localhost"
        auth = f"Authorization: Bearer {tok}"
        sup = sysm.sup_pid()

        def pids():
            # Looked up before each run: a reload of nginx (tenantd's proxy
            # config rewritten) replaces its workers, whose CPU would be lost.
            kids = [p for p in ps.tree(sup) if p != sup]
            return ([p for p in kids if comm(p) == "nginx"],
                    [p for p in kids if comm(p) != "nginx"])

        print("| path | direct req/s | through nginx req/s | ratio | CPU µs per request "
              "through nginx: nginx / worker |")
        print("|---|---|---|---|---|")
        for path, hs in (("/healthz", []), ("/api/billing/usage", [auth])):
            best_d = best_p = 0.0
            per_req = ""
            for _ in range(ROUNDS):
                d, e1 = wrk(f"http://127.0.0.1:{sysm.port(0)}{path}", hs)
                nginx, worker = pids()
                n0, w0 = cpu_of(nginx), cpu_of(worker)
                p, e2 = wrk(f"http://127.0.0.1:{sysm.proxy_port}{path}", hs + [host])
                n1, w1 = cpu_of(nginx), cpu_of(worker)
                # nginx reloaded in between (tenantd reloads it to reopen an
                # access log it rotated): its old workers' CPU is lost.
                reloaded = set(pids()[0]) != set(nginx)
                if e1 or e2:
                    print(f"  {path}: wrk saw errors (non-2xx or socket errors)")
                best_d = max(best_d, d)
                if p > best_p:
                    best_p = p
                    secs = float(DURATION.rstrip("s"))
                    reqs = p * secs
                    tck = os.sysconf("SC_CLK_TCK")
                    per_req = (f"{1e6 * spent(n0, n1) / tck / reqs:.1f} / "
                               f"{1e6 * spent(w0, w1) / tck / reqs:.1f}")
                    if reloaded:
                        per_req = ("nginx reloaded during the run (access log rotated) / "
                                   f"{1e6 * spent(w0, w1) / tck / reqs:.1f}")
            ratio = f"{100 * best_p / best_d:.0f} %" if best_d else "—"
            print(f"| {path} | {best_d:.0f} | {best_p:.0f} | {ratio} | {per_req} |")
            sys.stdout.flush()
    finally:
        sysm.stop()


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1]))
