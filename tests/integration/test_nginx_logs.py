"""nginx's per-tenant access logs rotated by tenantd within the log budget
rules of the workers' logs (issue 21): renamed past the tenant's share, nginx
reloaded so that it opens them anew, three older files kept. Real nginx in managed mode."""
import http.client
import os
import shutil
import socket

import pytest

from tenantd_test import helper, http_request, wait_for

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None and
                                not os.path.exists("/usr/sbin/nginx"),
                                reason="nginx is not installed")


def get(root, path):
    conn = http.client.HTTPConnection("127.0.0.1", root.proxy_port, timeout=5)
    return http_request(conn, "GET", path, headers={"Host": "dupont.localhost"})


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def test_access_log_rotated_past_its_share_and_reopened(root):
    # rotate_size sets the share of every log (the workers' too); 4K is about
    # 40 lines of nginx's combined format.
    root.write_global(proxy={"mode": "managed"}, logs={"rotate_size": "4K",
                                                       "access_check": "200ms"})
    root.add_tenant("dupont", worker={"command": helper("miniworker"), "socket": "passed"})
    root.start()
    wait_for(lambda: get(root, "/healthz").status == 200, what="dupont through nginx")
    log = os.path.join(root.path, "logs", "dupont.access.log")

    for i in range(80):
        assert get(root, f"/before-{i}").status < 500
    wait_for(lambda: os.path.exists(log + ".1"), timeout=15, what="the first rotation")
    assert "/before-" in read(log + ".1")
    assert os.path.getsize(log + ".1") > 4096

    # nginx writes to a new file once its reload is done (new workers); a
    # request served by an old worker may still land in the renamed one. More
    # rotations may follow meanwhile, so files are told apart by inode.
    first = os.stat(log + ".1").st_ino

    def inodes_with(marker):
        out = set()
        for p in [log] + [f"{log}.{k}" for k in (1, 2, 3)]:
            try:
                if marker in read(p):
                    out.add(os.stat(p).st_ino)
            except FileNotFoundError:
                pass
        return out

    wait_for(lambda: get(root, "/after-the-rotation").status < 500 and
             inodes_with("/after-the-rotation") - {first}, timeout=15,
             what="nginx writing a new access log")
    assert get(root, "/only-in-the-new-file").status < 500
    where = wait_for(lambda: inodes_with("/only-in-the-new-file"), what="the next line")
    assert first not in where
    assert "rotated" in root.log() and "dupont.access.log" in root.log()

    # Three older files at most, as for the workers' logs.
    for round_ in range(6):
        if os.path.exists(log + ".3") and round_ >= 4:
            break
        before = read(log + ".1")
        for i in range(80):
            get(root, f"/round-{round_}-{i}")
        wait_for(lambda: read(log + ".1") != before, timeout=15, what=f"rotation {round_}")
    assert os.path.exists(log + ".3") and not os.path.exists(log + ".4")


def too_large(root, path):
    """A request nginx refuses (413) and logs at error level ("client intended to send
    too large body"): only its headers are sent, over a raw loopback socket."""
    with socket.create_connection(("127.0.0.1", root.proxy_port), timeout=5) as s:
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: dupont.localhost\r\n"
                   "Content-Length: 104857600\r\nConnection: close\r\n\r\n").encode())
        # nginx answers at once, then waits for the body it will discard: read
        # the answer's head and hang up.
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


def test_error_log_is_captured_within_its_budget(root):
    # nginx's stderr (error_log stderr) reaches logs/nginx.log through tenantd's capture,
    # rotated at rotate_size like the workers' logs, three older files kept.
    root.write_global(proxy={"mode": "managed"}, logs={"rotate_size": "8K"})
    root.add_tenant("dupont", worker={"command": helper("miniworker"), "socket": "passed"})
    root.start()
    wait_for(lambda: get(root, "/healthz").status == 200, what="dupont through nginx")
    log = os.path.join(root.path, "logs", "nginx.log")
    files = [log] + [f"{log}.{k}" for k in (1, 2, 3, 4)]

    # Each refused request costs a line of about 1.2 KB (its URI is quoted in it):
    # 120 of them are well over the 4 x 8K the budget keeps.
    pad = "x" * 1000
    written = 0
    for i in range(120):
        answer = too_large(root, f"/flood-{i:03d}-{pad}")
        assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
        written += 1000
    wait_for(lambda: "/flood-119-" in read(log) or "/flood-119-" in read(log + ".1"),
             timeout=15, what="the last error line in nginx.log")

    sizes = [os.path.getsize(p) for p in files if os.path.exists(p)]
    assert os.path.exists(log + ".3") and not os.path.exists(log + ".4"), sizes
    # A file is rotated before a write would take it past 8K; one write holds the
    # lines read meanwhile, a few at most here.
    assert all(n <= 8192 + 3 * 4096 for n in sizes), sizes
    assert sum(sizes) < written, (sizes, written)
    assert "client intended to send too large body" in read(log + ".1")
    # The lines come through tenantd's capture: time, stream, nginx's own line.
    first = read(log + ".1").splitlines()[0]
    assert " stderr " in first and "[error]" in first, first
    # nginx still serves, and still logs into the capture.
    assert get(root, "/healthz").status == 200
    too_large(root, "/after-the-flood")
    wait_for(lambda: "/after-the-flood" in read(log), what="a line after the rotations")

    # An in-place upgrade keeps nginx, and its error log pipe with it: the next
    # image captures what it writes.
    nginx_pid = root.get("/v1/proxy").json()["nginx_pid"]
    root.tenantctl("upgrade")
    assert root.get("/v1/proxy").json()["nginx_pid"] == nginx_pid
    assert "no error log pipe handed over" not in root.log()
    too_large(root, "/after-the-upgrade")
    wait_for(lambda: "/after-the-upgrade" in read(log), what="a line after the upgrade")
