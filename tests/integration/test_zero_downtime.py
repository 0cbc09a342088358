"""
Zero downtime under a continuous client load on two tenants (bounded,
loopback; tenantd_test.workload): a worker's crash is answered again at once,
and a restart or a config change of a tenant with a passed socket starts the
new worker beside the old one, which drains. Nothing is refused, no accepted
request fails, and the other tenant keeps its pid throughout.
"""
import os
import signal

from tenantd_test import binpath, helper, wait_for
from tenantd_test.workload import Writer, bootstrap_admin, login


def start_with_load(root, ids):
    for tid in ids:
        root.add_tenant(tid, plan="enterprise")
    root.start()
    writers = []
    for tid in ids:
        pw = bootstrap_admin(root, tid, binpath)
        port = root.status(tid)["port"]
        token = login(port, "admin", pw)
        writers.append((tid, Writer(port, token, "invoice")))
        writers.append((tid, Writer(port, token, "analysis")))
    for _, w in writers:
        w.start()
    return writers


def progress(writers, n=20):
    """Wait until every writer got n more writes acknowledged."""
    targets = [(w, len(w.snapshot()) + n) for _, w in writers]
    wait_for(lambda: all(len(w.snapshot()) >= t for w, t in targets), timeout=30,
             what="writes to progress")


def totals(writers):
    return {"errors": sum(w.errors for _, w in writers),
            "refused": sum(w.refused for _, w in writers),
            "non-2xx": [w.statuses for _, w in writers if w.statuses]}


def test_restart_and_config_change_overlap_under_load(root):
    writers = start_with_load(root, ["zd-alpha", "zd-beta"])
    other = root.status("zd-beta")["pid"]
    try:
        progress(writers)
        # tenantctl restart: the new worker starts beside the old one.
        old = root.status("zd-alpha")["pid"]
        root.tenantctl("restart", "zd-alpha")
        s = root.wait_state("zd-alpha", "running",
                            pred=lambda s: s["pid"] != old and s["draining_pid"] is None)
        assert f"pid={s['pid']} takes over: pid={old} drains" in root.log()
        assert f"previous worker pid={old} drained" in root.log()
        progress(writers)

        # A config change of that tenant: the same.
        old = s["pid"]
        path = root.tenant_file("zd-alpha")
        with open(path) as f:
            text = f.read()
        root.write_file(path, text.replace("[firm]\n", "[firm]\nphone = 01.23.45.67.89\n"))
        s = root.wait_state("zd-alpha", "running",
                            pred=lambda s: s["pid"] != old and s["draining_pid"] is None)
        assert f"previous worker pid={old} drained" in root.log()
        progress(writers)
    finally:
        for _, w in writers:
            w.stop()
    t = totals(writers)
    print("acked:", {f"{tid}/{w.kind}": len(w.acked) for tid, w in writers}, t)
    assert t == {"errors": 0, "refused": 0, "non-2xx": []}, t
    assert root.status("zd-beta")["pid"] == other


def test_kill9_restarts_at_once_and_refuses_nothing(root):
    writers = start_with_load(root, ["zd-alpha", "zd-beta"])
    other = root.status("zd-beta")["pid"]
    try:
        progress(writers)
        for _ in range(2):
            old = root.status("zd-alpha")
            os.kill(old["pid"], signal.SIGKILL)
            s = root.wait_state("zd-alpha", "running", pred=lambda s: s["pid"] != old["pid"])
            assert s["restarts"] == old["restarts"] + 1
            progress(writers)
            # A stable run resets the schedule, so that the next kill restarts at once too.
            root.post("/v1/tenants/zd-alpha/restart")
            root.wait_state("zd-alpha", "running",
                            pred=lambda x, p=s["pid"]: x["pid"] != p and x["draining_pid"] is None)
            progress(writers)
    finally:
        for _, w in writers:
            w.stop()
    t = totals(writers)
    print("acked:", {f"{tid}/{w.kind}": len(w.acked) for tid, w in writers}, t)
    # The requests the killed worker held die with it; the socket tenantd
    # holds refuses nothing, and the next worker answers the backlog.
    assert t["refused"] == 0 and t["non-2xx"] == [], t
    assert "restarting in 0 ms" in root.log()
    assert root.status("zd-beta")["pid"] == other


def test_new_worker_that_fails_leaves_the_old_one_serving(root):
    root.add_tenant("zd-alpha")
    root.start()
    old = root.status("zd-alpha")
    path = root.tenant_file("zd-alpha")
    with open(path) as f:
        text = f.read()
    root.write_file(path, text.replace(
        "[worker]\n", f"[worker]\ncommand = {helper('exit78')}\nsocket = passed\n"))
    wait_for(lambda: "restart failed" in root.log(), timeout=20, what="the failed overlap")
    s = root.wait_state("zd-alpha", "running")
    assert s["pid"] == old["pid"]
    assert "exit 78" in s["state_reason"], s
    assert root.worker_get(s["port"], "/healthz").status == 200
