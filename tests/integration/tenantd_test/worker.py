"""
Run the real tenant-worker directly, without tenantd: an environment built by
the test, readiness awaited on a NOTIFY_SOCKET the test binds (no sleeps), and
HTTP over loopback. Processes are stopped by pid, only those started here.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

from .hygiene import SANITIZER_MARKS
from .http import Response, free_port_block
from .paths import ARTIFACTS, REPO, TEST_TMP, binpath

WORKER = binpath("tenant-worker")
TEMPLATES = os.path.join(REPO, "templates", "worker")


class Worker:
    """One tenant-worker process and its private data dir."""

    def __init__(self, client_id="dupont", data_dir=None, **env):
        self.tmp = tempfile.mkdtemp(prefix="tw-", dir=TEST_TMP)
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.port = free_port_block(1)
        self.env = {
            "PATH": "/usr/bin:/bin",
            "CLIENT_ID": client_id,
            "CLIENT_NAME": "Cabinet Dupont & Associés",
            "INSTANCE_NAME": client_id + "-prod",
            "CLIENT_SIRET": "12345678901234",
            "CLIENT_ADDRESS": "123 Rue de la Justice, 75001 Paris",
            "CLIENT_PHONE": "01.23.45.67.89",
            "CLIENT_EMAIL": "contact@cabinet-dupont.fr",
            "CLIENT_LOGO": "/static/logo-dupont.png",
            "CLIENT_COLOR": "#2c3e50",
            "SUBSCRIPTION_PLAN": "professional",
            "MAX_USERS": "10",
            "MAX_CASES": "2000",
            "MAX_ANALYSIS_MONTHLY": "500",
            "AI_MODEL": "ceseda-pro-v1",
            "PREDICTION_THRESHOLD": "0.87",
            "ADVANCED_FEATURES": "true",
            "DATA_DIR": self.data_dir,
            "PORT": str(self.port),
            "SECRET_KEY": "test-secret-" + client_id + "-0123456789abcdef",
            "DATABASE_TYPE": "sqlite",
            "TEMPLATES_DIR": TEMPLATES,
            "LANGUAGE": "fr",
            "TIMEZONE": "Europe/Paris",
            "PASSWORD_COST": "min",
            "PLAN_LABEL": "Professional",
            "PLAN_PRICE_CENTS": "29900",
            "PLAN_OVERAGE_CENTS": "50",
        }
        self.env.update(env)
        self.proc = None
        self.notify = None
        self.log_path = os.path.join(self.tmp, "worker.log")
        self.messages = []

    # ---- process ---------------------------------------------------------
    def run(self, *args, env=None, timeout=30):
        """Run the binary to completion (e.g. --create-admin)."""
        e = dict(self.env)
        e.update(env or {})
        return subprocess.run([WORKER, *args], env=e, capture_output=True, text=True, timeout=timeout)

    def start(self, wait_ready=True, pass_socket=False):
        path = os.path.join(self.tmp, "notify.sock")
        if os.path.exists(path):
            os.unlink(path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(path)
        self.messages = []
        env = dict(self.env, NOTIFY_SOCKET=path)
        self.log = open(self.log_path, "ab")
        if pass_socket:
            # tenantd's way: the socket is bound by the parent and inherited as
            # fd 3, with LISTEN_PID naming the worker (the shell's pid, kept by exec).
            self.listener = socket.socket()
            # As tenantd (libuv) binds: a connection of an earlier worker on this
            # port may linger in TIME_WAIT, which free_port_block's check allows.
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("127.0.0.1", self.port))
            self.listener.listen(128)
            fd = self.listener.fileno()
            env["LISTEN_FDS"] = "1"
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0"', WORKER],
                env=env, stdout=self.log, stderr=subprocess.STDOUT, pass_fds=(3,),
                preexec_fn=lambda: os.dup2(fd, 3))
            self.listener.close()
        else:
            self.proc = subprocess.Popen([WORKER], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        if wait_ready:
            self.wait_message("READY=1")
        return self

    def wait_message(self, what, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(what in m for m in self.messages):
                return
            r, _, _ = select.select([self.notify], [], [], 0.2)
            if r:
                self.messages.append(self.notify.recv(4096).decode())
            elif self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode} before {what}:\n{self.output()}")
        raise AssertionError(f"no {what} from the worker within {timeout}s:\n{self.output()}")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("worker did not stop within %ss" % timeout)
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        self.notify.setblocking(False)
        try:
            while True:  # what the worker said on its way out (STOPPING=1)
                self.messages.append(self.notify.recv(4096).decode())
        except BlockingIOError:
            pass
        self.notify.close()
        return rc

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def cleanup(self, failed=False, name="worker"):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        text = self.output()
        if failed:
            os.makedirs(ARTIFACTS, exist_ok=True)
            with open(os.path.join(ARTIFACTS, name + ".worker.log"), "w") as f:
                f.write(text)
        shutil.rmtree(self.tmp, ignore_errors=True)
        for mark in SANITIZER_MARKS:
            assert mark not in text, f"sanitizer report in the worker's output:\n{text[-4000:]}"

    # ---- HTTP ------------------------------------------------------------
    def request(self, method, path, body=None, token=None, headers=None, raw=None, timeout=10,
                as_proxy=None):
        """as_proxy: connect from the proxy's source address (127.0.0.2, the
        only peer whose X-Real-IP the worker trusts); by default whenever the
        request carries X-Real-IP, as nginx's would."""
        h = dict(headers or {})
        if as_proxy is None:
            as_proxy = any(k.lower() == "x-real-ip" for k in h)
        src = ("127.0.0.2", 0) if as_proxy else None
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=src)
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def create_admin(self, username="admin"):
        r = self.run("--create-admin", username)
        assert r.returncode == 0, r.stderr
        lines = dict(line.split(": ", 1) for line in r.stdout.strip().splitlines())
        assert lines["username"] == username
        return lines["password"]

    def login(self, username, password, expect=200, headers=None):
        r = self.post("/api/auth/login", {"username": username, "password": password}, headers=headers)
        assert r.status == expect, (r.status, r.text)
        return r.json()["token"] if expect == 200 else r


def usage_token(client_id, secret):
    """common/usage_token.c, computed independently: BLAKE2b-256 key from the
    id and the secret, HMAC-SHA512-256 of "tenantd-usage:<id>", base64url.
    The worker's /internal/* routes take it as "Authorization: Tenantd <it>"."""
    h = hashlib.blake2b(digest_size=32)
    h.update(b"tenantd worker usage key v1\0")
    for part in (client_id.encode(), secret.encode()):
        h.update(struct.pack("<I", len(part)) + part)
    mac = hmac.new(h.digest(), b"tenantd-usage:" + client_id.encode(), hashlib.sha512).digest()[:32]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
