"""
TenantdRoot: a throw-away tenantd root (tenantd.ini with free loopback ports,
plans.ini from the checkout, tenant files), the real tenantd started on it, and
its admin API over the unix socket or TCP. It stops only the processes it
started, by pid.

Each time tenantd becomes ready, start() records its fds as the baseline;
stop() (a graceful one) and the `root` fixture's teardown compare tenantd's fds
with it (fds.check) while tenantd still runs.
"""
import http.client
import json
import os
import shutil
import signal
import subprocess

from . import fds, openapi, procs
from .http import UnixHTTPConnection, free_port_block, http_request
from .paths import REPO, binpath
from .wait import wait_for, wait_state


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
        self.fd_baseline = None  # tenantd's base fds once ready (fds.baseline)
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
    def start(self, wait_ids=None, extra_args=(), wrapper=()):
        """wrapper: a command that execs tenantd (e.g. prlimit), so the pid stays tenantd's."""
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*wrapper, binpath("tenantd"), "-c", self.config, *extra_args],
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
        self.fd_baseline = fds.baseline(self, self.proc.pid)
        return self.proc

    def check_fds(self):
        """Fail, naming the fd, if the running tenantd holds one it should not."""
        if self.proc and self.proc.poll() is None and self.fd_baseline is not None:
            fds.check(self, self.proc.pid, self.fd_baseline)

    def remember_processes(self):
        """Name tenantd's processes while it still knows them, for the stray check."""
        if self.proc and self.proc.poll() is None:
            procs.remember(self.proc.pid, f"tenantd of {self.path}")
            for p in procs.descendants(self.proc.pid):
                procs.remember(p.pid, f"started by tenantd {self.proc.pid}")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stop tenantd and return its exit status. A graceful stop (SIGTERM) checks
        its fds first; a leak fails the caller once tenantd has stopped anyway."""
        leak = None
        if self.proc and self.proc.poll() is None:
            self.remember_processes()
            if sig == signal.SIGTERM:
                try:
                    self.check_fds()
                except AssertionError as e:
                    leak = e
                except Exception as e:  # a wedged tenantd must still be stopped
                    leak = AssertionError(f"cannot check tenantd's fds: {e!r}")
            started = procs.descendants(self.proc.pid)
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if sig == signal.SIGTERM and not leak:
                # A graceful stop waits for what tenantd started: nothing may outlive it.
                left = [procs.describe(p.pid) for p in started if procs.same_and_running(p)]
                if left:
                    leak = AssertionError("still running after tenantd stopped: " + "; ".join(left))
        rc = self.proc.returncode if self.proc else None
        if self.log_file:
            self.log_file.close()
            self.log_file = None
        if leak:
            raise leak
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
        r = http_request(conn, method, path, body, headers)
        if path != "/v1/openapi.json" and r.status != 401:
            shapes = self.api_shapes(via, token, headers)
            if shapes is not None:
                shapes.check(method, path, r)
        return r

    def api_shapes(self, via, token, headers):
        """The described answers of this tenantd (openapi.ApiShapes), fetched once per pid;
        None when the running binary has no /v1/openapi.json (404)."""
        pid = self.proc.pid if self.proc else None
        if getattr(self, "_shapes_pid", "unset") != pid:
            if via == "unix":
                conn = UnixHTTPConnection(os.path.join(self.run_dir, "admin.sock"))
            else:
                conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
            doc = http_request(conn, "GET", "/v1/openapi.json", None, headers)
            self._shapes = openapi.shapes_from(doc.body) if doc.status == 200 else None
            self._shapes_pid = pid
        return self._shapes

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def status(self, tid=None):
        r = self.get("/v1/tenants" + (f"/{tid}" if tid else ""))
        assert r.status == 200, (r.status, r.text)
        return r.json()

    def wait_state(self, tid, state, timeout=20, pred=None):
        """wait.wait_state() on this root."""
        return wait_state(self, tid, state, timeout=timeout, pred=pred)

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
