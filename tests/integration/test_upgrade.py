"""
Upgrading tenantd in place (`tenantctl upgrade`, SIGUSR2): tenantd re-execs
itself in the same process and hands itself its state, so that under a
continuous client load on two tenants nothing is refused, no accepted request
fails, every worker keeps its pid and its restarts counter, and the new image
really supervises afterwards. A new binary that fails its `-n` check leaves
the old image serving; one that passes it but gives the state back (here a
fake that execs the previous image with TENANTD_UPGRADE_ROLLBACK, the
documented way back) ends in a roll-back, workers kept.
"""
import http.client
import os
import signal
import threading

from tenantd_test import binpath, helper, http_request, wait_for
from tenantd_test.workload import Writer, bootstrap_admin, check_db, db_path, login


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
    targets = [(w, len(w.snapshot()) + n) for _, w in writers]
    wait_for(lambda: all(len(w.snapshot()) >= t for w, t in targets), timeout=30,
             what="writes to progress")


def totals(writers):
    return {"errors": sum(w.errors for _, w in writers),
            "refused": sum(w.refused for _, w in writers),
            "non-2xx": [w.statuses for _, w in writers if w.statuses]}


def upgrade_status(root):
    r = root.get("/v1/upgrade")
    assert r.status == 200, (r.status, r.text)
    return r.json()


def fake_binary(tmp_path, name, body):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_upgrade_under_load_keeps_every_worker(root):
    ids = ["up-alpha", "up-beta"]
    writers = start_with_load(root, ids)
    try:
        progress(writers)
        before = {t["id"]: t for t in root.status()}
        st0 = upgrade_status(root)
        r = root.tenantctl("upgrade")
        assert r.stdout.startswith("upgraded: tenantd pid"), r.stdout
        st = upgrade_status(root)
        assert st["pid"] == root.proc.pid == st0["pid"]
        assert st["exec_count"] == st0["exec_count"] + 1
        assert st["last"]["result"] == "ok", st
        assert st["started"] == st0["started"]
        after = {t["id"]: t for t in root.status()}
        for tid in ids:
            assert after[tid]["state"] == "running", after[tid]
            assert after[tid]["pid"] == before[tid]["pid"], (before[tid], after[tid])
            assert after[tid]["restarts"] == before[tid]["restarts"]
        assert "upgrade: worker pid=%d taken over" % before["up-alpha"]["pid"] in root.log()
        # Both admin listeners were handed over: the TCP one (token) answers too.
        r = root.get("/v1/upgrade", via="tcp", token=root.token())
        assert r.status == 200 and r.json()["exec_count"] == st["exec_count"], r.text
        progress(writers)

        # The new image supervises: a killed worker is restarted by it...
        old = after["up-alpha"]
        os.kill(old["pid"], signal.SIGKILL)
        s = root.wait_state("up-alpha", "running", pred=lambda s: s["pid"] != old["pid"])
        assert s["restarts"] == old["restarts"] + 1
        progress(writers)
        # ...and a change of the tenant's file is applied (overlapping restart).
        path = root.tenant_file("up-beta")
        with open(path) as f:
            text = f.read()
        root.write_file(path, text.replace("[firm]\n", "[firm]\nphone = 01.23.45.67.89\n"))
        old_beta = after["up-beta"]["pid"]
        root.wait_state("up-beta", "running",
                        pred=lambda s: s["pid"] != old_beta and s["draining_pid"] is None)
        progress(writers)
    finally:
        for _, w in writers:
            w.stop()
    t = totals(writers)
    print("acked:", {f"{tid}/{w.kind}": len(w.acked) for tid, w in writers}, t)
    # The kill -9 above may cut the requests that worker held; nothing else may fail.
    assert t["refused"] == 0 and t["non-2xx"] == [], t
    for tid in ids:
        inv = [x for i, w in writers if i == tid and w.kind == "invoice" for x in w.acked]
        ana = [x for i, w in writers if i == tid and w.kind == "analysis" for x in w.acked]
        check_db(db_path(root, tid), inv, ana)


def test_upgrade_refuses_nothing_without_faults(root):
    """The upgrade alone, under load: not one request fails."""
    writers = start_with_load(root, ["up-gamma", "up-delta"])
    try:
        progress(writers)
        pids = root.pids()
        os.kill(root.proc.pid, signal.SIGUSR2)  # the signal, as systemd's ExecReload sends it
        wait_for(lambda: (upgrade_status(root).get("last") or {}).get("result") == "ok",
                 timeout=30, what="the upgrade by SIGUSR2")
        root.tenantctl("upgrade")
        assert upgrade_status(root)["exec_count"] == 2
        assert root.pids() == pids
        progress(writers)
    finally:
        for _, w in writers:
            w.stop()
    t = totals(writers)
    print("acked:", {f"{tid}/{w.kind}": len(w.acked) for tid, w in writers}, t)
    assert t == {"errors": 0, "refused": 0, "non-2xx": []}, t


def test_binary_that_fails_its_check_leaves_tenantd_serving(root, tmp_path):
    root.add_tenant("up-eps")
    root.start()
    pid = root.status("up-eps")["pid"]
    fake = fake_binary(tmp_path, "tenantd", 'echo "fake tenantd: cannot run here" >&2\nexit 1\n')
    r = root.tenantctl("upgrade", "--binary", fake, check=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "failed its check (-n): exit 1: fake tenantd: cannot run here" in r.stderr, r.stderr
    st = upgrade_status(root)
    assert st["exec_count"] == 0 and st["last"]["result"] == "failed", st
    assert root.status("up-eps")["pid"] == pid
    assert root.worker_get(root.status("up-eps")["port"], "/healthz").status == 200
    # Not an absolute path, or not there: refused before anything runs.
    r = root.tenantctl("upgrade", "--binary", str(tmp_path / "nope"), check=False)
    assert r.returncode == 1 and "is not an executable file" in r.stderr, r.stderr


def test_image_that_gives_the_state_back_rolls_back(root, tmp_path):
    root.add_tenant("up-zeta")
    root.start()
    before = root.status("up-zeta")
    # Passes -n, then hands the state back to the previous image at once.
    fake = fake_binary(tmp_path, "tenantd", (
        'for a in "$@"; do [ "$a" = -n ] && { echo "configuration OK"; exit 0; }; done\n'
        'TENANTD_UPGRADE_ROLLBACK="fake image cannot take the state" '
        'exec /proc/self/fd/"$TENANTD_UPGRADE_PREV" "$@"\n'))
    r = root.tenantctl("upgrade", "--binary", fake, check=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "upgrade rolled back: fake image cannot take the state" in r.stderr, r.stderr
    st = upgrade_status(root)
    # The fake read nothing: only the image that took the state back counts.
    assert st["pid"] == root.proc.pid and st["exec_count"] == 1, st
    after = root.status("up-zeta")
    assert after["pid"] == before["pid"] and after["restarts"] == before["restarts"]
    assert root.worker_get(after["port"], "/healthz").status == 200
    # The old image supervises again.
    os.kill(after["pid"], signal.SIGKILL)
    root.wait_state("up-zeta", "running", pred=lambda s: s["pid"] != after["pid"])


class ProxyLoad(threading.Thread):
    """GET / through nginx with a tenant's Host header until stopped (bounded)."""

    def __init__(self, port, host, max_ops=200000):
        super().__init__(daemon=True)
        self.port, self.host, self.max_ops = port, host, max_ops
        self.stop_event = threading.Event()
        self.ok, self.failed = 0, []

    def run(self):
        while not self.stop_event.is_set() and self.ok + len(self.failed) < self.max_ops:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                r = http_request(conn, "GET", "/", headers={"Host": self.host})
                if r.status == 200:
                    self.ok += 1
                else:
                    self.failed.append(r.status)
            except (OSError, http.client.HTTPException) as e:
                self.failed.append(repr(e))

    def stop(self):
        self.stop_event.set()
        self.join(30)
        assert not self.is_alive()


def test_upgrade_keeps_nginx_and_its_connections(root):
    root.write_global(proxy={"mode": "managed"})
    root.add_tenant("up-eta")
    root.start()
    host = "up-eta.localhost"
    wait_for(lambda: http_request(http.client.HTTPConnection("127.0.0.1", root.proxy_port,
                                                             timeout=5),
                                  "GET", "/", headers={"Host": host}).status == 200,
             timeout=20, what="the tenant through nginx")
    nginx = root.get("/v1/proxy").json()["nginx_pid"]
    assert nginx
    load = ProxyLoad(root.proxy_port, host)
    load.start()
    try:
        wait_for(lambda: load.ok >= 20, timeout=20, what="requests through nginx")
        root.tenantctl("upgrade")
        n = load.ok
        wait_for(lambda: load.ok >= n + 20, timeout=20, what="requests after the upgrade")
    finally:
        load.stop()
    assert load.failed == [], load.failed[:5]
    px = root.get("/v1/proxy").json()
    assert px["nginx_pid"] == nginx and px["ok"], px
    assert f"proxy: nginx pid={nginx} taken over" in root.log()
    # The new image watches the nginx it took: a crash is seen and it is restarted.
    os.kill(nginx, signal.SIGKILL)
    wait_for(lambda: root.get("/v1/proxy").json()["nginx_pid"] not in (None, 0, nginx),
             timeout=20, what="a new nginx master")


def test_image_that_crashes_while_taking_the_state_rolls_back(root, tmp_path):
    """The real tenantd as the new image, made to crash (SIGABRT, from a thread
    other than the main one) while it reads the state: its crash handler gives
    everything back to the previous image; no worker notices."""
    root.add_tenant("up-theta")
    root.start()
    before = root.status("up-theta")
    fake = fake_binary(tmp_path, "tenantd",
                       f'LD_PRELOAD={helper("crash_on_adopt.so")} exec {binpath("tenantd")} "$@"\n')
    r = root.tenantctl("upgrade", "--binary", fake, check=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "upgrade rolled back: the new image crashed with signal 06" in r.stderr, r.stderr
    after = root.status("up-theta")
    assert after["pid"] == before["pid"] and after["restarts"] == before["restarts"], after
    assert after["state"] == "running"
    assert root.worker_get(after["port"], "/healthz").status == 200


def test_upgrade_carries_failed_and_stopped_tenants(root):
    """Not only running workers: a failed tenant stays failed with its reason
    (not restarted by the new image), an operator's stop stays a stop."""
    root.add_tenant("up-iota")
    root.add_tenant("up-kappa", worker={"command": helper("exit78"), "socket": "passed"})
    root.add_tenant("up-lambda")
    root.start(wait_ids=["up-iota", "up-lambda"])
    failed = root.wait_state("up-kappa", "failed")
    root.tenantctl("stop", "up-lambda")
    root.wait_state("up-lambda", "stopped")
    running = root.status("up-iota")
    root.tenantctl("upgrade")
    after = {t["id"]: t for t in root.status()}
    assert after["up-kappa"]["state"] == "failed", after["up-kappa"]
    assert after["up-kappa"]["state_reason"] == failed["state_reason"]
    assert after["up-kappa"]["restarts"] == failed["restarts"]
    assert after["up-lambda"]["state"] == "stopped" and after["up-lambda"]["pid"] is None
    assert after["up-iota"]["pid"] == running["pid"]
    # The new image still knows how to start what was stopped.
    root.tenantctl("start", "up-lambda")
    root.wait_state("up-lambda", "running")
