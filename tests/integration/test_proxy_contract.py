"""
The conventions of the generated nginx config towards clients and workers (issue 18;
templates/nginx/*.conf.in, docs/proxy.md): WebSocket upgrades pass, the worker sees the
edge's X-Forwarded-* (set, not appended) and the Host with its port, the body limit comes
from `max_body` (plan, then tenant), nginx's own 413/502 answer JSON to a client that asked
for JSON, and an unknown host gets a branded page.

Real nginx in managed mode; the worker is a stdlib Python script on the passed socket, which
answers what it saw.
"""
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import struct

import pytest

from tenantd_test import http_request, wait_for

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed")

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# GET /headers: the request's headers as JSON; POST /upload: {"received": n};
# GET /close: closes without an answer (nginx makes that a 502); GET /ws: a
# WebSocket echo (RFC 6455, unfragmented frames).
WORKER = r'''#!/usr/bin/python3
import base64, hashlib, http.server, json, signal, socket, socketserver, struct, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/healthz":
            self.answer(200, {"ok": True})
        elif self.path == "/headers":
            self.answer(200, {k.lower(): v for k, v in self.headers.items()})
        elif self.path == "/close":
            self.close_connection = True
        elif self.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self.websocket()
        else:
            self.answer(404, {"error": "not_found", "detail": self.path})
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        got = 0
        while got < n:
            chunk = self.rfile.read(min(65536, n - got))
            if not chunk:
                break
            got += len(chunk)
        self.answer(200, {"received": got})
    def websocket(self):
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        for _ in range(100):
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            op, n = head[0] & 0x0F, head[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", self.rfile.read(2))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
            if op == 8:
                self.wfile.write(b"\x88\x00")
                return
            self.wfile.write(bytes([0x80 | op, len(data)]) + data)
            self.wfile.flush()
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H, bind_and_activate=False)
s.socket = socket.socket(fileno=3)
s.serve_forever()
'''


def start_root(root, plan_max_body=None, **tenants):
    """tenants: id -> (plan, [limits] dict). Every tenant runs WORKER on the passed socket."""
    script = os.path.join(root.path, "wsworker.py")
    with open(script, "w") as f:
        f.write(WORKER)
    os.chmod(script, 0o755)
    if plan_max_body:
        plans = os.path.join(root.path, "plans.ini")
        with open(plans) as f:
            text = f.read()
        # The starter plan's own limit (the first max_body of plans.ini), raised.
        assert text.index("[starter]") < text.index("max_body = 1M\n")
        text = text.replace("max_body = 1M\n", f"max_body = {plan_max_body}\n", 1)
        with open(plans, "w") as f:
            f.write(text)
    root.write_global(proxy={"mode": "managed"})
    for tid, (plan, limits) in tenants.items():
        sections = {"worker": {"command": script, "socket": "passed"}}
        if limits:
            sections["limits"] = limits
        root.add_tenant(tid, plan=plan, **sections)
    root.start()
    for tid in tenants:
        wait_for(lambda: via(root, f"{tid}.localhost", "GET", "/healthz").status == 200,
                 timeout=20, what=f"{tid} through nginx")


def via(root, host, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", root.proxy_port, timeout=10)
    h = {"Host": host}
    h.update(headers or {})
    return http_request(conn, method, path, body=body, headers=h)


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, f"connection closed after {len(out)} of {n} bytes"
        out += chunk
    return out


def test_websocket_echo_through_nginx(root):
    start_root(root, dupont=("professional", None))
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", root.proxy_port), timeout=10) as s:
        s.sendall((f"GET /ws HTTP/1.1\r\nHost: dupont.localhost:{root.proxy_port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = s.recv(1)
            assert chunk, head
            head += chunk
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101"), lines
        hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        assert hdrs.get("sec-websocket-accept") == want, hdrs
        assert hdrs.get("upgrade", "").lower() == "websocket", hdrs
        for msg in (b"bonjour", b"second message, same connection"):
            mask = os.urandom(4)
            s.sendall(bytes([0x81, 0x80 | len(msg)]) + mask +
                      bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
            frame = recv_exact(s, 2)
            assert frame[0] == 0x81 and frame[1] == len(msg), frame
            assert recv_exact(s, len(msg)) == msg
        s.sendall(b"\x88\x80" + b"\0\0\0\0")
        assert recv_exact(s, 2) == b"\x88\x00"
    # An ordinary request still goes through on a kept-alive upstream connection.
    assert via(root, "dupont.localhost", "GET", "/healthz").status == 200


def test_forwarded_headers_as_the_worker_sees_them(root):
    start_root(root, dupont=("professional", None))
    host = f"dupont.localhost:{root.proxy_port}"
    r = via(root, host, "GET", "/headers", headers={
        "X-Forwarded-For": "203.0.113.9, 198.51.100.7",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Port": "1",
        "X-Forwarded-Proto": "https",
        "X-Real-IP": "203.0.113.9",
    })
    assert r.status == 200, r.text
    seen = r.json()
    assert seen["host"] == host
    # The edge replaces what the client claimed; nothing is appended.
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-real-ip"] == "127.0.0.1"
    assert seen["x-forwarded-host"] == host
    assert seen["x-forwarded-port"] == str(root.proxy_port)
    assert seen["x-forwarded-proto"] == "http"
    # No Upgrade on a plain request, and no Connection: upgrade.
    assert "upgrade" not in seen and seen.get("connection", "") != "upgrade", seen


def test_body_limit_from_plan_and_tenant(root):
    two_mib = os.urandom(2 * 1024 * 1024)
    # starter's max_body raised to 3M in plans.ini; "small" lowers it back in [limits].
    start_root(root, plan_max_body="3M",
               big=("starter", None),
               small=("starter", {"max_body": "1M"}))
    conf = open(os.path.join(root.run_dir, "nginx", "live", "tenants.conf")).read()
    assert "client_max_body_size 3145728;" in conf and "client_max_body_size 1048576;" in conf

    r = via(root, "big.localhost", "POST", "/upload", body=two_mib,
            headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r.text[:300]
    assert r.json() == {"received": len(two_mib)}

    r = via(root, "small.localhost", "POST", "/upload", body=two_mib,
            headers={"Content-Type": "application/octet-stream", "Accept": "application/json"})
    assert r.status == 413
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert body["error"] == "payload_too_large" and "1048576" in body["detail"], body

    # A browser (no JSON asked for) gets nginx's page, with the same status.
    r = via(root, "small.localhost", "POST", "/upload", body=two_mib,
            headers={"Content-Type": "application/octet-stream", "Accept": "text/html"})
    assert r.status == 413 and r.headers["content-type"].startswith("text/html"), r.headers


def test_bad_gateway_is_json_for_json_clients(root):
    start_root(root, dupont=("professional", None))
    r = via(root, "dupont.localhost", "GET", "/close", headers={"Accept": "application/json"})
    assert r.status == 502
    assert r.headers["content-type"].startswith("application/json"), r.headers
    assert r.json()["error"] == "bad_gateway"
    r = via(root, "dupont.localhost", "GET", "/close", headers={"Accept": "text/html"})
    assert r.status == 502 and "<html" in r.text.lower()
    # The worker's own errors pass through untouched.
    r = via(root, "dupont.localhost", "GET", "/nowhere", headers={"Accept": "application/json"})
    assert r.status == 404 and r.json() == {"error": "not_found", "detail": "/nowhere"}


def test_unknown_host_gets_the_branded_page(root):
    start_root(root, dupont=("professional", None))
    r = via(root, "nobody.localhost", "GET", "/some/page", headers={"Accept": "text/html"})
    assert r.status == 404
    assert r.headers["content-type"].startswith("text/html"), r.headers
    assert "No site at this address" in r.text and "Aucun cabinet" in r.text
    assert "localhost" in r.text and "nginx" not in r.text.lower()
    assert r.headers.get("cache-control") == "no-store"
    r = via(root, "nobody.localhost", "GET", "/api/x", headers={"Accept": "application/json"})
    assert r.status == 404 and r.json()["error"] == "unknown_host"


def test_docs_check_commands_work_as_printed(root):
    """docs/proxy.md "Checking by hand": its nginx -t and tenantctl lines, run from the
    folder of tenantd.ini with the tools' names replaced by the built ones."""
    import subprocess
    from tenantd_test import REPO, binpath
    start_root(root, dupont=("professional", None))
    with open(os.path.join(REPO, "docs", "proxy.md")) as f:
        text = f.read()
    section = text[text.index("## Checking by hand"):]
    lines = [l.strip().split("  #")[0].strip() for l in section.splitlines()
             if l.startswith("    nginx ") or l.startswith("    tenantctl ")]
    assert any(l.startswith("nginx -t") for l in lines), lines
    for line in lines:
        argv = line.split()
        argv[0] = NGINX if argv[0] == "nginx" else binpath("tenantctl")
        r = subprocess.run(argv, cwd=root.path, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (line, r.stdout[-500:], r.stderr[-1000:])
        if argv[0] == NGINX:
            assert "test is successful" in r.stderr, r.stderr
        else:
            assert "client_max_body_size 10485760;" in r.stdout
