"""
Scale to zero (DESIGN.md `idle_after`, state `idle`; supervisor/tenantd/idle.c,
worker/http_idle.c): a tenant that may idle boots (or is added) idle, with its
socket bound and no worker; after idle_after without a request the bundled
worker exits on its own (exit 112, not a crash), tenantd keeps the socket, and
the next connection, through nginx or straight to the port, starts a new
worker that answers it. Health probes neither keep a worker alive nor wake an
idle tenant; requests keep it running; idle_after = 0 never idles.
"""
import http.client
import json
import os
import re
import subprocess
import time

from tenantd_test import binpath, helper, http_request, wait_for
from tenantd_test.fds import _net_sockets, fd_table
from tenantd_test.procs import client_id, table

# A plan of the test root whose tenants idle after 1 s without a request.
NAPPER = """
[napper]
label = Napper
price_cents = 100
max_users = 3
max_cases = 50
max_analysis_monthly = 10
ai_model = ceseda-basic-v1
advanced_features = false
overage_cents = 0
memory = 256M
pids = 64
cpu_weight = 50
log_budget = 16M
idle_after = 1s
"""


def with_napper(root):
    with open(os.path.join(root.path, "plans.ini"), "a") as f:
        f.write(NAPPER)


def workers_of(tid):
    return [p.pid for p in table().values() if client_id(p.pid) == tid]


def direct(port, path="/healthz", host=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    return http_request(conn, "GET", path, headers={"Host": host} if host else None)


def via_proxy(root, host, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", root.proxy_port, timeout=10)
    return http_request(conn, "GET", path, headers={"Host": host})


def metric(root, name, tid, extra=""):
    text = root.get("/metrics").text
    m = re.search(r"^%s\{tenant=\"%s\"%s\} (\d+)$" % (name, tid, extra), text, re.M)
    assert m, (name, tid, text[:2000])
    return int(m.group(1))


def listen_flags(root, port):
    """The file status flags of tenantd's listening socket on port (fdinfo)."""
    pid = root.proc.pid
    socks = _net_sockets(pid)
    for fd, target in fd_table(pid).items():
        if target.startswith("socket:["):
            d = socks.get(int(target[8:-1]))
            if d and d[0] == "tcp" and d[1] == "LISTEN" and d[2] == port:
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    for line in f:
                        if line.startswith("flags:"):
                            return int(line.split()[1], 8)
    raise AssertionError(f"tenantd holds no listening socket on {port}")


def children_of(pid):
    return [p.pid for p in table().values() if p.ppid == pid]


def stays(root, tid, state, seconds):
    """True when tid does not leave `state` for `seconds`: tenantctl wait for
    any other state, which must time out (tenantd answers on a change)."""
    others = ",".join(s for s in ("stopped", "starting", "running", "stopping", "backoff",
                                  "failed", "suspended", "idle") if s != state)
    r = root.tenantctl("wait", tid, others, "--timeout", str(seconds), check=False)
    return r.returncode == 1 and root.status(tid)["state"] == state


def test_boots_idle_without_a_worker(root):
    """Boot binds the sockets and writes the proxy config; it starts no worker
    for a tenant that may idle. Its first request, straight to the port or
    through nginx, starts one that answers it; a tenant added later is idle
    from the start too."""
    with_napper(root)
    root.write_global(proxy={"mode": "managed"})
    port = root.add_tenant("napa", plan="napper")
    root.add_tenant("napb", plan="napper")
    root.add_tenant("awake", plan="napper", worker={"idle_after": "0"})
    root.start(wait_ids=["awake"])
    for tid in ("napa", "napb"):
        s = root.wait_state(tid, "idle")
        assert s["pid"] is None and s["wakeups"] == 0 and s["restarts"] == 0, s
        assert s["last_exit"] in ("", None), s
    # No child of tenantd runs for them: only awake's worker (and nginx).
    kids = {client_id(p) for p in children_of(root.proc.pid)}
    assert "awake" in kids and not kids & {"napa", "napb"}, kids
    assert not workers_of("napa") and not workers_of("napb")
    assert "[napa] worker started" not in root.log()
    rows = {l.split()[0]: l.split() for l in root.tenantctl("status").stdout.splitlines()[1:]
            if l.strip()}
    assert rows["napa"][1] == "idle" and rows["napa"][2] == "-"
    assert metric(root, "tenantd_tenant_state", "napa", ',state="idle"') == 1

    # Its port is held: the first connection waits and is answered.
    r = direct(port, "/", host="napa.localhost")
    assert r.status == 200 and "Cabinet Napa" in r.text, (r.status, r.text[:300])
    s = root.wait_state("napa", "running")
    assert s["pid"] is not None and s["wakeups"] == 1 and s["restarts"] == 0, s

    # Through nginx: its server block was written at boot.
    r = via_proxy(root, "napb.localhost")
    assert r.status == 200 and "Cabinet Napb" in r.text, (r.status, r.text[:300])
    s = root.wait_state("napb", "running")
    assert s["wakeups"] == 1 and s["restarts"] == 0, s

    # Added while tenantd runs: idle, never started.
    root.add_tenant("napc", plan="napper")
    s = root.wait_state("napc", "idle")
    assert s["pid"] is None and s["wakeups"] == 0
    assert "[napc] worker started" not in root.log() and not workers_of("napc")

    # A config change of a tenant that never ran keeps it idle.
    path = root.tenant_file("napc")
    with open(path) as f:
        text = f.read()
    root.write_file(path, text.replace("[firm]\n", "[firm]\nphone = 01.23.45.67.89\n"))
    wait_for(lambda: "[napc] config changed: idle" in root.log(), timeout=10,
             what="the change applied while idle")
    assert root.status("napc")["state"] == "idle" and not workers_of("napc")


def test_idle_then_woken_through_nginx_and_directly(root):
    with_napper(root)
    root.write_global(proxy={"mode": "managed"})
    port = root.add_tenant("sleepy", plan="napper")
    root.add_tenant("awake", plan="napper", worker={"idle_after": "0"})
    root.start(wait_ids=["awake"])
    root.wait_state("sleepy", "idle")
    # Woken at once, then left alone.
    assert direct(port, "/", host="sleepy.localhost").status == 200
    first = root.wait_state("sleepy", "running")["pid"]
    awake_pid = root.status("awake")["pid"]
    assert root.status("sleepy")["idle_after_ms"] == 1000
    assert root.status("awake")["idle_after_ms"] == 0

    # No request at all: probes every 500 ms do not keep it alive.
    s = root.wait_state("sleepy", "idle", timeout=15)
    assert s["pid"] is None and s["wakeups"] == 1 and s["restarts"] == 0
    assert s["last_exit"] == "idle (exit 112)"
    wait_for(lambda: not workers_of("sleepy"), timeout=5, what="no sleepy worker left")
    assert "exited after 1000 ms without a request: idle" in root.log()
    assert metric(root, "tenantd_tenant_state", "sleepy", ',state="idle"') == 1
    assert metric(root, "tenantd_tenant_wakeups_total", "sleepy") == 1
    rows = {l.split()[0]: l.split() for l in root.tenantctl("status").stdout.splitlines()[1:]
            if l.strip()}
    assert rows["sleepy"][1] == "idle" and rows["sleepy"][2] == "-"

    # Health probes during idle do not wake it (several intervals of 500 ms).
    assert stays(root, "sleepy", "idle", 2)
    assert not workers_of("sleepy")

    # The next request through nginx starts a new worker, which answers it.
    r = via_proxy(root, "sleepy.localhost")
    assert r.status == 200, (r.status, r.text[:300])
    assert "Cabinet Sleepy" in r.text
    s = root.wait_state("sleepy", "running")
    assert s["pid"] not in (None, first)
    assert s["wakeups"] == 2 and s["restarts"] == 0
    assert metric(root, "tenantd_tenant_wakeups_total", "sleepy") == 2

    # Idle again, then a request straight to the port: the same.
    second = s["pid"]
    root.wait_state("sleepy", "idle", timeout=15)
    r = direct(port, "/api/deadlines/types")
    assert r.status in (200, 401), r.status  # answered by the worker, not refused
    s = root.wait_state("sleepy", "running")
    assert s["pid"] not in (None, first, second) and s["wakeups"] == 3

    # idle_after = 0 overrides the plan's: never idle, same worker throughout.
    a = root.status("awake")
    assert a["state"] == "running" and a["wakeups"] == 0 and a["restarts"] == 0
    assert a["pid"] == awake_pid


def test_requests_keep_it_running(root):
    with_napper(root)
    port = root.add_tenant("busy", plan="napper")
    root.start(wait_ids=[])
    root.wait_state("busy", "idle")
    assert direct(port, "/", host="busy.localhost").status == 200
    pid = root.wait_state("busy", "running")["pid"]
    # A request every 300 ms for 3 s (three idle periods): the same worker.
    deadline = time.monotonic() + 3
    n = 0
    while time.monotonic() < deadline and n < 20:
        assert direct(port, "/", host="busy.localhost").status == 200
        n += 1
        time.sleep(0.3)  # client pacing, not a wait for an event
    s = root.status("busy")
    assert s["state"] == "running" and s["pid"] == pid and s["wakeups"] == 1
    # Once the requests stop, it goes idle.
    root.wait_state("busy", "idle", timeout=15)


def test_operator_actions_on_an_idle_tenant(root):
    with_napper(root)
    port = root.add_tenant("nap", plan="napper")
    root.start(wait_ids=[])
    r = root.tenantctl("wait", "nap", "idle", "--timeout", "15")
    assert r.stdout.strip() == "nap: idle", r.stdout

    # start (or restart) wants a worker now: it wakes, not counted as a restart.
    root.tenantctl("restart", "nap")
    s = root.wait_state("nap", "running")
    assert s["restarts"] == 0
    root.wait_state("nap", "idle", timeout=15)
    root.tenantctl("start", "nap")
    s = root.wait_state("nap", "running")
    assert s["restarts"] == 0 and s["wakeups"] == 0
    root.wait_state("nap", "idle", timeout=15)

    # A config change that keeps it idle on its port: applied without a worker.
    path = root.tenant_file("nap")
    with open(path) as f:
        text = f.read()
    root.write_file(path, text.replace("[firm]\n", "[firm]\nphone = 01.23.45.67.89\n"))
    wait_for(lambda: "config changed: idle, the next worker starts with it" in root.log(),
             timeout=10, what="the change applied while idle")
    assert root.status("nap")["state"] == "idle" and not workers_of("nap")

    # stop closes the socket (refused, as for any stopped tenant); start runs it.
    root.tenantctl("stop", "nap")
    root.wait_state("nap", "stopped")
    try:
        direct(port)
        raise AssertionError("a stopped tenant's port still accepts")
    except ConnectionRefusedError:
        pass
    root.tenantctl("start", "nap")
    root.wait_state("nap", "running")
    root.wait_state("nap", "idle", timeout=15)

    # suspend and resume from idle.
    root.tenantctl("suspend", "nap")
    root.wait_state("nap", "suspended")
    root.tenantctl("resume", "nap")
    root.wait_state("nap", "running")
    assert direct(port).status == 200

    # offboard from idle: archived, its socket closed, nothing left running.
    root.wait_state("nap", "idle", timeout=15)
    out = json.loads(root.tenantctl("offboard", "nap", "--json").stdout)
    assert os.path.isdir(out["archive"])
    assert "nap" not in [t["id"] for t in root.status()]
    try:
        direct(port)
        raise AssertionError("an offboarded tenant's port still accepts")
    except ConnectionRefusedError:
        pass


def test_idle_after_needs_a_passed_socket(root):
    root.add_tenant("ownsock", worker={"socket": "own", "idle_after": "15m"})
    r = root.tenantctl("check", check=False)
    assert r.returncode != 0
    assert "[worker] idle_after: needs socket = passed" in r.stdout + r.stderr


def test_a_plans_idle_after_does_not_apply_to_an_own_socket(root):
    with_napper(root)
    root.add_tenant("ownnap", plan="napper", worker={"socket": "own"})
    warning = ("tenants.d/ownnap.ini: warning: the idle_after of plan napper does not apply: "
               "its worker binds its own port (socket = own), so nothing would wake it")
    r = root.tenantctl("check")
    assert warning in r.stderr, r.stderr
    r = subprocess.run([binpath("tenantd"), "-c", root.config, "-n"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and "configuration OK" in r.stdout, (r.stdout, r.stderr)
    assert warning in r.stderr


def test_backup_and_restore_of_an_idle_tenant(root):
    with_napper(root)
    port = root.add_tenant("napbk", plan="napper")
    root.start(wait_ids=[])
    root.wait_state("napbk", "idle", timeout=15)
    # Never started, so no database yet: nothing to back up, and it says so.
    r = root.tenantctl("backup", "napbk", check=False)
    assert r.returncode != 0 and "napbk.db: No such file or directory" in r.stderr, r.stderr
    # Its first worker creates the database; then it idles again.
    assert direct(port, "/", host="napbk.localhost").status == 200
    root.wait_state("napbk", "running")
    root.wait_state("napbk", "idle", timeout=15)
    # A backup reads the database file: no worker needed, none started.
    out = json.loads(root.tenantctl("backup", "napbk", "--json").stdout)
    assert out["via"] == "tenantd", out
    s = root.status("napbk")
    assert s["state"] == "idle" and s["wakeups"] == 1 and not workers_of("napbk")
    # A restore stops it (its port held), swaps, and starts a worker to check
    # that the restored database comes up (or rolls back); then it idles again.
    out = json.loads(root.tenantctl("restore", "napbk", os.path.basename(out["path"]),
                                    "--json").stdout)
    assert out["state"] == "running", out
    root.wait_state("napbk", "idle", timeout=15)
    assert not workers_of("napbk")


def test_a_third_party_worker_that_implements_idle_after(root):
    """Any worker idles the same way if it reads IDLE_AFTER_MS and exits 112
    (here the miniworker helper, whose accept() is blocking)."""
    port = root.add_tenant("third", worker={"command": helper("miniworker"), "socket": "passed",
                                            "idle_after": "1s"})
    root.start(wait_ids=[])
    root.wait_state("third", "idle")
    assert direct(port, "/").status == 200
    first = root.wait_state("third", "running")["pid"]
    s = root.wait_state("third", "idle", timeout=15)
    assert s["last_exit"] == "idle (exit 112)" and s["restarts"] == 0
    # Watching the socket while idle leaves it blocking, as the worker got it.
    assert not listen_flags(root, port) & os.O_NONBLOCK
    r = direct(port, "/")
    assert r.status == 200
    s = root.wait_state("third", "running")
    assert r.text.startswith("pid=")  # the miniworker answered (pid 1 in its namespace)
    assert s["pid"] not in (None, first) and s["wakeups"] == 2


def test_an_idle_tenant_stays_idle_across_an_upgrade(root):
    """tenantctl upgrade (re-exec in place) hands the idle tenant's socket to
    the new image, which watches it again: still idle, no worker, the same
    wake-up counter, and the next connection wakes it; a tenant that never
    ran a worker (booted idle) too."""
    with_napper(root)
    port = root.add_tenant("napup", plan="napper")
    never = root.add_tenant("napnever", plan="napper")
    root.start(wait_ids=[])
    root.wait_state("napnever", "idle")
    root.wait_state("napup", "idle", timeout=15)
    assert direct(port, "/").status == 200
    root.wait_state("napup", "idle", timeout=15)
    r = root.tenantctl("upgrade")
    assert r.stdout.startswith("upgraded: tenantd pid"), r.stdout
    s = root.status("napup")
    assert s["state"] == "idle" and s["pid"] is None and s["wakeups"] == 1, s
    assert "upgrade: idle, its socket watched again" in root.log()
    assert not workers_of("napup")
    # One that never ran a worker stays so, its socket handed over too.
    s = root.status("napnever")
    assert s["state"] == "idle" and s["pid"] is None and s["wakeups"] == 0, s
    assert not workers_of("napnever")
    assert direct(never, "/").status == 200
    assert root.wait_state("napnever", "running")["wakeups"] == 1
    assert direct(port, "/").status == 200
    s = root.wait_state("napup", "running")
    assert s["wakeups"] == 2 and s["restarts"] == 0


def test_onboarding_with_a_plan_that_idles(root):
    """An onboarded tenant is added idle, but onboarding still starts its
    worker, checks it and creates the first admin, who can log in."""
    with_napper(root)
    root.add_tenant("other", plan="napper")
    root.start(wait_ids=[])
    root.wait_state("other", "idle")
    out = json.loads(root.tenantctl("onboard", "napon", "Cabinet Napon", "napper",
                                    "--json").stdout)
    assert out["id"] == "napon" and out["admin"]["username"], out
    assert "[napon] idle: woken by tenantd to finish its onboarding" in root.log()
    conn = http.client.HTTPConnection("127.0.0.1", out["port"], timeout=10)
    r = http_request(conn, "POST", "/api/auth/login",
                     body=json.dumps({"username": out["admin"]["username"],
                                      "password": out["admin"]["password"]}),
                     headers={"Content-Type": "application/json", "Host": "napon.localhost"})
    assert r.status == 200 and "token" in r.json(), (r.status, r.text[:300])
    # Left alone, it idles like any other.
    root.wait_state("napon", "idle", timeout=15)
