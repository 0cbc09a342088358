"""
The admin surface from outside: the JSON API over the unix socket and over
TCP (bearer token), its authentication on every route, the files' modes, the
peer check, hostile tenant ids, tenantctl, and a graceful stop.
"""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

from tenantd_test import binpath, wait_for

FIELDS = ("id name plan subdomain url port state desired pid uptime_s restarts last_exit "
          "config_error state_reason next_start_in_ms ready_latency_ms rss_bytes "
          "cpu_seconds").split()

# Every route of the API, with a method; over TCP each must refuse a request
# without a valid token before doing anything.
ROUTES = [
    ("GET", "/v1/tenants"),
    ("GET", "/v1/tenants/dupont"),
    ("GET", "/v1/tenants/nosuch"),
    ("POST", "/v1/tenants"),
    ("DELETE", "/v1/tenants/dupont"),
    ("DELETE", "/v1/tenants/dupont?purge=1"),
    ("POST", "/v1/tenants/dupont/start"),
    ("POST", "/v1/tenants/dupont/stop"),
    ("POST", "/v1/tenants/dupont/restart"),
    ("POST", "/v1/tenants/dupont/suspend"),
    ("POST", "/v1/tenants/dupont/resume"),
    ("POST", "/v1/tenants/dupont/backup"),
    ("POST", "/v1/tenants/dupont/database"),
    ("POST", "/v1/tenants/dupont/admins"),
    ("GET", "/v1/tenants/dupont/usage"),
    ("POST", "/v1/reload"),
    ("GET", "/v1/plans"),
    ("GET", "/v1/events"),
    ("GET", "/v1/events?limit=5"),
    ("GET", "/v1/billing?month=2026-01"),
    ("GET", "/v1/proxy"),
    ("GET", "/v1/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/v1/nonexistent"),
    ("PUT", "/v1/tenants"),
]


def started(root, ids=("dupont", "martin")):
    for tid in ids:
        root.add_tenant(tid)
    root.start()
    return root


def test_status_over_socket_and_tcp(root):
    started(root)
    via_unix = root.status()
    assert [t["id"] for t in via_unix] == ["dupont", "martin"]
    for t in via_unix:
        for f in FIELDS:
            assert f in t, f
        assert t["state"] == "running"
        assert isinstance(t["pid"], int) and t["pid"] > 0
        assert t["config_error"] == ""
    r = root.get("/v1/tenants", via="tcp", token=root.token())
    assert r.status == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "no-store"
    assert int(r.headers["content-length"]) == len(r.body)
    assert [t["id"] for t in r.json()] == ["dupont", "martin"]
    one = root.get("/v1/tenants/martin", via="tcp", token=root.token())
    assert one.status == 200 and one.json()["id"] == "martin"
    assert one.json()["port"] == via_unix[1]["port"]
    missing = root.get("/v1/tenants/nosuch")
    assert missing.status == 404
    assert missing.json()["error"] and "detail" in missing.json()
    head = root.request("HEAD", "/v1/tenants")
    assert head.status == 200 and head.body == b""


def test_tcp_needs_token_on_every_route(root):
    started(root, ("dupont",))
    good = root.token()
    wrong = [None, "x", good[:-1] + ("0" if good[-1] != "0" else "1"), good + "0",
             "0" * len(good)]
    for method, path in ROUTES:
        for tok in wrong:
            r = root.request(method, path, body={} if method == "POST" else None, via="tcp",
                             token=tok)
            assert r.status == 401, (method, path, tok, r.status, r.text)
            assert r.headers.get("www-authenticate", "").startswith("Bearer"), (method, path)
            assert r.json()["error"], (method, path)
        # Another scheme is no better than none.
        r = root.request(method, path, via="tcp", headers={"Authorization": "Basic " + good})
        assert r.status == 401, (method, path)
    # Nothing changed: the tenant still runs under the same pid.
    assert root.status("dupont")["state"] == "running"


def test_files_are_private(root):
    started(root, ())
    for name in ("admin.token", "admin.sock"):
        st = os.lstat(os.path.join(root.run_dir, name))
        assert stat.S_IMODE(st.st_mode) == 0o600, (name, oct(st.st_mode))
    assert stat.S_ISSOCK(os.lstat(os.path.join(root.run_dir, "admin.sock")).st_mode)
    tok = root.token()
    assert len(tok) >= 32
    # A second start keeps the token.
    assert root.stop() == 0
    root.start()
    assert root.token() == tok


def connect_as_nobody(path):
    """Fork a child that drops to uid/gid 65534 and tries to connect; returns
    its errno (0 on success)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            try:
                s.connect(path)
                s.sendall(b"GET /v1/tenants HTTP/1.1\r\nHost: x\r\n\r\n")
                data = s.recv(100)
                code = 0 if data.startswith(b"HTTP/1.1 200") else 250
            except OSError as e:
                code = e.errno or 251
        finally:
            os.write(wfd, str(code).encode())
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return int(out or "252")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another uid")
def test_socket_refuses_other_uids(root):
    started(root, ())
    import errno
    assert connect_as_nobody(os.path.join(root.run_dir, "admin.sock")) in (errno.EACCES,
                                                                           errno.EPERM)
    assert root.get("/v1/tenants").status == 200


def test_hostile_ids(root):
    started(root, ("dupont",))
    hostile = ["..%2f..", "..%2F..%2Fetc%2Fpasswd", "a;b", "x" * 300, "Dupont", "admin",
               "%00", "dupont%00", "-a", "a b".replace(" ", "%20"), "..", "."]
    for tid in hostile:
        for method, suffix in (("GET", ""), ("POST", "/stop"), ("DELETE", "")):
            r = root.request(method, f"/v1/tenants/{tid}{suffix}",
                             body={} if method == "POST" else None)
            assert 400 <= r.status < 500, (tid, method, r.status, r.text)
            assert r.json()["error"]
    assert root.status("dupont")["state"] == "running"
    assert root.get("/v1/tenants").status == 200


def test_body_is_capped(root):
    started(root, ())
    # h2o answers 413 as soon as it sees the length, and closes: read the
    # answer on a raw socket rather than racing the upload.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(os.path.join(root.run_dir, "admin.sock"))
    s.sendall(b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 262144\r\n\r\n")
    try:
        s.sendall(b"x" * 262144)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    for _ in range(100):  # until h2o closes, bounded
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        answer += chunk
    s.close()
    assert answer.startswith(b"HTTP/1.1 413")
    # The API's JSON error, as for every other answer (issue 18).
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    err = json.loads(body)
    assert err["error"] == "payload too large" and "65536" in err["detail"], err
    assert root.get("/v1/tenants").status == 200


def test_tenantctl_status(root):
    started(root)
    r = root.tenantctl("status")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATE", "PID", "PORT", "PLAN", "UPTIME", "RESTARTS",
                                "WAKEUPS", "LAST-EXIT"]
    rows = {l.split()[0]: l.split() for l in lines[1:] if l.strip()}
    api = {t["id"]: t for t in root.status()}
    for tid in ("dupont", "martin"):
        assert rows[tid][1] == "running"
        assert rows[tid][2] == str(api[tid]["pid"])
        assert rows[tid][3] == str(api[tid]["port"])
        assert rows[tid][4] == "professional"
    # Columns are aligned: every row's PID column ends where the header's does.
    end = lines[0].index("PID") + 3
    for l in lines[1:3]:
        assert l[end - 1] != " " and (len(l) == end or l[end] == " ")

    # The proxy is fine (mode off here): nothing is added below the table.
    assert "proxy:" not in r.stdout

    js = json.loads(root.tenantctl("status", "--json").stdout)
    assert [t["id"] for t in js] == ["dupont", "martin"]
    one = json.loads(root.tenantctl("--json", "status", "martin").stdout)
    assert one["id"] == "martin" and one["pid"] == api["martin"]["pid"]

    assert root.tenantctl("status", "nosuch", check=False).returncode == 4
    assert root.tenantctl("status", "a;b", check=False).returncode == 2
    assert root.tenantctl("frobnicate", check=False).returncode == 2
    h = root.tenantctl("--help")
    assert "status" in h.stdout
    h = root.tenantctl("status", "--help")
    assert "status" in h.stdout
    env = dict(os.environ, TENANTD_ADMIN_SOCKET=os.path.join(root.path, "nothere.sock"))
    r = subprocess.run([binpath("tenantctl"), "-c", root.config, "status"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3 and "cannot reach" in r.stderr


def test_tenantctl_shows_config_errors(root):
    started(root, ("dupont",))
    with open(root.tenant_file("broken"), "w") as f:
        f.write("[tenant]\nname = Broken \x1b[31m\nplan = nosuchplan\n")
    wait_for(lambda: any(t["id"] == "broken" and t["config_error"] for t in root.status()),
             what="the broken tenant to be listed")
    out = root.tenantctl("status").stdout
    assert "broken: config error:" in out
    assert "\x1b" not in out


def test_graceful_stop_with_idle_connection(root):
    started(root, ())
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(os.path.join(root.run_dir, "admin.sock"))
    s.sendall(b"GET /v1/tenants HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(65536).startswith(b"HTTP/1.1 200")
    t0 = time.monotonic()
    assert root.stop() == 0
    assert time.monotonic() - t0 < 8
    assert s.recv(100) == b""
    s.close()
    assert not os.path.exists(os.path.join(root.run_dir, "admin.sock"))


# ---- phase 2: actions, desired state, events --------------------------------------


def events(root, n=50):
    r = root.get(f"/v1/events?limit={n}")
    assert r.status == 200, r.text
    return r.json()


def test_actions_and_events(root):
    started(root)
    pid = root.status("martin")["pid"]
    assert root.post("/v1/tenants/dupont/stop").status == 202
    root.wait_state("dupont", "stopped")
    assert root.status("dupont")["pid"] is None
    assert root.status("dupont")["desired"] == "down"
    assert root.post("/v1/tenants/dupont/start").status == 202
    root.wait_state("dupont", "running")
    assert root.post("/v1/tenants/martin/restart", via="tcp", token=root.token()).status == 202
    root.wait_state("martin", "running", pred=lambda s: s["pid"] not in (None, pid))
    assert root.post("/v1/tenants/martin/suspend").status == 202
    root.wait_state("martin", "suspended")
    assert root.post("/v1/tenants/martin/resume").status == 202
    root.wait_state("martin", "running")
    assert root.post("/v1/tenants/nosuch/stop").status == 404
    r = root.post("/v1/reload")
    assert r.status == 200 and r.json()["reloaded"] is True
    assert root.get("/v1/tenants/dupont/stop").status == 405
    assert root.tenantctl("stop", "dupont").returncode == 0
    root.wait_state("dupont", "stopped")
    assert root.tenantctl("start", "nosuch", check=False).returncode == 4

    ev = events(root)
    seen = [(e["action"], e["tenant"], e["who"], e["result"]) for e in reversed(ev)]
    uid = f"uid:{os.geteuid()}"
    for expected in [("stop", "dupont", uid, "ok"), ("start", "dupont", uid, "ok"),
                     ("restart", "martin", "token", "ok"), ("suspend", "martin", uid, "ok"),
                     ("resume", "martin", uid, "ok"), ("reload", "", uid, "ok")]:
        assert expected in seen, (expected, seen)
    assert any(a == "stop" and t == "nosuch" and r.startswith("error") for a, t, _, r in seen)
    # Newest first, each with a time.
    assert [e["id"] for e in ev] == sorted((e["id"] for e in ev), reverse=True)
    assert all(e["time"].endswith("Z") for e in ev)
    assert len(events(root, 2)) == 2
    assert root.get("/v1/events?limit=0").status == 400
    assert root.get("/v1/events?limit=abc").status == 400
    out = root.tenantctl("events", "-n", "3").stdout
    assert "nosuch" in out and len(out.splitlines()) == 3
    plans = root.get("/v1/plans").json()
    assert {p["name"] for p in plans} == {"starter", "professional", "enterprise"}
    assert "professional" in root.tenantctl("plans").stdout
    db = os.path.join(root.run_dir, "state.db")
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600


def test_stop_survives_restart(root):
    started(root)
    assert root.tenantctl("stop", "dupont").returncode == 0
    root.wait_state("dupont", "stopped")
    assert root.tenantctl("suspend", "martin").returncode == 0
    root.wait_state("martin", "suspended")
    assert root.stop() == 0
    mark = len(root.log())
    root.start(wait_ids=[])
    # The admin API answers only after the recorded wishes were applied.
    assert root.status("dupont")["state"] == "stopped"
    assert root.status("dupont")["desired"] == "down"
    root.wait_state("martin", "suspended")
    assert root.status("dupont")["state"] == "stopped"
    after = root.log()[mark:]
    assert "[dupont] worker started" not in after, after
    assert root.tenantctl("start", "dupont").returncode == 0
    root.wait_state("dupont", "running")
    assert root.stop() == 0
    root.start(wait_ids=["dupont"])


# ---- phase 2: onboarding and offboarding -------------------------------------------


def processes_of(tid):
    """Pids whose environment says CLIENT_ID=<tid> (the worker contract)."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"CLIENT_ID={tid}".encode() in env:
            found.append(int(p))
    return found


def assert_nothing_left(root, tid):
    assert not os.path.exists(root.tenant_file(tid)), tid
    assert not os.path.exists(os.path.join(root.path, "data", "clients", tid)), tid
    assert not os.path.exists(os.path.join(root.path, "logs", f"{tid}.log")), tid
    assert tid not in [t["id"] for t in root.status()], tid
    assert processes_of(tid) == [], tid
    assert [f for f in os.listdir(os.path.join(root.path, "tenants.d"))
            if f.startswith(".")] == []


def worker_login(port, username, password):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    from tenantd_test import http_request
    return http_request(conn, "POST", "/api/auth/login",
                        {"username": username, "password": password})


def test_onboard_happy_path(root):
    started(root, ("dupont",))
    name = "Cabinet d'Avocats Müller & Fils"
    r = root.tenantctl("onboard", "muller", name, "starter", "--email", "contact@muller.fr",
                       "--json")
    out = json.loads(r.stdout)
    assert set(out) == {"id", "url", "port", "admin"}
    assert out["id"] == "muller" and out["admin"]["username"] == "admin"
    assert out["admin"]["password"]
    assert root.port_min <= out["port"] <= root.port_max
    assert out["port"] != root.status("dupont")["port"]
    assert "muller" in out["url"]
    st = root.status("muller")
    assert st["state"] == "running" and st["name"] == name and st["plan"] == "starter"
    assert os.path.isdir(os.path.join(root.path, "data", "clients", "muller"))
    with open(root.tenant_file("muller")) as f:
        text = f.read()
    assert "name = " + name in text and f"port = {out['port']}" in text
    login = worker_login(out["port"], "admin", out["admin"]["password"])
    assert login.status == 200, login.text
    assert login.json()["token"]
    # The human form, with an explicit subdomain and port.
    port = root.port_max
    r = root.tenantctl("onboard", "petit", "Cabinet Petit", "professional", "--subdomain",
                       "petit-avocats", "--port", str(port))
    assert "onboarded petit" in r.stdout and "password:" in r.stdout
    assert root.status("petit")["port"] == port
    assert root.status("petit")["subdomain"] == "petit-avocats"
    ev = [(e["action"], e["tenant"], e["result"]) for e in events(root)]
    assert ("onboard", "muller", "ok") in ev and ("onboard", "petit", "ok") in ev


def test_onboard_failures_leave_nothing(root):
    started(root, ("dupont",))
    taken = root.status("dupont")["port"]
    cases = [
        ({"id": "Bad", "name": "X", "plan": "starter"}, 400),
        ({"id": "admin", "name": "X", "plan": "starter"}, 400),
        ({"id": "a;b", "name": "X", "plan": "starter"}, 400),
        ({"id": "newco", "name": "X", "plan": "platinum"}, 400),
        ({"id": "newco", "plan": "starter"}, 400),
        ({"id": "newco", "name": "line\nbreak", "plan": "starter"}, 400),
        ({"id": "newco", "name": "a ; comment", "plan": "starter"}, 400),
        ({"id": "newco", "name": "x" * 300, "plan": "starter"}, 400),
        ({"id": "newco", "name": "X", "plan": "starter", "port": taken}, 409),
        ({"id": "newco", "name": "X", "plan": "starter", "port": 80}, 400),
        ({"id": "newco", "name": "X", "plan": "starter", "port": "5001"}, 400),
        ({"id": "newco", "name": "X", "plan": "starter", "subdomain": "dupont"}, 409),
        ({"id": "newco", "name": "X", "plan": "starter", "subdomain": "bad_sub"}, 400),
        ({"id": "dupont", "name": "X", "plan": "starter"}, 409),
    ]
    for body, status in cases:
        r = root.post("/v1/tenants", body)
        assert r.status == status, (body, r.status, r.text)
        assert r.json()["error"] and r.json()["detail"], body
        assert_nothing_left(root, "newco")
    assert root.post("/v1/tenants", b"{not json").status == 400
    assert root.post("/v1/tenants", [1, 2]).status == 400
    # tenantctl says why and exits non-zero.
    r = root.tenantctl("onboard", "newco", "X", "platinum", check=False)
    assert r.returncode == 1 and "platinum" in r.stderr
    r = root.tenantctl("onboard", "newco", "X", check=False)
    assert r.returncode == 2
    # A data dir left behind by an earlier tenant is never reused.
    leftover = os.path.join(root.path, "data", "clients", "oldco")
    os.makedirs(leftover)
    assert root.post("/v1/tenants", {"id": "oldco", "name": "X", "plan": "starter"}).status == 409
    assert os.path.isdir(leftover) and not os.path.exists(root.tenant_file("oldco"))
    assert root.status("dupont")["state"] == "running"
    ev = [e for e in events(root, 100) if e["action"] == "onboard"]
    assert len(ev) >= len(cases) and all(e["result"].startswith("error") for e in ev)


def test_onboard_rolls_back_when_the_worker_fails(root):
    # Every worker of this root is a program that exits 78 at once: the file
    # and data dir exist when the failure is seen, and must be removed again.
    root.write_global(tenantd={"worker": os.path.join(os.path.dirname(binpath("tenantd")),
                                                      "helpers", "exit78")})
    root.start(wait_ids=[])
    r = root.post("/v1/tenants", {"id": "newco", "name": "New Co", "plan": "starter"})
    assert r.status >= 500, r.text
    assert "worker" in r.json()["error"]
    wait_for(lambda: not processes_of("newco"), what="no newco process")
    assert_nothing_left(root, "newco")
    ev = [e for e in events(root) if e["action"] == "onboard"]
    assert ev and ev[0]["result"].startswith("error")
    m = parse_metrics(root.get("/metrics").text)
    assert m[("tenantd_onboardings_total", (("result", "failed"),))] >= 1


def test_offboard_archives_and_purges(root):
    started(root, ("dupont", "martin"))
    pid = root.status("dupont")["pid"]
    dd = os.path.join(root.path, "data", "clients", "dupont")
    with open(os.path.join(dd, "marker"), "w") as f:
        f.write("keep me")
    r = root.tenantctl("offboard", "dupont", "--json")
    out = json.loads(r.stdout)
    arch = out["archive"]
    assert os.path.basename(arch).startswith("dupont-")
    assert os.path.dirname(arch) == os.path.join(root.path, "data", "archive")
    with open(os.path.join(arch, "data", "marker")) as f:
        assert f.read() == "keep me"
    assert os.path.exists(os.path.join(arch, "dupont.ini"))
    assert not os.path.exists(root.tenant_file("dupont")) and not os.path.exists(dd)
    assert "dupont" not in [t["id"] for t in root.status()]
    assert not pid_alive_or_zombie(pid)
    assert root.tenantctl("offboard", "dupont", check=False).returncode == 4
    r = root.request("DELETE", "/v1/tenants/martin?purge=1")
    assert r.status == 200 and r.json()["purged"] is True
    assert not os.path.exists(os.path.join(root.path, "data", "clients", "martin"))
    assert not os.path.exists(root.tenant_file("martin"))
    ev = [(e["action"], e["tenant"]) for e in events(root)]
    assert ("offboard", "dupont") in ev and ("offboard", "martin") in ev


def test_purge_does_not_follow_links_planted_in_the_data_dir(root):
    # The tenant owns its data dir: whatever it planted there, a purge run by
    # tenantd removes the names only, never what they point to.
    started(root, ("dupont",))
    dd = os.path.join(root.path, "data", "clients", "dupont")
    outside = os.path.join(root.path, "outside")
    os.makedirs(os.path.join(outside, "sub"))
    for name in ("victim", os.path.join("sub", "deep")):
        with open(os.path.join(outside, name), "w") as f:
            f.write("not the tenant's")
    os.symlink(outside, os.path.join(dd, "dirlink"))
    os.symlink(os.path.join(outside, "victim"), os.path.join(dd, "filelink"))
    os.makedirs(os.path.join(dd, "a", "b"))
    os.symlink(os.path.join(outside, "sub"), os.path.join(dd, "a", "b", "sublink"))
    os.mkfifo(os.path.join(dd, "a", "fifo"))
    r = root.request("DELETE", "/v1/tenants/dupont?purge=1")
    assert r.status == 200 and r.json()["purged"] is True, r.text
    assert not os.path.lexists(dd)
    for name in ("victim", os.path.join("sub", "deep")):
        with open(os.path.join(outside, name)) as f:
            assert f.read() == "not the tenant's"


def test_create_admin_refuses_a_secret_that_is_not_a_file(root):
    # A FIFO planted as the secret must not stall tenantd's loop in open(2):
    # the request is refused at once and tenantd keeps answering.
    started(root, ("dupont",))
    secret = os.path.join(root.path, "data", "clients", "dupont", "secret")
    saved = secret + ".saved"
    os.rename(secret, saved)
    os.mkfifo(secret)
    try:
        r = root.post("/v1/tenants/dupont/admins", {"username": "alice"})
        assert r.status == 409, r.text
        assert "regular file" in r.json()["detail"]
        assert [t["id"] for t in root.status()] == ["dupont"]
    finally:
        # Release a reader blocked on the FIFO, should there be one.
        try:
            os.close(os.open(secret, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        os.unlink(secret)
        os.rename(saved, secret)


def test_create_admin(root):
    # With a certificate configured, the URL handed out is the https one
    # (mode = off: nothing reads the files).
    root.write_global(proxy={"tls_cert": "cert.pem", "tls_key": "key.pem", "tls_port": "8443"})
    started(root, ("dupont", "martin"))
    port = root.status("dupont")["port"]
    r = root.tenantctl("create-admin", "dupont", "alice")
    lines = dict(line.split(": ", 1) for line in r.stdout.splitlines())
    assert set(lines) == {"url", "username", "password"}, r.stdout
    assert lines["username"] == "alice" and len(lines["password"]) >= 16
    assert lines["url"] == "https://dupont.localhost:8443/"
    login = worker_login(port, "alice", lines["password"])
    assert login.status == 200, login.text
    me = root.worker_get(port, "/api/me", {"Authorization": "Bearer " + login.json()["token"]})
    assert me.status == 200 and me.json()["role"] == "admin", me.text
    # --json, and the API itself over TCP.
    out = json.loads(root.tenantctl("create-admin", "dupont", "bob.m@x", "--json").stdout)
    assert set(out) == {"id", "url", "admin"} and out["id"] == "dupont"
    assert out["admin"]["username"] == "bob.m@x"
    assert worker_login(port, "bob.m@x", out["admin"]["password"]).status == 200
    r = root.post("/v1/tenants/martin/admins", {"username": "carol"}, via="tcp",
                  token=root.token())
    assert r.status == 201, r.text
    assert r.json()["url"] == "https://martin.localhost:8443/"
    mport = root.status("martin")["port"]
    assert worker_login(mport, "carol", r.json()["admin"]["password"]).status == 200
    # One firm's account is worthless at another.
    assert worker_login(mport, "alice", lines["password"]).status == 401

    # An existing user: 409, exit 1, and the account keeps its password.
    r = root.post("/v1/tenants/dupont/admins", {"username": "alice"})
    assert r.status == 409 and r.json()["error"] == "user exists", r.text
    r = root.tenantctl("create-admin", "dupont", "alice", check=False)
    assert r.returncode == 1 and "exists" in r.stderr and "password" not in r.stdout
    assert worker_login(port, "alice", lines["password"]).status == 200
    # Unknown tenant, bad input.
    assert root.post("/v1/tenants/nosuch/admins", {"username": "x"}).status == 404
    assert root.tenantctl("create-admin", "nosuch", "x", check=False).returncode == 4
    for body in ({"username": "a b"}, {"username": ""}, {"username": "x" * 64},
                 {"username": "a\u0000b"}, {"username": 5}, {}, [1], b"{bad"):
        r = root.post("/v1/tenants/dupont/admins", body)
        assert r.status == 400 and r.json()["error"], (body, r.status, r.text)
    assert root.post("/v1/tenants/Bad/admins", {"username": "x"}).status == 400
    assert root.get("/v1/tenants/dupont/admins").status == 405
    assert root.tenantctl("create-admin", "dupont", check=False).returncode == 2
    assert root.tenantctl("create-admin", "--help").stdout.startswith("usage:")
    # A tenant whose data dir is missing: 409, nothing created.
    assert root.post("/v1/tenants/martin/stop").status == 202
    root.wait_state("martin", "stopped")
    dd = os.path.join(root.path, "data", "clients", "martin")
    os.rename(dd, dd + ".aside")
    r = root.post("/v1/tenants/martin/admins", {"username": "dave"})
    assert r.status == 409 and r.json()["error"] == "no data dir", r.text
    assert not os.path.exists(dd)
    os.rename(dd + ".aside", dd)

    ev = [(e["action"], e["tenant"], e["result"]) for e in events(root, 100)
          if e["action"] == "create-admin"]
    assert ("create-admin", "dupont", "ok: user alice") in ev
    assert ("create-admin", "martin", "ok: user carol") in ev
    assert any(t == "dupont" and res.startswith("error: user exists") for _, t, res in ev)
    assert any(t == "nosuch" and res.startswith("error") for _, t, res in ev)
    assert not any(lines["password"] in res for _, _, res in ev)
    assert lines["password"] not in root.log()


def test_usage_is_asked_from_the_worker(root):
    import http.client
    from tenantd_test import http_request
    started(root, ("dupont", "martin"))
    port = root.status("dupont")["port"]
    r = root.tenantctl("create-admin", "dupont", "alice")
    pw = dict(line.split(": ", 1) for line in r.stdout.splitlines())["password"]
    bearer = {"Authorization": "Bearer " + worker_login(port, "alice", pw).json()["token"]}
    before = root.get("/v1/tenants/dupont/usage", via="tcp", token=root.token())
    assert before.status == 200, before.text
    assert before.headers["content-type"].startswith("application/json")
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        a = http_request(conn, "POST", "/api/analyses",
                         {"case_text": "Conjoint de francais, dix ans de presence"}, bearer)
        assert a.status == 201, a.text
    u = root.get("/v1/tenants/dupont/usage").json()
    assert u["client_id"] == "dupont" and u["analyses_limit"] == 500 and u["users_limit"] == 10
    assert u["analyses_used"] == before.json()["analyses_used"] + 3 == 3
    assert u["users_active"] == 1
    assert u == root.worker_get(port, "/api/billing/usage", bearer).json()
    # Each tenant answers for itself.
    assert root.get("/v1/tenants/martin/usage").json()["client_id"] == "martin"
    # Without the admin token: 401; unknown: 404; not running: 409; GET only.
    assert root.get("/v1/tenants/dupont/usage", via="tcp").status == 401
    assert root.get("/v1/tenants/nosuch/usage").status == 404
    assert root.post("/v1/tenants/dupont/usage").status == 405
    assert root.post("/v1/tenants/martin/stop").status == 202
    root.wait_state("martin", "stopped")
    r = root.get("/v1/tenants/martin/usage")
    assert r.status == 409 and r.json()["error"], r.text
    # A user's session is no key to the worker's internal route.
    assert root.worker_get(port, "/internal/usage", bearer).status == 401


def pid_alive_or_zombie(pid):
    return os.path.exists(f"/proc/{pid}")


# ---- phase 2: metrics ----------------------------------------------------------------


def parse_metrics(text):
    """A small parser of the Prometheus text format 0.0.4: {(name, labels): value}."""
    out = {}
    types = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = typ
            continue
        if line.startswith("#"):
            assert line.startswith("# HELP "), line
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            labels, i = [], 0
            while rest[i] != "}":
                eq = rest.index("=", i)
                key = rest[i:eq]
                assert rest[eq + 1] == '"', line
                j, val = eq + 2, ""
                while rest[j] != '"':
                    if rest[j] == "\\":
                        val += {"n": "\n", "\\": "\\", '"': '"'}[rest[j + 1]]
                        j += 2
                    else:
                        val += rest[j]
                        j += 1
                labels.append((key, val))
                i = j + 1
                if rest[i] == ",":
                    i += 1
            value = rest[i + 1:].strip()
        else:
            name, value = line.split(" ", 1)
            labels = []
        assert name in types, f"{name} has no TYPE line"
        out[(name, tuple(labels))] = float(value)
    return out


def test_metrics_match_status(root):
    started(root)
    assert root.post("/v1/tenants/martin/stop").status == 202
    root.wait_state("martin", "stopped")
    r = root.get("/metrics", via="tcp", token=root.token())
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    m = parse_metrics(r.text)
    status = {t["id"]: t for t in root.status()}
    for tid, t in status.items():
        lab = (("tenant", tid),)
        assert m[("tenantd_tenant_up", lab)] == (1 if t["state"] == "running" else 0)
        assert m[("tenantd_tenant_restarts_total", lab)] == t["restarts"]
        assert m[("tenantd_tenant_state", (("tenant", tid), ("state", t["state"])))] == 1
        assert sum(v for (n, l), v in m.items()
                   if n == "tenantd_tenant_state" and l[0] == ("tenant", tid)) == 1
        assert ("tenantd_tenant_resident_memory_bytes", lab) in m
        assert ("tenantd_tenant_cpu_seconds_total", lab) in m
    assert m[("tenantd_tenant_resident_memory_bytes", (("tenant", "dupont"),))] > 0
    assert m[("tenantd_tenants", (("state", "running"),))] == 1
    assert m[("tenantd_tenants", (("state", "stopped"),))] == 1
    assert ("tenantd_reloads_total", ()) in m
    # The proxy's families (mode off here: nothing to refuse, nothing applied).
    assert m[("tenantd_proxy_config_ok", ())] == 1
    assert m[("tenantd_proxy_reloads_total", ())] == 0
    assert m[("tenantd_proxy_failures_total", ())] == 0
    proxy = root.get("/v1/proxy").json()
    assert proxy["mode"] == "off" and proxy["ok"] is True and proxy["last_error"] == ""

    # Every reload counts, whatever asked for it: SIGHUP, then the API.
    def reloads():
        return parse_metrics(root.get("/metrics").text)[("tenantd_reloads_total", ())]
    before = reloads()
    root.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: reloads() == before + 1, what="tenantd_reloads_total to count the SIGHUP")
    assert root.post("/v1/reload").status == 200
    assert reloads() == before + 2


# ---- phase 2: the dashboard in a real browser -----------------------------------------


def test_dashboard_in_chromium(root, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from tenantd_test import ARTIFACTS
    started(root)
    page = root.get("/", via="tcp")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert "dupont" not in page.text  # the page itself holds no data
    driver = browser
    # The table is re-rendered on every refresh: an element found just before
    # one is stale when read, which only means "look again".
    from selenium.common.exceptions import StaleElementReferenceException
    wait = WebDriverWait(driver, 20, ignored_exceptions=(StaleElementReferenceException,))
    driver.get(f"http://127.0.0.1:{root.admin_port}/")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    driver.find_element(By.ID, "token").send_keys(root.token())
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(lambda d: d.find_elements(By.ID, "row-martin"))
    status = {t["id"]: t for t in root.status()}
    for tid in status:
        row = driver.find_element(By.ID, f"row-{tid}")
        assert row.find_element(By.CSS_SELECTOR, ".state").text == "running"
        assert row.find_element(By.CSS_SELECTOR, ".pid").text == str(status[tid]["pid"])
        assert row.find_element(By.CSS_SELECTOR, ".plan").text == "professional"
        assert row.find_element(By.CSS_SELECTOR, ".wakeups").text == "0"
        # The month's usage, asked from each worker.
        wait.until(lambda d, tid=tid: re.fullmatch(
            r"0/500 analyses · \d+/10 users",
            d.find_element(By.CSS_SELECTOR, f"#row-{tid} .usage").text))
    old = status["dupont"]["pid"]
    driver.find_element(By.CSS_SELECTOR, "#row-dupont button[data-action=restart]").click()
    root.wait_state("dupont", "running", pred=lambda s: s["pid"] not in (None, old))
    new = root.status("dupont")["pid"]
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#row-dupont .pid").text == str(new))
    wait.until(lambda d: "restart" in d.find_element(By.ID, "events").text)
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, "admin-dashboard.png"))


# ---- tenantctl offline commands ---------------------------------------------------------


def test_tenantctl_logs_and_check(root):
    logs = os.path.join(root.path, "logs")
    os.makedirs(logs, exist_ok=True)
    path = os.path.join(logs, "ghost.log")
    with open(path, "w") as f:
        f.writelines(f"line {i}\n" for i in range(100))
    r = root.tenantctl("logs", "ghost", "-n", "3")
    assert r.stdout == "line 97\nline 98\nline 99\n"
    assert root.tenantctl("logs", "nobody-here", check=False).returncode == 4
    assert root.tenantctl("logs", "../etc", check=False).returncode == 2

    p = subprocess.Popen([binpath("tenantctl"), "-c", root.config, "logs", "ghost", "-f", "-n",
                          "1"], stdout=subprocess.PIPE)
    buf = b""

    def line(timeout=10):
        """The next line of its output, waiting at most `timeout` seconds."""
        nonlocal buf
        import select
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            assert left > 0, f"no line from tenantctl logs -f (have {buf!r})"
            if select.select([p.stdout], [], [], left)[0]:
                chunk = os.read(p.stdout.fileno(), 4096)
                assert chunk, "tenantctl logs -f ended"
                buf += chunk
        out, buf = buf.split(b"\n", 1)
        return out.decode() + "\n"

    try:
        assert line() == "line 99\n"
        with open(path, "a") as f:
            f.write("appended\n")
        assert line() == "appended\n"
        # Rotation: the file is renamed away and a new one takes its name.
        os.rename(path, path + ".1")
        with open(path, "w") as f:
            f.write("after rotation\n")
        assert line() == "after rotation\n"
        p.send_signal(signal.SIGINT)
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    root.add_tenant("dupont")
    r = root.tenantctl("check")
    assert "valid" in r.stdout
    with open(root.tenant_file("broken"), "w") as f:
        f.write("[tenant]\nname = X\nplan = nosuchplan\n[worker]\nport = 1\n")
    r = root.tenantctl("check", check=False)
    assert r.returncode == 1 and "broken.ini" in r.stderr


def test_tenantctl_logs_escapes_controls_on_a_terminal(root):
    """A tenant writes its own log: on a terminal, tenantctl logs shows C0 and C1
    controls (ESC, and C2 9B, which some terminals take as ESC [) as escapes, and
    keeps UTF-8 text such as accents and a no-break space (C2 A0) as it is."""
    import pty
    logs = os.path.join(root.path, "logs")
    os.makedirs(logs, exist_ok=True)
    with open(os.path.join(logs, "ghost.log"), "wb") as f:
        f.write(b"\xc3\xa9t\xc3\xa9 \x1b[31m \xc2\x9b31m nbsp:\xc2\xa0 end\xc2\n")
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([binpath("tenantctl"), "-c", root.config, "logs", "ghost"],
                             stdout=slave, stderr=subprocess.DEVNULL)
        os.close(slave)
        slave = -1
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO once tenantctl has closed the terminal
                break
            if not chunk:
                break
            out += chunk
        assert p.wait(timeout=10) == 0
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    out = out.replace(b"\r\n", b"\n")
    assert out == b"\xc3\xa9t\xc3\xa9 \\x1b[31m \\xc2\\x9b31m nbsp:\xc2\xa0 end\xc2\n", out


# ---- GET /v1/tenants/<id>?wait=<state>&timeout=<ms> -------------------------------


def test_wait_reached(root):
    """The answer comes once the tenant is in the state asked for, reached: true."""
    started(root, ("dupont",))
    root.wait_state("dupont", "running")
    # Already there: at once.
    r = root.get("/v1/tenants/dupont?wait=running&timeout=5000")
    assert r.status == 200 and r.json()["reached"] is True and r.json()["state"] == "running"
    # A stop asked for, then a wait for "stopped": answered as the state is reached,
    # long before the timeout.
    assert root.post("/v1/tenants/dupont/stop").status == 202
    t0 = time.monotonic()
    r = root.get("/v1/tenants/dupont?wait=stopped&timeout=15000")
    assert r.status == 200, r.text
    body = r.json()
    assert body["reached"] is True and body["state"] == "stopped" and body["pid"] is None
    assert time.monotonic() - t0 < 10
    for f in FIELDS:
        assert f in body, f
    # And back up: the wait sees "running" after "starting".
    assert root.post("/v1/tenants/dupont/start").status == 202
    r = root.get("/v1/tenants/dupont?wait=running&timeout=15000")
    assert r.status == 200 and r.json()["reached"] is True and r.json()["pid"]


def test_wait_timeout(root):
    """Not reached within the timeout: 200 with reached: false and the current state."""
    started(root, ("dupont",))
    root.wait_state("dupont", "running")
    t0 = time.monotonic()
    r = root.get("/v1/tenants/dupont?wait=suspended&timeout=300")
    elapsed = time.monotonic() - t0
    assert r.status == 200, r.text
    assert r.json()["reached"] is False and r.json()["state"] == "running"
    assert 0.25 <= elapsed < 5, elapsed
    # timeout=0 answers at once.
    r = root.get("/v1/tenants/dupont?wait=failed&timeout=0")
    assert r.status == 200 and r.json()["reached"] is False
    # While one request waits, the loop keeps serving others.
    import threading
    out = {}
    th = threading.Thread(target=lambda: out.setdefault(
        "r", root.get("/v1/tenants/dupont?wait=backoff&timeout=1500")))
    th.start()
    time.sleep(0.1)
    t1 = time.monotonic()
    assert root.get("/v1/tenants").status == 200
    assert time.monotonic() - t1 < 1
    th.join(10)
    assert out["r"].status == 200 and out["r"].json()["reached"] is False


def test_wait_bad_requests(root):
    """An unknown state or a bad timeout is 400; an unknown tenant 404."""
    started(root, ("dupont",))
    for q in ("wait=sleeping", "wait=", "wait=RUNNING", "wait=running&timeout=abc",
              "wait=running&timeout=-5", "wait=running&timeout=1x"):
        r = root.get(f"/v1/tenants/dupont?{q}")
        assert r.status == 400, (q, r.status, r.text)
        assert r.json()["error"]
    assert root.get("/v1/tenants/nosuch?wait=running&timeout=100").status == 404
    # The wait needs the token over TCP like every other route.
    assert root.get("/v1/tenants/dupont?wait=running", via="tcp").status == 401


def test_wait_answered_at_stop(root):
    """A request still waiting when tenantd stops gets an answer, not a reset."""
    started(root, ("dupont",))
    root.wait_state("dupont", "running")
    import threading
    out = {}
    th = threading.Thread(target=lambda: out.setdefault(
        "r", root.get("/v1/tenants/dupont?wait=failed&timeout=60000")))
    th.start()
    time.sleep(0.2)
    root.stop()
    th.join(20)
    assert "r" in out
    assert out["r"].status in (200, 503), out["r"].status
