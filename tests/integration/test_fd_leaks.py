"""
tenantd does not leak file descriptors: after many restarts of every kind
(API restart, stop/start, kill -9, a config change, suspend/resume), with the same
tenants running again, it holds no more fds than before. The `root` fixture also
checks every test's tenantd for fds to deleted files and for more fds than its
tenants account for (tenantd_test/fds.py).
"""
import os
import signal

from tenantd_test import wait_for
from tenantd_test.fds import fd_table


def settle_count(root, timeout=5.0, least=False):
    """The most fds tenantd holds over a few health-probe intervals, once every tenant
    is running (probe connections come and go, so one sample is not enough); with
    `least`, the fewest: a leaked fd stays in every sample, while one that tenantd is
    about to close right after a restart (the old worker's pidfd, the jail's status
    pipe) or a probe connection shows in some only."""
    counts = []

    def sample():
        counts.append(len(fd_table(root.proc.pid)))
        return len(counts) >= 20

    wait_for(sample, timeout=timeout, interval=0.1, what="fd samples")
    return min(counts) if least else max(counts)


def restarted(root, tid, action):
    old = root.status(tid)["pid"]
    action()
    return root.wait_state(tid, "running", pred=lambda s: s["pid"] and s["pid"] != old)


def test_restarts_of_every_kind_leak_no_fd(root):
    root.add_tenant("aa")
    root.add_tenant("bb", plan="starter")
    root.start()
    baseline = settle_count(root)

    for _ in range(3):
        restarted(root, "aa", lambda: root.post("/v1/tenants/aa/restart"))
        root.post("/v1/tenants/bb/stop")
        root.wait_state("bb", "stopped")
        restarted(root, "bb", lambda: root.post("/v1/tenants/bb/start"))
    for _ in range(2):
        restarted(root, "aa", lambda: os.kill(root.status("aa")["pid"], signal.SIGKILL))
    for limit in ("5", "6"):
        port = root.status("bb")["port"]
        restarted(root, "bb", lambda: root.add_tenant("bb", plan="starter", port=port,
                                                       limits={"max_users": limit}))
    for _ in range(2):
        root.post("/v1/tenants/aa/suspend")
        root.wait_state("aa", "suspended")
        restarted(root, "aa", lambda: root.post("/v1/tenants/aa/resume"))

    after = settle_count(root, least=True)
    assert after <= baseline, f"tenantd holds {after} fds after the restarts, {baseline} before"
