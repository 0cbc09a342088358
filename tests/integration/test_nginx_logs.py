"""nginx's per-tenant access logs rotated by tenantd within the log budget
rules of the workers' logs (issue 21): renamed past the tenant's share, nginx
reloaded so that it opens them anew, three older files kept. Real nginx in managed mode."""
import http.client
import os
import shutil

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
