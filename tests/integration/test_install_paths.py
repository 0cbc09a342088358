"""
Where users put things (issue: a newcomer's checkout in /root, under /tmp, in a
0750 home, on a path with spaces). Run as root, tenantd starts each worker under
a uid of its own, which cannot search a 0700 folder and, inside its jail, sees a
private /tmp: the jail must still reach the program, the interpreter of a
script, the templates and the rules wherever they live, without showing the
tenant anything more of the host (no other tenant's data, no run dir).

Each test builds its own root in such a place, with the programs and the
templates copied there, and removes it afterwards; processes are stopped by
the harness, by pid.
"""
import http.client
import json
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from tenantd_test import REPO, TenantdRoot, binpath, helper, http_request, wait_for
from tenantd_test.hygiene import check_log
from test_isolation import UID_A, World, full_opts, read_json_until, read_status_fd

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the jail and tenant uids need root")


def install(prefix, programs=("tenant-worker",)):
    """Copy programs and the templates under prefix, as an operator's checkout or
    install would have them (0755 programs, 0644 templates)."""
    os.makedirs(os.path.join(prefix, "bin"))
    for name in programs:
        shutil.copy2(binpath(name), os.path.join(prefix, "bin", name))
    shutil.copytree(os.path.join(REPO, "templates"), os.path.join(prefix, "templates"))
    return os.path.join(prefix, "bin"), os.path.join(prefix, "templates")


def private_folder(parent, mode=0o700):
    """A folder only root may search, like /root."""
    d = tempfile.mkdtemp(prefix="tenantd-home-", dir=parent)
    os.chmod(d, mode)
    return d


class Layout:
    def __init__(self, where, spaces=True):
        self.cleanup = []
        if where == "tmp":
            # Everything below /tmp: the jail's private /tmp hides it all.
            self.top = tempfile.mkdtemp(prefix="tenantd-test-", dir="/tmp")
            os.chmod(self.top, 0o755)
            base = self.top
        else:
            # A checkout in a 0700 home (or a 0750 one of another group), with
            # spaces in its path: the tenant's uid cannot search the home.
            self.top = private_folder("/var/tmp", 0o700 if where == "home0700" else 0o750)
            base = os.path.join(self.top, "my checkout" if spaces else "checkout")
            os.makedirs(base)
            os.chmod(base, 0o755)
        self.bindir, self.templates = install(os.path.join(base, "install"))
        # [worker] command takes no spaces: third-party programs go beside.
        self.appdir = os.path.join(self.top, "apps")
        os.makedirs(self.appdir)
        self.root = TenantdRoot(os.path.join(base, "root"))
        self.root.write_global(tenantd={"worker": os.path.join(self.bindir, "tenant-worker"),
                                        "templates": self.templates},
                               proxy={"templates": os.path.join(self.templates, "nginx")})

    def close(self):
        try:
            self.root.stop()
            check_log(self.root.log())
        finally:
            shutil.rmtree(self.top, ignore_errors=True)


@pytest.fixture(params=["tmp", "home0700", "home0750"])
def layout(request):
    lay = Layout(request.param)
    yield lay
    lay.close()


def script_worker(path):
    """A third-party worker written as a script: its interpreter is named on the
    #! line, and the script itself lives where the tenant's uid cannot search."""
    with open(path, "w") as f:
        f.write("""#!/usr/bin/python3
# Serves GET /healthz and GET / on the passed socket (fd 3), exits 0 on SIGTERM.
import http.server, os, signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("script worker of " + os.environ["CLIENT_ID"]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H, bind_and_activate=False)
s.socket = socket.socket(fileno=3)
s.serve_forever()
""")
    os.chmod(path, 0o755)


def test_bundled_and_script_workers_run_wherever_installed(layout):
    r = layout.root
    r.add_tenant("alpha")
    script = os.path.join(layout.appdir, "app.py")
    script_worker(script)
    r.add_tenant("beta", worker={"command": script, "socket": "passed"})
    chk = subprocess.run([binpath("tenantd"), "-c", r.config, "-n"], capture_output=True,
                         text=True, timeout=30)
    assert chk.returncode == 0, chk.stderr
    r.start()
    alpha = r.status("alpha")
    assert alpha["state"] == "running", alpha
    # The page comes from the templates the jail bound back into the worker's view.
    page = r.worker_get(alpha["port"], "/")
    assert page.status == 200 and "Cabinet Alpha" in page.text, page.text[:300]
    assert r.worker_get(alpha["port"], "/healthz").status == 200
    beta = r.status("beta")
    assert r.worker_get(beta["port"], "/").text == "script worker of beta"
    # The data dir, inside the same hidden place, is the worker's own.
    db = os.path.join(r.path, "data", "clients", "alpha", "alpha.db")
    assert os.path.exists(db) and os.stat(db).st_uid != 0


@pytest.mark.parametrize("where", ["tmp", "home0700"])
def test_the_tenant_sees_no_more_of_a_hidden_install(where):
    """The probe runs from a program the tenant could not reach, and still cannot
    read another tenant's data, the run dir's token, or the rest of the folder
    that hid the program."""
    top = tempfile.mkdtemp(prefix="jailtest-top-", dir="/tmp" if where == "tmp" else "/var/tmp")
    try:
        if where == "home0700":
            os.chmod(top, 0o700)
        w = World(parent=top)
        try:
            bindir = os.path.join(w.root, "install dir", "bin")
            os.makedirs(bindir)
            probe = os.path.join(bindir, "jailprobe")
            shutil.copy2(helper("jailprobe"), probe)
            private = os.path.join(top, "private.txt")
            with open(private, "w") as f:
                f.write("root's own file\n")
            os.chmod(private, 0o644)
            p, status = w.jail(full_opts(w, "alice", UID_A, ["--expose", probe]),
                               [probe, "probe", "--other", os.path.join(w.datadir("bob"), "bob.db"),
                                "--token", w.token])
            lines = read_json_until(p, "ready")
            assert read_status_fd(status) == ""
            checks = {line["check"]: line for line in lines if "check" in line}
            assert not checks["read_other"]["ok"], checks["read_other"]
            assert not checks["read_token"]["ok"], checks["read_token"]
            assert checks["write_data"]["ok"], checks["write_data"]
            # What covered the program's folder shows nothing else of it.
            if where == "home0700":
                assert os.listdir(f"/proc/{p.pid}/root{top}") != []  # the host view
                inner = subprocess.run(["nsenter", "-t", str(child_of(p.pid)), "-m", "ls", "-A", top],
                                       capture_output=True, text=True, timeout=10)
                assert inner.returncode == 0, inner.stderr
                assert "private.txt" not in inner.stdout, inner.stdout
            p.stdin.close()
            assert p.wait(10) == 0
        finally:
            w.close()
    finally:
        shutil.rmtree(top, ignore_errors=True)


def child_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return int(f.read().split()[0])


def test_expose_refuses_a_folder_holding_a_hidden_one():
    r = subprocess.run([binpath("tenant-jail"), "--id", "a", "--data", "/var/tmp/x", "--ns", "mount",
                        "--hide", "/var/tmp/x/run", "--expose", "/var/tmp/x", "--", "/bin/true"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 111
    assert 'contains the hidden folder "/var/tmp/x/run"' in r.stderr, r.stderr


def test_check_names_the_tenant_the_path_and_the_reason(layout):
    r = layout.root
    r.add_tenant("gamma")
    worker = os.path.join(layout.bindir, "tenant-worker")
    os.chmod(worker, 0o700)
    rules = os.path.join(layout.templates, "worker", "rules", "deadlines.rules")
    os.chmod(rules, 0o600)
    for cmd in ([binpath("tenantd"), "-c", r.config, "-n"],
                [binpath("tenantctl"), "-c", r.config, "check"]):
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert out.returncode == 1, out
        err = out.stderr
        assert f"gamma.ini: [worker] command: {worker}: the tenant's uid cannot execute it " \
               "(mode 0700, owner uid 0)" in err, err
        assert f"gamma.ini: the worker's templates: {rules}: the tenant's uid cannot read it " \
               "(mode 0600, owner uid 0)" in err, err
    # Fixed, it passes again.
    os.chmod(worker, 0o755)
    os.chmod(rules, 0o644)
    out = subprocess.run([binpath("tenantd"), "-c", r.config, "-n"], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_onboarding_creates_the_first_admin_from_a_hidden_install(layout):
    """tenant-worker --create-admin runs through the jail too, from the same place."""
    r = layout.root
    r.start(wait_ids=[])
    out = r.tenantctl("onboard", "delta", "Cabinet Delta", "starter", "--json")
    info = json.loads(out.stdout)
    conn = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=10)
    login = http_request(conn, "POST", "/api/auth/login",
                         {"username": info["admin"]["username"],
                          "password": info["admin"]["password"]})
    assert login.status == 200, login.text
    assert login.json()["token"]


def test_managed_nginx_serves_a_suspended_page_from_a_hidden_run_dir():
    """nginx's workers run as nobody: with the run dir below a 0700 folder, the
    prefix moves to /run/tenantd and run/nginx links to it. (No space in this
    path: the proxy renderer refuses them in what it writes for nginx.)"""
    lay = Layout("home0700", spaces=False)
    prefix = None
    try:
        r = lay.root
        r.write_global(proxy={"mode": "managed"})
        r.add_tenant("epsilon", name="Cabinet Epsilon")
        r.start()
        link = os.path.join(r.run_dir, "nginx")
        prefix = os.readlink(link)
        assert prefix.startswith("/run/tenantd/nginx-"), prefix
        assert "cannot reach" in r.log()

        def via_proxy():
            conn = http.client.HTTPConnection("127.0.0.1", r.proxy_port, timeout=5)
            return http_request(conn, "GET", "/", headers={"Host": "epsilon.localhost"})

        wait_for(lambda: via_proxy().status == 200, what="epsilon through nginx")
        r.tenantctl("suspend", "epsilon")
        page = wait_for(lambda: (lambda x: x if x.status == 503 else None)(via_proxy()),
                        what="the suspended page")
        assert "Cabinet Epsilon" in page.text, page.text[:300]
    finally:
        lay.close()
        if prefix:
            shutil.rmtree(prefix, ignore_errors=True)
