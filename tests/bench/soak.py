"""
Soak test of tenantd (run by hand through soak.sh; not part of `make test`).

For N minutes: 100 tenants under the real tenantd and worker, client load on
a share of them, and at random (seeded) moments: kill -9 of a worker, a
reload, an onboard/offboard cycle through the admin API (when tenantd has
it). At the end every loaded tenant's database is checked: integrity, every
acknowledged write present, invoice numbers without gap or duplicate.

Prints: requests served, errors, restarts, lost writes. Exits 1 if any write
was lost or any database is damaged.
"""
import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from tenantd_test import paths, procs, workload  # noqa: E402  (the integration harness)
from tenantd_test.root import TenantdRoot  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builddir")
    ap.add_argument("minutes", nargs="?", type=float, default=2.0)
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--loaded", type=int, default=20, help="tenants with client load")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", "4242")))
    args = ap.parse_args()

    paths.BUILDDIR = os.path.abspath(args.builddir)
    binpath = paths.binpath
    rng = random.Random(args.seed)
    d = tempfile.mkdtemp(prefix="tenantd-soak-", dir="/var/tmp")
    os.chmod(d, 0o755)
    root = TenantdRoot(d, n_ports=args.tenants + 40)
    ids = [f"soak{i:03d}" for i in range(args.tenants)]
    for tid in ids:
        root.add_tenant(tid, plan="enterprise")
    writers = []
    stats = {"kills": 0, "reloads": 0, "onboarded": 0, "offboarded": 0, "tenantd_restarts": 0}
    known_pids = set()
    rc = 0
    try:
        t0 = time.monotonic()
        root.start()
        print(f"soak: {args.tenants} tenants running after {time.monotonic() - t0:.1f}s "
              f"(root {d}, seed {args.seed})", flush=True)
        loaded = rng.sample(ids, min(args.loaded, len(ids)))
        for tid in loaded:
            pw = workload.bootstrap_admin(root, tid, binpath)
            port = root.status(tid)["port"]
            token = workload.login(port, "admin", pw)
            w = workload.Writer(port, token, rng.choice(["invoice", "analysis"]),
                                pause_on_error=0.1)
            writers.append((tid, w))
            w.start()

        onboarding = True
        n_new = 0
        deadline = time.monotonic() + args.minutes * 60
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.2, 1.0))
            known_pids.update(p for p in root.pids().values() if p)
            action = rng.random()
            if action < 0.5:
                tid = rng.choice(ids)
                s = root.status(tid)
                if s["state"] == "running" and s["pid"]:
                    os.kill(s["pid"], signal.SIGKILL)
                    stats["kills"] += 1
            elif action < 0.7:
                r = root.post("/v1/reload")
                if r.status in (200, 202):
                    stats["reloads"] += 1
            elif action < 0.9 and onboarding:
                nid = f"soaknew{n_new}"
                n_new += 1
                r = root.post("/v1/tenants", {"id": nid, "name": f"Cabinet {nid}",
                                              "plan": "starter"})
                if r.status in (404, 405):
                    onboarding = False
                    print("soak: no onboarding API; onboard/offboard cycles skipped")
                    continue
                if r.status == 201:
                    stats["onboarded"] += 1
                    r = root.request("DELETE", f"/v1/tenants/{nid}")
                    if r.status in (200, 202, 204):
                        stats["offboarded"] += 1
                    else:
                        print(f"soak: offboard {nid}: {r.status} {r.text.strip()}")
                else:
                    print(f"soak: onboard {nid}: {r.status} {r.text.strip()}")
            elif stats["tenantd_restarts"] == 0 and time.monotonic() > deadline - args.minutes * 30:
                # tenantd itself, once, half-way: killed hard and started again.
                root.stop(sig=signal.SIGKILL)
                root.start(wait_ids=[])
                stats["tenantd_restarts"] += 1
        # Let every tenant settle before the final count.
        for tid, _ in writers:
            root.wait_state(tid, "running", timeout=60)
    finally:
        for _, w in writers:
            w.stop(timeout=60)
        try:
            status = root.status() if root.proc and root.proc.poll() is None else []
        except Exception:
            status = []
        root.stop()
        for p in known_pids:
            if procs.pid_alive(p):
                os.kill(p, signal.SIGKILL)

    served = sum(len(w.acked) + sum(w.statuses.values()) for _, w in writers)
    errors = sum(w.errors + sum(w.statuses.values()) for _, w in writers)
    restarts = sum(t.get("restarts", 0) for t in status)
    lost = 0
    damaged = []
    for tid, w in writers:
        inv = w.acked if w.kind == "invoice" else []
        ana = w.acked if w.kind == "analysis" else []
        try:
            workload.check_db(workload.db_path(root, tid), inv, ana)
        except AssertionError as e:
            damaged.append(f"{tid}: {e}")
            db = workload.open_ro(workload.db_path(root, tid))
            try:
                if w.kind == "invoice":
                    have = {r[0] for r in db.execute("SELECT numero FROM invoices")}
                else:
                    have = {r[0] for r in db.execute("SELECT id FROM ceseda_analyses")}
                lost += len(set(w.acked) - have)
            finally:
                db.close()
    print(f"soak: {args.minutes:g} min, {args.tenants} tenants, {len(writers)} under load")
    print(f"soak: requests served {served}, errors {errors} "
          f"(unanswered {sum(w.errors for _, w in writers)}), "
          f"acknowledged writes {sum(len(w.acked) for _, w in writers)}")
    print(f"soak: kills {stats['kills']}, restarts by tenantd (since its last start) {restarts}, "
          f"tenantd restarts {stats['tenantd_restarts']}, reloads {stats['reloads']}, "
          f"onboarded {stats['onboarded']}, offboarded {stats['offboarded']}")
    print(f"soak: lost writes {lost}")
    for line in damaged:
        print(f"soak: DAMAGED {line}")
    if lost or damaged:
        rc = 1
        print(f"soak: root kept for inspection: {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
