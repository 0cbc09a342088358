"""
A restore under a continuous client load (bounded, loopback): `tenantctl
restore` stops the worker (no overlap: the old worker must not acknowledge a
write into the database being replaced), swaps the database, starts a new
worker. tenantd holds the tenant's listening socket the whole time, so clients
wait in its backlog and nothing is refused; every accepted request is
answered 2xx; the other tenant keeps its pid.
"""
import json
import os

from tenantd_test import binpath, wait_for
from tenantd_test.workload import Writer, bootstrap_admin, login, open_ro


def test_restore_under_load_refuses_nothing(root):
    ids = ["rs-alpha", "rs-beta"]
    for tid in ids:
        root.add_tenant(tid, plan="enterprise")
    root.start()
    writers = []
    for tid in ids:
        pw = bootstrap_admin(root, tid, binpath)
        port = root.status(tid)["port"]
        token = login(port, "admin", pw)
        writers += [(tid, Writer(port, token, "invoice")), (tid, Writer(port, token, "analysis"))]
    other = root.status("rs-beta")["pid"]

    def progress(n=20):
        targets = [(w, len(w.snapshot()) + n) for _, w in writers]
        wait_for(lambda: all(len(w.snapshot()) >= t for w, t in targets), timeout=30,
                 what="writes to progress")

    for _, w in writers:
        w.start()
    try:
        progress()
        backup = json.loads(root.tenantctl("backup", "rs-alpha", "--json").stdout)["path"]
        progress()
        old = root.status("rs-alpha")["pid"]
        out = json.loads(root.tenantctl("restore", "rs-alpha", backup, "--json").stdout)
        assert out["restored_from"] == backup, out
        s = root.status("rs-alpha")
        assert s["state"] == "running" and s["pid"] != old, s
        # The old worker was gone before the swap: it stopped, then the new one started.
        log = root.log()
        assert log.index(f"[rs-alpha] worker stopped pid={old}") < \
            log.index(f"[rs-alpha] worker started pid={s['pid']}")
        assert "socket kept" in log
        progress()
    finally:
        for _, w in writers:
            w.stop()
    t = {"errors": sum(w.errors for _, w in writers),
         "refused": sum(w.refused for _, w in writers),
         "non-2xx": [w.statuses for _, w in writers if w.statuses]}
    print("acked:", {f"{tid}/{w.kind}": len(w.acked) for tid, w in writers}, t)
    assert t == {"errors": 0, "refused": 0, "non-2xx": []}, t
    assert root.status("rs-beta")["pid"] == other
    # The restored database is whole.
    with open_ro(os.path.join(root.path, "data", "clients", "rs-alpha", "rs-alpha.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
