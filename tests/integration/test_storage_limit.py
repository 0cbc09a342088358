"""
The plan's storage limit (issue 12): `storage` in a plan's profile or a
tenant's [limits]. A tenant that fills it gets 507 plan_limit JSON from the
bundled worker (SQLite's max_page_count) and keeps reading its data; other
tenants keep serving and writing; tenantd measures every data dir, shows
usage against the limit in status and /metrics, flags a tenant over it, and
an operator's suspend of the filler is recorded in state.db.
"""
import errno
import os
import sqlite3
import subprocess

import pytest

from tenantd_test import binpath, wait_for
from tenantd_test.workload import bootstrap_admin, data_dir, login, worker_request

LIMIT = 2 * 1024 * 1024


def test_filling_the_storage_limit(root):
    root.write_global(tenantd={"storage_check": "1s"})
    full_port = root.add_tenant("st-full", limits={"storage": "2M"})
    other_port = root.add_tenant("st-other")
    root.start()
    tokens = {}
    for tid, port in (("st-full", full_port), ("st-other", other_port)):
        tokens[tid] = login(port, "admin", bootstrap_admin(root, tid, binpath))

    # Fill: ~19 KB cases until the database is full (bounded: 1.5 MiB of
    # database holds fewer than 100 of them).
    text = "Recours contre une OQTF, demande de titre de séjour. " * 360
    got = None
    for i in range(200):
        st, body = worker_request(full_port, "POST", "/api/analyses",
                                  {"case_text": f"{i} {text}"}, tokens["st-full"])
        if st != 201 and st != 200:
            got = (st, body)
            break
    assert got is not None, "the storage limit was never reached"
    st, body = got
    assert st == 507, got
    assert body["error"] == "plan_limit" and body["limit"] == "storage", body
    assert body["limit_bytes"] == LIMIT and "storage" in body["detail"], body

    # The filler still reads its data; the other tenant keeps writing.
    st, body = worker_request(full_port, "GET", "/api/analyses", None, tokens["st-full"])
    assert st == 200, (st, body)
    for i in range(5):
        st, body = worker_request(other_port, "POST", "/api/analyses",
                                  {"case_text": f"{i} {text}"}, tokens["st-other"])
        assert st in (200, 201), (st, body)

    # tenantd's accounting: usage against the limit in status and /metrics.
    s = wait_for(lambda: (root.status("st-full").get("storage") or {}).get("used_bytes", 0)
                 > LIMIT // 2 and root.status("st-full"),
                 timeout=20, interval=0.2, what="a storage measure of st-full")
    assert s["storage"]["limit_bytes"] == LIMIT, s["storage"]
    assert root.status("st-other")["storage"]["limit_bytes"] is None
    metrics = root.get("/metrics").text
    assert f'tenantd_tenant_storage_limit_bytes{{tenant="st-full"}} {LIMIT}' in metrics
    assert 'tenantd_tenant_storage_bytes{tenant="st-other"}' in metrics
    assert 'tenantd_tenant_storage_limit_bytes{tenant="st-other"}' not in metrics

    # A tenant over its limit by other means (files beside the database) is
    # flagged over, and logged once.
    dd = data_dir(root, "st-full")
    with open(os.path.join(dd, "ballast"), "wb") as f:
        f.write(os.urandom(LIMIT))
    wait_for(lambda: root.status("st-full")["storage"]["over"], timeout=20, interval=0.2,
             what="st-full flagged over its storage limit")
    assert "storage over the plan's limit" in root.log()
    # ... and read-only: tenantd's flag, seen by the worker inside its jail,
    # refuses every write before it reaches the database; reads still work.
    flag = os.path.join(root.run_dir, "flags", "st-full", "storage-full")
    assert os.path.exists(flag)
    st, body = worker_request(full_port, "POST", "/api/users",
                              {"username": "new", "password": "x" * 12, "role": "lawyer"},
                              tokens["st-full"])
    assert st == 507 and body["error"] == "plan_limit" and "read-only" in body["detail"], body
    st, body = worker_request(full_port, "GET", "/api/analyses", None, tokens["st-full"])
    assert st == 200, (st, body)
    # Back under the limit: the flag goes away.
    os.unlink(os.path.join(dd, "ballast"))
    wait_for(lambda: not root.status("st-full")["storage"]["over"], timeout=20, interval=0.2,
             what="st-full back under its storage limit")
    wait_for(lambda: not os.path.exists(flag), timeout=5, what="the flag removed")

    # The operator's suspend is recorded, not only acknowledged.
    root.tenantctl("suspend", "st-full")
    root.wait_state("st-full", "suspended")
    db = sqlite3.connect(f"file:{os.path.join(root.run_dir, 'state.db')}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT state FROM desired WHERE tenant = 'st-full'").fetchone()
    finally:
        db.close()
    assert row == ("suspended",), row
    st, body = worker_request(other_port, "GET", "/api/analyses", None, tokens["st-other"])
    assert st == 200


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs on the run dir")
def test_an_action_state_db_cannot_record_is_refused(root, skip_alert):
    """The run dir on a full disk: the first suspend spends tenantd's reserve
    and is recorded; once the disk is full again, resume is refused (507) and
    the recorded wish stays."""
    skip_alert(r"disk of the run dir is full")
    run = root.run_dir
    os.makedirs(run, mode=0o700, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs", run], check=True)
    try:
        root.add_tenant("st-a")
        root.start()
        assert os.path.getsize(os.path.join(run, "disk-reserve")) == 8 * 1024 * 1024

        def fill(name):
            with open(os.path.join(run, name), "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e

        fill("filler-1")
        r = root.post("/v1/tenants/st-a/suspend")
        assert r.status == 202, (r.status, r.text)
        root.wait_state("st-a", "suspended")
        assert not os.path.exists(os.path.join(run, "disk-reserve"))
        assert "released the" in root.log()

        fill("filler-2")
        r = root.post("/v1/tenants/st-a/resume")
        assert r.status == 507, (r.status, r.text)
        assert "cannot record" in r.text
        assert root.status("st-a")["state"] == "suspended"
        os.unlink(os.path.join(run, "filler-1"))
        os.unlink(os.path.join(run, "filler-2"))
        root.stop()
        db = sqlite3.connect(f"file:{os.path.join(run, 'state.db')}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT state FROM desired WHERE tenant = 'st-a'").fetchone()
        finally:
            db.close()
        assert row == ("suspended",), row
    finally:
        root.stop()
        subprocess.run(["umount", run], check=True)
