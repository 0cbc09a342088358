"""
Fault behaviour, with the real tenantd and the real worker (the `root`
fixture): nothing acknowledged is ever lost, and one tenant's fault never
takes another down.

  - kill -9 of workers at random moments, and of tenantd once, under write load
  - the data disk full (a tmpfs mounted as one tenant's data dir; root only)
  - a worker that hangs (liveness restarts it)
  - a worker that floods its output (its log stays within budget)
  - a corrupt database file (clear state, others unaffected, restore fixes it)

The random moments come from a seeded RNG, so a failure can be replayed;
every wait is bounded.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from tenantd_test import binpath, helper, pid_alive, wait_for
from tenantd_test.workload import (Writer, bootstrap_admin, check_db, data_dir, db_path, login,
                      worker_request)

SEED = int(os.environ.get("TENANTD_FAULT_SEED", "20261121"))


def start_with_admins(root, ids, plan="enterprise", **sections):
    for tid in ids:
        root.add_tenant(tid, plan=plan, **sections)
    root.start()
    tokens = {}
    for tid in ids:
        pw = bootstrap_admin(root, tid, binpath)
        port = root.status(tid)["port"]
        tokens[tid] = (port, login(port, "admin", pw))
    return tokens


def wait_running_new_pid(root, tid, old_pid, timeout=30):
    return root.wait_state(tid, "running", timeout=timeout,
                           pred=lambda s: s["pid"] and s["pid"] != old_pid)


def test_kill9_workers_and_tenantd_under_write_load(root):
    rng = random.Random(SEED)
    ids = ["ft-alpha", "ft-beta"]
    tokens = start_with_admins(root, ids)
    writers = []
    for tid in ids:
        port, token = tokens[tid]
        writers.append((tid, Writer(port, token, "invoice")))
        writers.append((tid, Writer(port, token, "analysis")))
    for _, w in writers:
        w.start()

    kills = 0
    tenantd_restarted = False
    try:
        for round_no in range(8):
            # Let some writes through, then strike at a random moment.
            target = sum(len(w.snapshot()) for _, w in writers) + rng.randint(5, 40)
            wait_for(lambda: sum(len(w.snapshot()) for _, w in writers) >= target,
                     timeout=30, what="writes to progress")
            time.sleep(rng.uniform(0.0, 0.3))
            if round_no == 4 and not tenantd_restarted:
                old = root.pids()
                root.stop(sig=signal.SIGKILL)
                # The workers must not outlive tenantd (parent-death signal).
                for pid in old.values():
                    if pid:
                        wait_for(lambda p=pid: not pid_alive(p), timeout=10,
                                 what=f"worker {pid} to die with tenantd")
                root.start()
                tenantd_restarted = True
                continue
            tid = rng.choice(ids)
            s = root.wait_state(tid, "running", timeout=30)
            os.kill(s["pid"], signal.SIGKILL)
            kills += 1
            wait_running_new_pid(root, tid, s["pid"])
        # A last stretch of writes after the chaos, on every tenant.
        target = sum(len(w.snapshot()) for _, w in writers) + 20
        wait_for(lambda: sum(len(w.snapshot()) for _, w in writers) >= target,
                 timeout=30, what="writes after the last kill")
    finally:
        for _, w in writers:
            w.stop()

    assert kills == 7 and tenantd_restarted
    print("acked:", {f"{t}/{w.kind}": len(w.acked) for t, w in writers},
          "unanswered:", sum(w.errors for _, w in writers),
          "non-2xx:", [w.statuses for _, w in writers])
    root.stop()
    for tid in ids:
        inv = [x for t, w in writers if t == tid and w.kind == "invoice" for x in w.acked]
        ana = [x for t, w in writers if t == tid and w.kind == "analysis" for x in w.acked]
        assert len(inv) > 20 and len(ana) > 20, (tid, len(inv), len(ana))
        n_inv, n_ana = check_db(db_path(root, tid), inv, ana)
        assert n_inv >= len(inv) and n_ana >= len(ana)


def test_backup_under_write_load_restores_everything_committed_before(root):
    tokens = start_with_admins(root, ["ft-gamma"])
    port, token = tokens["ft-gamma"]
    w = Writer(port, token, "invoice")
    w.start()
    try:
        wait_for(lambda: len(w.snapshot()) >= 50, timeout=30, what="50 invoices")
        before = w.snapshot()
        r = root.tenantctl("backup", "ft-gamma", "--json")
        path = json.loads(r.stdout)["path"]
        after_backup = len(w.snapshot())
        wait_for(lambda: len(w.snapshot()) >= after_backup + 20, timeout=30,
                 what="writes after the backup")
    finally:
        w.stop()
    assert os.path.dirname(path) == os.path.join(data_dir(root, "ft-gamma"), "backups")
    all_acked = w.snapshot()

    # The copy itself: consistent, and holds every write acknowledged before it began.
    check_db(path, before)
    r = root.tenantctl("restore", "ft-gamma", path, "--json")
    out = json.loads(r.stdout)
    assert out["state"] == "running"
    root.wait_state("ft-gamma", "running")
    n_inv, _ = check_db(db_path(root, "ft-gamma"), before)
    assert n_inv < len(all_acked)  # the later writes are not in the restored copy ...
    # ... but nothing is lost: they are in the database kept aside.
    check_db(out["previous"], all_acked)
    # And the restored tenant serves and numbers on without a gap.
    st, body = worker_request(port, "POST", "/api/invoices", {
        "client_name": "After restore",
        "items": [{"description": "x", "quantity": 1, "unit_price_cents": 100}]}, token)
    assert st == 201 or st == 200, (st, body)
    root.stop()
    check_db(db_path(root, "ft-gamma"), before + [body["numero"]])


@pytest.fixture
def tmpfs_root(request):
    """A test root under /var/tmp whose tenant "ft-full" has a tmpfs of 8 MiB as
    its data dir. Root only; unmounted in teardown."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs (the disk-full test)")
    if shutil.which("mount") is None:
        pytest.skip("no mount(8) on this machine")
    mounts = []
    yield mounts
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", m], check=False)


def test_data_disk_full_refuses_writes_keeps_reads_and_recovers(root, tmpfs_root):
    d = data_dir(root, "ft-full")
    os.makedirs(d)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tenantd-test", d],
                   check=True)
    tmpfs_root.append(d)
    tokens = start_with_admins(root, ["ft-full", "ft-other"])
    port, token = tokens["ft-full"]
    pid = root.status("ft-full")["pid"]
    acked = []
    for i in range(5):
        st, body = worker_request(port, "POST", "/api/invoices", {
            "client_name": f"c{i}", "items": [{"description": "x", "quantity": 1,
                                               "unit_price_cents": 100}]}, token)
        assert 200 <= st < 300, (st, body)
        acked.append(body["numero"])

    # Fill the file system: what is left for the database is nothing.
    filler = os.path.join(d, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    refused = None
    for i in range(200):  # the WAL may still have room for a few writes
        st, body = worker_request(port, "POST", "/api/invoices", {
            "client_name": f"big{i}", "items": [{"description": "y" * 500, "quantity": 1,
                                                 "unit_price_cents": 100}] * 8}, token)
        if 200 <= st < 300:
            acked.append(body["numero"])
            continue
        refused = (st, body)
        break
    assert refused is not None, "writes never failed on a full disk"
    assert 500 <= refused[0] < 600, refused
    assert isinstance(refused[1], dict) and "error" in refused[1], refused
    # Reads still work, from the same process.
    st, body = worker_request(port, "GET", "/api/invoices", token=token)
    assert st == 200, (st, body)
    assert root.status("ft-full")["pid"] == pid
    # The other tenant never noticed.
    st, _ = worker_request(tokens["ft-other"][0], "GET", "/healthz")
    assert st == 200

    os.unlink(filler)
    def write_ok():
        st, body = worker_request(port, "POST", "/api/invoices", {
            "client_name": "after", "items": [{"description": "z", "quantity": 1,
                                               "unit_price_cents": 100}]}, token)
        if 200 <= st < 300:
            acked.append(body["numero"])
            return True
        return False
    wait_for(write_ok, timeout=15, interval=0.2, what="writes to work again once space is back")
    root.stop()
    check_db(db_path(root, "ft-full"), acked)


def test_hanging_worker_is_restarted_by_liveness(root):
    root.add_tenant("ft-hang", worker={"command": helper("hangworker")})
    root.add_tenant("ft-calm", plan="starter")
    root.start()
    calm_pid = root.status("ft-calm")["pid"]
    first = root.status("ft-hang")["pid"]
    # hangworker answers /healthz for 1 s, then never again.
    s = wait_running_new_pid(root, "ft-hang", first, timeout=30)
    assert s["restarts"] >= 1
    assert not pid_alive(first)
    assert root.status("ft-calm")["pid"] == calm_pid


def test_flooding_worker_stays_within_log_budget(root):
    budget = 1 << 20
    root.add_tenant("ft-flood", worker={"command": helper("floodworker")},
                    limits={"log_budget": "1M"})
    root.add_tenant("ft-calm", plan="starter")
    root.start()
    calm = root.status("ft-calm")
    flood_pid = root.status("ft-flood")["pid"]

    def flood_done():
        st, body = worker_request(root.status("ft-flood")["port"], "GET", "/flood", timeout=5)
        return st == 200 and body and body.get("done")

    # While the flood runs, tenantd and the other tenant answer promptly.
    deadline = time.monotonic() + 60
    while not flood_done():
        assert time.monotonic() < deadline, "the flood did not finish: its output is blocked"
        t0 = time.monotonic()
        assert root.get("/v1/tenants").status == 200
        st, _ = worker_request(calm["port"], "GET", "/healthz", timeout=5)
        assert st == 200
        assert time.monotonic() - t0 < 2.0, "tenantd or another tenant stalled during a flood"
        time.sleep(0.05)
    assert root.status("ft-flood")["pid"] == flood_pid
    assert root.status("ft-calm")["pid"] == calm["pid"]
    logs = os.path.join(root.path, "logs")
    total = sum(os.path.getsize(os.path.join(logs, f)) for f in os.listdir(logs)
                if f == "ft-flood.log" or f.startswith("ft-flood.log."))
    # Rotation happens at a line boundary: allow one line_max of slack per file.
    assert total <= budget + 4 * 4096, f"flood logs take {total} bytes, budget {budget}"


def test_corrupt_database_fails_clearly_and_restore_fixes_it(root):
    tokens = start_with_admins(root, ["ft-broken", "ft-healthy"])
    port, token = tokens["ft-broken"]
    acked = []
    for i in range(10):
        st, body = worker_request(port, "POST", "/api/invoices", {
            "client_name": f"c{i}", "items": [{"description": "x", "quantity": 1,
                                               "unit_price_cents": 100}]}, token)
        assert 200 <= st < 300, (st, body)
        acked.append(body["numero"])
    backup = json.loads(root.tenantctl("backup", "ft-broken", "--json").stdout)["path"]
    healthy_pid = root.status("ft-healthy")["pid"]

    assert root.post("/v1/tenants/ft-broken/stop").status in (200, 202)
    root.wait_state("ft-broken", "stopped")
    db = db_path(root, "ft-broken")
    with open(db, "r+b") as f:
        f.write(b"this is not an SQLite database, it was overwritten" * 2)
    assert root.post("/v1/tenants/ft-broken/start").status in (200, 202)
    s = root.wait_state("ft-broken", "failed", timeout=60)
    assert s["state_reason"] or s["last_exit"], s
    assert root.status("ft-healthy")["pid"] == healthy_pid
    st, _ = worker_request(tokens["ft-healthy"][0], "GET", "/healthz")
    assert st == 200

    r = root.tenantctl("restore", "ft-broken", backup, "--json")
    assert json.loads(r.stdout)["state"] == "running"
    root.wait_state("ft-broken", "running")
    st, body = worker_request(port, "GET", "/api/invoices", token=token)
    assert st == 200, (st, body)
    root.stop()
    check_db(db, acked)
