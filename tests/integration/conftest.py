"""
The integration harness: real binaries in a temporary root.

`TenantdRoot` builds a throw-away tenantd root (tenantd.ini with free loopback
ports, plans.ini from the checkout, tenant files), starts the real tenantd on
it, talks to its admin API over the unix socket or TCP, and cleans up only the
processes it started, by pid. The `root` fixture gives a fresh one per test and
checks hygiene afterwards: no sanitizer report and no unexpected crit/alert
line in tenantd's log.
"""
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDDIR = os.environ.get("TENANTD_BUILDDIR", os.path.join(REPO, "build", "release"))
ARTIFACTS = os.path.join(REPO, "build", "test-artifacts")


def binpath(name):
    return os.path.join(BUILDDIR, name)


def helper(name):
    return os.path.join(BUILDDIR, "helpers", name)


def free_port_block(n):
    """A run of n consecutive loopback TCP ports that are free right now, below the
    kernel's ephemeral range, so an outgoing connection (a health probe, nginx to an
    upstream, a test client) cannot take one of them before tenantd binds it."""
    low, high = 10000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            eph = int(f.read().split()[0])
        high = min(high, eph - 1) if eph > low + 2 * n else high
    except (OSError, ValueError):
        pass
    for _ in range(200):
        base = random.randint(low, high - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port block")


def wait_for(pred, timeout=15.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value, bounded by timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    @property
    def text(self):
        return self.body.decode(errors="replace")


def http_request(conn, method, path, body=None, headers=None):
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        if isinstance(data, str):
            data = data.encode()
        headers.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


DEFAULT_GLOBAL = {
    "tenantd": {"max_parallel_starts": "16"},
    "admin": {},
    "proxy": {"mode": "off"},
    "backup": {"every": "0"},
    "supervise": {
        "backoff_min": "100ms",
        "backoff_max": "800ms",
        "stable_after": "3s",
        "start_limit": "5",
        "stop_grace": "2s",
        "ready_timeout": "10s",
        "health_interval": "500ms",
        "health_timeout": "500ms",
        "health_failures": "3",
        "reload_debounce": "100ms",
    },
}


class TenantdRoot:
    def __init__(self, path, n_ports=40):
        self.path = path
        self.port_base = free_port_block(n_ports + 2)
        self.port_min = self.port_base
        self.port_max = self.port_base + n_ports - 1
        self.admin_port = self.port_base + n_ports
        self.proxy_port = self.port_base + n_ports + 1
        self.proc = None
        self.log_path = os.path.join(path, "tenantd.stderr")
        self.log_file = None
        self.allowed_crit = []  # substrings of crit/alert lines a test expects
        self.global_cfg = json.loads(json.dumps(DEFAULT_GLOBAL))
        self.global_cfg["tenantd"].update({
            "port_range": f"{self.port_min}-{self.port_max}",
            "templates": os.path.join(REPO, "templates"),
        })
        self.global_cfg["admin"]["listen"] = f"127.0.0.1:{self.admin_port}"
        self.global_cfg["proxy"]["listen"] = f"127.0.0.1:{self.proxy_port}"
        self.global_cfg["proxy"]["templates"] = os.path.join(REPO, "templates", "nginx")
        os.makedirs(os.path.join(path, "tenants.d"))
        shutil.copy(os.path.join(REPO, "plans.ini"), os.path.join(path, "plans.ini"))
        self.next_port = self.port_min
        self.write_global()

    # ---- files -------------------------------------------------------------
    @property
    def config(self):
        return os.path.join(self.path, "tenantd.ini")

    @property
    def run_dir(self):
        return os.path.join(self.path, "run")

    def write_global(self, **sections):
        for sec, kv in sections.items():
            self.global_cfg.setdefault(sec, {}).update(kv)
        with open(self.config, "w") as f:
            for sec, kv in self.global_cfg.items():
                f.write(f"[{sec}]\n")
                for k, v in kv.items():
                    f.write(f"{k} = {v}\n")
                f.write("\n")

    def tenant_file(self, tid):
        return os.path.join(self.path, "tenants.d", f"{tid}.ini")

    def add_tenant(self, tid, plan="professional", name=None, port=None, write=True, **sections):
        """Write tenants.d/<tid>.ini. sections: {"worker": {...}, "limits": {...}} merged in."""
        if port is None:
            port = self.next_port
            self.next_port += 1
        cfg = {
            "tenant": {"name": name or f"Cabinet {tid.capitalize()}", "plan": plan},
            "firm": {"color": "#2c3e50"},
            "worker": {"port": str(port), "password_cost": "min"},
        }
        for sec, kv in sections.items():
            cfg.setdefault(sec, {}).update(kv)
        text = ""
        for sec, kv in cfg.items():
            text += f"[{sec}]\n" + "".join(f"{k} = {v}\n" for k, v in kv.items()) + "\n"
        if write:
            self.write_file(self.tenant_file(tid), text)
        return port

    @staticmethod
    def write_file(path, text):
        """Write atomically, so inotify never sees a half-written tenant file."""
        tmp = path + ".tmp~"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)

    # ---- process -----------------------------------------------------------
    def start(self, wait_ids=None, extra_args=()):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binpath("tenantd"), "-c", self.config, *extra_args],
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        sock = os.path.join(self.run_dir, "admin.sock")
        wait_for(lambda: self.proc.poll() is None and os.path.exists(sock) and
                 self.get("/v1/tenants").status == 200,
                 timeout=20, what="tenantd admin socket")
        if wait_ids is None:
            wait_ids = [f[:-4] for f in os.listdir(os.path.join(self.path, "tenants.d"))
                        if f.endswith(".ini")]
        for tid in wait_ids:
            self.wait_state(tid, "running")
        return self.proc

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        if self.log_file:
            self.log_file.close()
            self.log_file = None
        return rc

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    # ---- admin API -----------------------------------------------------------
    def token(self):
        with open(os.path.join(self.run_dir, "admin.token")) as f:
            return f.read().strip()

    def request(self, method, path, body=None, via="unix", token=None, headers=None):
        if via == "unix":
            conn = UnixHTTPConnection(os.path.join(self.run_dir, "admin.sock"))
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return http_request(conn, method, path, body, headers)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def status(self, tid=None):
        r = self.get("/v1/tenants" + (f"/{tid}" if tid else ""))
        assert r.status == 200, (r.status, r.text)
        return r.json()

    def wait_state(self, tid, state, timeout=20, pred=None):
        def check():
            s = self.status(tid)
            if s["state"] == state and (pred is None or pred(s)):
                return s
            return None
        return wait_for(check, timeout=timeout, what=f"{tid} to be {state}")

    def pids(self):
        return {t["id"]: t["pid"] for t in self.status()}

    def tenantctl(self, *args, check=True, input=None):
        r = subprocess.run([binpath("tenantctl"), "-c", self.config, *args],
                           capture_output=True, text=True, input=input, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"tenantctl {args} exited {r.returncode}: {r.stdout}{r.stderr}")
        return r

    def worker_get(self, port, path, headers=None, timeout=5):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        return http_request(conn, "GET", path, None, headers)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def tenantd_fds(pid):
    """tenantd's open fds: {fd: what it points to}."""
    out = {}
    for f in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(f)] = os.readlink(f"/proc/{pid}/fd/{f}")
        except OSError:
            pass  # closed while we looked
    return out


# What tenantd may hold open for itself (loop, admin, proxy, state.db, inotify...) and
# for each tenant it knows (socket, notify socket, pidfd, output pipes, log file, probe).
FD_BASE, FD_PER_TENANT = 32, 12


def check_fds(root):
    """Fail on an fd leak in a running tenantd: an fd to a deleted file, or more fds
    than its tenants can account for (a leak per restart outgrows the bound quickly)."""
    fds = tenantd_fds(root.proc.pid)
    deleted = [v for v in fds.values() if v.endswith(" (deleted)")]
    assert not deleted, f"tenantd holds deleted files open: {deleted}"
    n = len(root.status())
    assert len(fds) <= FD_BASE + FD_PER_TENANT * n, \
        f"tenantd holds {len(fds)} fds for {n} tenants: {sorted(fds.items())}"


def check_hygiene(root):
    text = root.log()
    for mark in SANITIZER_MARKS:
        assert mark not in text, f"sanitizer report in tenantd's log:\n{text[-4000:]}"
    for line in text.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[1] in ("crit", "alert"):
            if not any(a in line for a in root.allowed_crit):
                raise AssertionError(f"unexpected {parts[1]} line in tenantd's log: {line}")


@pytest.fixture
def root(request):
    d = tempfile.mkdtemp(prefix="tenantd-test-", dir=os.environ.get("TENANTD_TEST_TMP", "/var/tmp"))
    os.chmod(d, 0o755)  # tenants run under their own uids and must traverse it
    r = TenantdRoot(d)
    yield r
    worker_pids = []
    try:
        if r.proc and r.proc.poll() is None:
            try:
                worker_pids = [p for p in r.pids().values() if p]
            except Exception:
                pass
            check_fds(r)
    finally:
        r.stop()
        for p in worker_pids:
            if pid_alive(p):
                os.kill(p, signal.SIGKILL)
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    if failed:
        os.makedirs(ARTIFACTS, exist_ok=True)
        shutil.copy(r.log_path, os.path.join(ARTIFACTS, request.node.name + ".tenantd.log")) \
            if os.path.exists(r.log_path) else None
    check_hygiene(r)
    shutil.rmtree(d, ignore_errors=True)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
