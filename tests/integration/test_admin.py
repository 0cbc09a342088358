"""
The admin surface from outside: the JSON API over the unix socket and over
TCP (bearer token), its authentication on every route, the files' modes, the
peer check, hostile tenant ids, tenantctl, and a graceful stop.
"""
import json
import os
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import binpath, wait_for

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
    ("POST", "/v1/reload"),
    ("GET", "/v1/plans"),
    ("GET", "/v1/events"),
    ("GET", "/v1/events?limit=5"),
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
    assert s.recv(65536).startswith(b"HTTP/1.1 413")
    s.close()
    assert root.get("/v1/tenants").status == 200


def test_tenantctl_status(root):
    started(root)
    r = root.tenantctl("status")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATE", "PID", "PORT", "PLAN", "UPTIME", "RESTARTS",
                                "LAST-EXIT"]
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
