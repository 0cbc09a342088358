"""
peers_sys.py — the supervisors bench_peers.py compares, each behind the same
small interface: start N tenants in a fresh root, say the supervisor's pid and
a tenant's serving pid, crash a tenant, reload a tenant, stop everything.

  Emperor      uWSGI Emperor (Debian's uwsgi + uwsgi-plugin-python3), one
               vassal per tenant (master + 1 worker, http-socket), app
               tests/bench/peer_app.py
  TenantdOwn   tenantd, the same peer_app.py as an `own` worker
  TenantdWorker tenantd with its bundled tenant-worker (passed socket)

Every root is a new folder under /var/tmp, removed by stop(). Only processes
started here are signalled, by pid: the supervisor, then whatever is left of
its process tree.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from tenantd_test import UnixHTTPConnection  # noqa: E402

APP = os.path.join(REPO, "tests", "bench", "peer_app.py")


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def tree(pid):
    kids, out, todo = children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _status_field(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    return _status_field(pid, "VmRSS:")


def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class System:
    name = "?"

    def __init__(self, builddir, n, base_port):
        self.builddir, self.n, self.base = builddir, n, base_port
        self.root = tempfile.mkdtemp(prefix="tenantd-peers-", dir="/var/tmp")
        os.chmod(self.root, 0o755)
        self.proc = None
        self.seen = set()
        self.logf = None

    def port(self, i):
        return self.base + i

    def tid(self, i):
        return f"t{i:04d}"

    def _spawn(self, argv):
        self.logf = open(os.path.join(self.root, "supervisor.log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.root)

    def sup_pid(self):
        return self.proc.pid

    def workers(self):
        """Every process of the tenants (not the supervisor's own helpers)."""
        pids = [p for p in tree(self.proc.pid) if p != self.proc.pid]
        self.seen.update(pids)
        return pids

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.root, "supervisor.log"), "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            self.seen.update(tree(self.proc.pid))
            if self.proc.poll() is None:
                self.proc.send_signal(self.stop_signal)
                try:
                    self.proc.wait(90)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            for p in self.seen:
                if p != self.proc.pid:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self.logf:
            self.logf.close()
        shutil.rmtree(self.root, ignore_errors=True)

    stop_signal = signal.SIGTERM


class Emperor(System):
    name = "uWSGI Emperor"
    stop_signal = signal.SIGINT  # the Emperor's "stop everything now"

    def vassal(self, i, extra=""):
        return (f"[uwsgi]\nplugin = python3\nhttp-socket = 127.0.0.1:{self.port(i)}\n"
                f"wsgi-file = {APP}\nmaster = true\nprocesses = 1\n"
                f"env = CLIENT_ID={self.tid(i)}\ndisable-logging = true\n"
                f"logto = {self.root}/logs/{self.tid(i)}.log\n{extra}")

    def start(self):
        v = os.path.join(self.root, "vassals")
        os.makedirs(v)
        os.makedirs(os.path.join(self.root, "logs"))
        for i in range(self.n):
            with open(os.path.join(v, f"{self.tid(i)}.ini"), "w") as f:
                f.write(self.vassal(i))
        self._spawn(["uwsgi", "--emperor", v, "--die-on-term"])

    def serving_pid(self, i, body):
        return body.get("pid") if body else None

    def crash(self, i, body):
        # The vassal dies whole: its master (the worker's parent) and worker.
        w = body["pid"]
        with open(f"/proc/{w}/stat") as f:
            master = int(f.read().rsplit(")", 1)[1].split()[1])
        for p in (master, w):
            os.kill(p, signal.SIGKILL)

    def reload(self, i):
        # A changed vassal file: the Emperor reloads that vassal.
        path = os.path.join(self.root, "vassals", f"{self.tid(i)}.ini")
        with open(path, "w") as f:
            f.write(self.vassal(i, f"env = BENCH_RELOAD={time.monotonic_ns()}\n"))


class Tenantd(System):
    proxy = "off"
    proxy_port = None

    def worker_lines(self, i):
        return "password_cost = min\n"

    def tenant_file(self, i, extra=""):
        return (f"[tenant]\nname = Cabinet {i}{extra}\nplan = starter\n[worker]\n"
                f"port = {self.port(i)}\n{self.worker_lines(i)}")

    def start(self):
        os.makedirs(os.path.join(self.root, "tenants.d"))
        shutil.copy(os.path.join(REPO, "plans.ini"), self.root)
        admin = self.port(self.n)
        proxy = f"mode = {self.proxy}\n"
        if self.proxy_port:
            proxy += (f"listen = 127.0.0.1:{self.proxy_port}\n"
                      "templates = "
                      f"{os.environ.get('BENCH_TEMPLATES', os.path.join(REPO, 'templates', 'nginx'))}\n")
        with open(os.path.join(self.root, "tenantd.ini"), "w") as f:
            f.write(f"[tenantd]\nport_range = {self.base}-{self.base + self.n - 1}\n"
                    f"templates = {os.path.join(REPO, 'templates')}\n"
                    f"[admin]\nlisten = 127.0.0.1:{admin}\n"
                    f"[proxy]\n{proxy}[backup]\nevery = 0\n")
        for i in range(self.n):
            with open(os.path.join(self.root, "tenants.d", f"{self.tid(i)}.ini"), "w") as f:
                f.write(self.tenant_file(i))
        self._spawn([os.path.join(self.builddir, "tenantd"), "-c",
                     os.path.join(self.root, "tenantd.ini")])

    def api(self, method, path, body=None):
        c = UnixHTTPConnection(os.path.join(self.root, "run", "admin.sock"))
        try:
            c.request(method, path, body=json.dumps(body) if body is not None else None,
                      headers={"Content-Type": "application/json"} if body is not None else {})
            r = c.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        finally:
            c.close()

    def workers(self):
        # nginx (managed proxy) is tenantd's child too, but not a tenant's.
        pids = []
        for p in tree(self.proc.pid):
            if p == self.proc.pid:
                continue
            try:
                with open(f"/proc/{p}/comm") as f:
                    if f.read().strip() == "nginx":
                        continue
            except OSError:
                continue
            pids.append(p)
        self.seen.update(pids)
        return pids

    def serving_pid(self, i, body):
        st, t = self.api("GET", f"/v1/tenants/{self.tid(i)}")
        return t.get("pid") if st == 200 and t.get("state") == "running" else None

    def crash(self, i, body):
        pid = self.serving_pid(i, body)
        os.kill(pid, signal.SIGKILL)

    def reload(self, i):
        # A changed tenant file: tenantd (inotify) restarts that tenant only.
        path = os.path.join(self.root, "tenants.d", f"{self.tid(i)}.ini")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.tenant_file(i, f" r{time.monotonic_ns() % 100000}"))
        os.rename(tmp, path)


class TenantdOwn(Tenantd):
    name = "tenantd + peer_app (own)"

    def start(self):
        # The jailed worker must reach the app: a copy in the 0755 root.
        self.app = os.path.join(self.root, "peer_app.py")
        shutil.copy(APP, self.app)
        os.chmod(self.app, 0o755)
        super().start()

    def worker_lines(self, i):
        return f"command = {self.app}\nsocket = own\n"


class TenantdWorker(Tenantd):
    name = "tenantd + tenant-worker"
