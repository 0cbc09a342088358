"""
Supervision, end to end: the real tenantd and tenant-jail with the small
test worker (tests/helpers/miniworker.c), which keeps these tests about the
supervisor rather than the firm's application.

Covered: several tenants ready; kill -9 of a worker (new pid, restarts
counted, a client connecting while no worker runs is served from the held
socket's backlog); a crash loop backs off (delays grow, cap) then fails;
exit 78 fails without restarts; a failing isolation step shows its reason;
readiness from /healthz alone; liveness restarts; the boot-storm limit; log
capture; SIGTERM and kill -9 of tenantd leave no worker; `tenantd -n`; the
status API over the socket and over TCP with its token.
"""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from tenantd_test import binpath, helper, pid_alive, wait_for


def mini(**extra):
    """The [worker] section that runs the test worker on the passed socket."""
    w = {"command": helper("miniworker"), "socket": "passed"}
    w.update(extra)
    return {"worker": w}


def descendants(pid):
    """pid and every process below it (the worker's own children, if any)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def http_get_raw(port, path="/", timeout=10):
    """A bare HTTP/1.1 GET on a fresh connection; returns (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def data_dir(root, tid):
    return os.path.join(root.path, "data", "clients", tid)


def test_several_tenants_ready(root):
    ports = {t: root.add_tenant(t, **mini()) for t in ("alpha", "bravo", "charlie", "delta")}
    root.start()
    st = {t["id"]: t for t in root.status()}
    assert set(st) == set(ports)
    for tid, port in ports.items():
        assert st[tid]["state"] == "running"
        assert st[tid]["pid"] and pid_alive(st[tid]["pid"])
        assert st[tid]["restarts"] == 0
        assert st[tid]["ready_latency_ms"] is not None
        status, body = http_get_raw(port)
        assert status == 200 and body.startswith("pid=")
    # The data dir and the secret exist with private modes.
    d = data_dir(root, "alpha")
    assert os.stat(d).st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(d, "secret")).st_mode & 0o777 == 0o600


def test_kill9_worker_restarts_and_backlog_is_served(root):
    # A long first backoff leaves a clear window in which no worker runs.
    root.write_global(supervise={"backoff_min": "1500ms", "backoff_max": "3s"})
    port = root.add_tenant("alpha", **mini())
    root.start()
    before = root.status("alpha")
    procs = descendants(before["pid"])
    for p in procs:
        os.kill(p, signal.SIGKILL)
    wait_for(lambda: not any(pid_alive(p) for p in procs), timeout=5, what="worker death")
    root.wait_state("alpha", "backoff", timeout=5)

    # No worker runs now: the connection still succeeds (it waits in the
    # backlog of the socket tenantd holds) and is answered by the next worker.
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    assert root.status("alpha")["state"] == "backoff"
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data

    after = root.wait_state("alpha", "running")
    assert after["pid"] != before["pid"]
    assert after["restarts"] == before["restarts"] + 1
    assert after["last_exit"] == "signal 9"


def test_crashloop_backs_off_then_fails(root):
    root.write_global(supervise={"backoff_min": "100ms", "backoff_max": "400ms",
                                 "start_limit": "6", "failed_cooldown": "1h"})
    root.add_tenant("crash", worker={"command": helper("crashloop"), "socket": "passed"})
    root.start(wait_ids=[])
    seen = []

    def observe():
        s = root.status("crash")
        if s["state"] == "backoff" and s["next_start_in_ms"] is not None:
            seen.append(s["next_start_in_ms"])
        return s if s["state"] == "failed" else None

    s = wait_for(observe, timeout=20, interval=0.01, what="crash to be failed")
    assert "start limit" in s["state_reason"]
    assert s["last_exit"] == "exit 1"
    assert s["next_start_in_ms"] > 60 * 1000  # the cooldown, not a backoff
    assert seen and max(seen) <= 400

    delays = [int(x) for x in re.findall(r"\[crash\] restarting in (\d+) ms", root.log())]
    assert len(delays) == 5, delays
    # Base delays 100, 200, 400, 400, 400, each shortened by at most a quarter.
    for d, base in zip(delays, (100, 200, 400, 400, 400)):
        assert base * 3 // 4 <= d <= base, delays
    assert "FAILED" in root.log()
    # A failed tenant is not restarted by itself.
    restarts = s["restarts"]
    time.sleep(0.6)  # longer than backoff_max: a restart would have happened
    s = root.status("crash")
    assert s["state"] == "failed" and s["restarts"] == restarts


def test_exit78_fails_until_config_changes(root):
    root.add_tenant("cfgerr", worker={"command": helper("exit78"), "socket": "passed"})
    root.start(wait_ids=[])
    s = root.wait_state("cfgerr", "failed")
    assert s["last_exit"] == "exit 78"
    assert "78" in s["state_reason"]
    assert s["next_start_in_ms"] is None
    time.sleep(0.6)  # longer than backoff_max: no restart may happen
    s2 = root.status("cfgerr")
    assert s2["state"] == "failed" and s2["restarts"] == s["restarts"] == 0
    # A changed config is another try.
    root.add_tenant("cfgerr", port=s["port"], **mini())
    root.proc.send_signal(signal.SIGHUP)
    root.wait_state("cfgerr", "running")


def test_isolation_failure_reason_is_shown(root):
    root.add_tenant("nocmd", worker={"command": "/nonexistent/tenant-worker",
                                     "socket": "passed"})
    root.start(wait_ids=[])
    s = root.wait_state("nocmd", "failed")
    assert s["last_exit"] == "exit 111"
    assert s["state_reason"].startswith("isolation failed: ")
    assert s["restarts"] == 0


def test_ready_from_healthz_without_notify(root):
    root.add_tenant("quiet", **mini())
    d = data_dir(root, "quiet")
    os.makedirs(d)
    open(os.path.join(d, "no-ready"), "w").close()
    root.start()
    s = root.status("quiet")
    assert s["state"] == "running" and s["ready_latency_ms"] is not None


def test_failing_health_checks_restart_the_worker(root):
    root.add_tenant("sick", **mini())
    root.start()
    pid = root.status("sick")["pid"]
    flag = os.path.join(data_dir(root, "sick"), "unhealthy")
    open(flag, "w").close()
    # 3 failures at 500 ms intervals, then a restart.
    wait_for(lambda: root.status("sick")["pid"] not in (None, pid), timeout=15,
             what="a restart after failed health checks")
    os.unlink(flag)
    s = root.wait_state("sick", "running")
    assert s["restarts"] >= 1
    assert "GET /healthz failed 3 times" in root.log()


def test_boot_storm_limit(root):
    root.write_global(tenantd={"max_parallel_starts": "2"})
    ids = [f"t{i}" for i in range(8)]
    for tid in ids:
        root.add_tenant(tid, **mini())
    root.start()
    # Replay the log: never more than 2 workers between "started" and "ready".
    inflight, peak = set(), 0
    for line in root.log().splitlines():
        m = re.search(r"\[(t\d)\] worker (started|ready|exited)", line)
        if not m:
            continue
        if m.group(2) == "started":
            inflight.add(m.group(1))
        else:
            inflight.discard(m.group(1))
        peak = max(peak, len(inflight))
    assert 1 <= peak <= 2


def test_worker_output_is_captured(root):
    root.add_tenant("talky", **mini())
    root.start()
    log = os.path.join(root.path, "logs", "talky.log")

    def has_line():
        with open(log) as f:
            return re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z stdout miniworker \d+ serving$",
                             f.read(), re.M)
    wait_for(has_line, timeout=10, what="the worker's stdout in its log")
    assert os.stat(log).st_mode & 0o777 == 0o640


def test_sigterm_stops_every_worker(root):
    for tid in ("one", "two", "three"):
        root.add_tenant(tid, **mini())
    root.start()
    procs = [p for pid in root.pids().values() for p in descendants(pid)]
    assert len(procs) >= 3
    assert root.stop(signal.SIGTERM) == 0
    wait_for(lambda: not any(pid_alive(p) for p in procs), timeout=10,
             what="every worker to be gone")
    assert "tenantd stopped" in root.log()


def test_kill9_of_tenantd_leaves_no_worker(root):
    for tid in ("one", "two"):
        root.add_tenant(tid, **mini())
    root.start()
    procs = [p for pid in root.pids().values() for p in descendants(pid)]
    root.proc.kill()
    root.proc.wait(10)
    # The jail armed the parent-death signal: the workers follow tenantd.
    wait_for(lambda: not any(pid_alive(p) for p in procs), timeout=10,
             what="every worker to die with tenantd")


def test_check_mode(root):
    root.add_tenant("good", **mini())
    r = subprocess.run([binpath("tenantd"), "-c", root.config, "-n"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configuration OK" in r.stdout

    root.add_tenant("bad", limits={"memory": "99999T"}, **mini())
    r = subprocess.run([binpath("tenantd"), "-c", root.config, "-n"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "bad.ini" in r.stderr and "memory" in r.stderr
    assert "configuration OK" not in r.stdout

    os.unlink(root.tenant_file("bad"))
    root.write_global(tenantd={"port_range": "nonsense"})
    r = subprocess.run([binpath("tenantd"), "-c", root.config, "-n"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "port_range" in r.stderr


def test_status_over_socket_and_tcp(root):
    if not os.path.exists(os.path.join(os.path.dirname(binpath("x")), "tenantd")):
        pytest.skip("tenantd not built")
    root.add_tenant("alpha", **mini())
    root.start()
    via_unix = root.status()
    assert via_unix[0]["id"] == "alpha" and via_unix[0]["state"] == "running"
    r = root.get("/v1/tenants", via="tcp")
    assert r.status == 401
    r = root.get("/v1/tenants", via="tcp", token="not-the-token")
    assert r.status == 401
    r = root.get("/v1/tenants", via="tcp", token=root.token())
    assert r.status == 200
    assert [t["id"] for t in r.json()] == ["alpha"]
    assert r.json()[0]["pid"] == via_unix[0]["pid"]


def test_tenantd_notifies_its_service_manager(root):
    """NOTIFY_SOCKET in tenantd's own environment: READY=1 once the admin API
    listens and every tenant had its first start attempt (a broken one does not
    hold it back), RELOADING=1/READY=1 around a reload, STATUS= counts,
    STOPPING=1 on SIGTERM; the variable is not passed on."""
    root.add_tenant("sd-a", **mini())
    root.add_tenant("sd-b", **mini())
    root.add_tenant("sd-broken", worker={"command": helper("exit78"), "socket": "passed"})
    path = os.path.join(root.path, "sd.sock")
    mgr = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    mgr.bind(path)
    mgr.settimeout(20)
    seen = []

    def until(line):
        while True:
            msg = mgr.recv(4096).decode()
            seen.append(msg)
            if line in msg.split("\n"):
                return msg

    try:
        root.log_file = open(root.log_path, "ab")
        root.proc = subprocess.Popen([binpath("tenantd"), "-c", root.config],
                                     stdout=root.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     env=dict(os.environ, NOTIFY_SOCKET=path))
        until("READY=1")
        assert os.path.exists(os.path.join(root.run_dir, "admin.sock"))
        states = {t["id"]: t["state"] for t in root.status()}
        for tid in ("sd-a", "sd-b", "sd-broken"):
            assert states[tid] in ("starting", "running", "failed", "backoff"), states
        until("STATUS=2 running, 1 failed")
        assert not [m for m in seen if m.startswith("STOPPING")], seen

        # The workers get their own NOTIFY_SOCKET, never tenantd's.
        pid = root.status("sd-a")["pid"]
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        assert env.get(b"NOTIFY_SOCKET", b"").decode() != path

        n = len(seen)
        root.proc.send_signal(signal.SIGHUP)
        until("RELOADING=1")
        until("READY=1")
        assert seen[n].startswith("RELOADING=1"), seen[n:]

        root.proc.send_signal(signal.SIGTERM)
        until("STOPPING=1")
        assert root.proc.wait(30) == 0
    finally:
        mgr.close()


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


@pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root")
def test_status_pid_is_the_jailed_worker_itself(root):
    """tenantd creates the jail as pid 1 of a new pid namespace: the jail execs
    the worker, which stays pid 1 there, with tenantd as its parent. No root
    forwarder between them, and the pid in status is the worker's."""
    root.add_tenant("pidns", **mini())
    root.start()
    pid = root.status("pidns")["pid"]
    uid = os.stat(data_dir(root, "pidns")).st_uid
    assert uid != 0
    st = proc_status(pid)
    assert st["Uid"].split() == [str(uid)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(uid)] * 4, st["Gid"]
    assert st["NoNewPrivs"] == "1"
    assert st["CapEff"] == "0000000000000000"
    assert st["Seccomp"] == "2"
    assert st["NSpid"].split()[-1] == "1", st["NSpid"]
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink(f"/proc/{root.proc.pid}/ns/pid")
    assert st["PPid"] == str(root.proc.pid), (st["PPid"], root.proc.pid)
    # Nothing else of this tenant runs as root: the worker is alone in its cgroup.
    with open(f"/proc/{pid}/cgroup") as f:
        cg = next(l.split(":", 2)[2].strip() for l in f if ":pids:" in l)
    procs = f"/sys/fs/cgroup/pids{cg}/cgroup.procs"
    if os.path.exists(procs):  # cgroup v1 (this machine); v2 has no pids hierarchy path
        with open(procs) as f:
            assert [int(p) for p in f.read().split()] == [pid]
    # The worker handles SIGTERM: a stop is clean, not a SIGKILL after the grace.
    r = root.post("/v1/tenants/pidns/stop")
    assert r.status in (200, 202), r.text
    s = root.wait_state("pidns", "stopped", timeout=10)
    assert s["last_exit"] == "exit 0", s


def test_a_fifo_for_a_secret_stalls_nothing(root):
    """A tenant owns its data dir and could put a FIFO where its secret belongs,
    then crash: tenantd must not block opening it. That tenant cannot start, says
    why, and tenantd and the other tenant carry on."""
    root.add_tenant("mean", **mini())
    root.add_tenant("nice", **mini())
    root.start()
    secret = os.path.join(data_dir(root, "mean"), "secret")
    os.unlink(secret)
    os.mkfifo(secret, 0o600)
    pid = root.status("mean")["pid"]
    os.kill(pid, signal.SIGKILL)
    s = wait_for(lambda: (lambda v: v if "secret" in v["state_reason"] else None)(
        root.status("mean")), what="the secret problem in mean's status")
    assert s["state"] in ("backoff", "failed"), s
    assert "Invalid argument" in s["state_reason"], s
    assert root.status("nice")["state"] == "running"
    # tenantd's loop still turns: an action on the other tenant completes.
    old = root.status("nice")["pid"]
    root.post("/v1/tenants/nice/restart")
    root.wait_state("nice", "running", pred=lambda v: v["pid"] and v["pid"] != old)
    # Putting a real secret back lets the tenant start again.
    os.unlink(secret)
    root.post("/v1/tenants/mean/start")
    root.wait_state("mean", "running")
