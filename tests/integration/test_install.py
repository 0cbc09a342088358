"""
`make install`: the files land where README.md ("Running in production") says, with sane
modes; the man pages render without warnings and cover every command and key; the
production example config is valid once its paths point into a temporary root; and the
installed tenantd finds the installed tenant-jail and tenant-worker and runs a tenant.

The install copies the binaries already built in TENANTD_BUILDDIR (`make -o all`, so it
never rebuilds them with other flags), into a DESTDIR under a temporary folder.
"""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile

import pytest

from tenantd_test import BUILDDIR, REPO, free_port_block, pid_alive, wait_for

PREFIX = "/usr/local"


def make_install(destdir, prefix=PREFIX):
    r = subprocess.run(["make", "--no-print-directory", "-s", "-o", "all", "install",
                        f"BUILDDIR={BUILDDIR}", f"DESTDIR={destdir}", f"PREFIX={prefix}"],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"make install failed:\n{r.stdout}{r.stderr}"


@pytest.fixture(scope="module")
def tmp():
    # Under /var/tmp and 0755, like the harness: a jailed worker runs under its own
    # uid and must traverse the folders to reach the installed templates.
    d = tempfile.mkdtemp(prefix="tenantd-install-", dir=os.environ.get("TENANTD_TEST_TMP",
                                                                          "/var/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def dest(tmp):
    d = os.path.join(tmp, "dest")
    make_install(d)
    return d


def inst(dest, rel):
    """The installed path of PREFIX-relative `rel`."""
    return os.path.join(dest, PREFIX.lstrip("/"), rel)


# ---- where the files go ---------------------------------------------------------------

EXPECTED = {
    "sbin/tenantd": 0o755,
    "sbin/tenantctl": 0o755,
    "lib/tenantd/tenant-jail": 0o755,
    "lib/tenantd/tenant-worker": 0o755,
    "lib/systemd/system/tenantd.service": 0o644,
    "share/tenantd/examples/tenantd.ini.example": 0o644,
    "share/tenantd/examples/plans.ini": 0o644,
    "share/tenantd/examples/nginx-external.conf": 0o644,
    "share/man/man8/tenantd.8": 0o644,
    "share/man/man8/tenantctl.8": 0o644,
    "share/man/man8/tenant-worker.8": 0o644,
    "share/man/man5/tenantd.ini.5": 0o644,
    "share/doc/tenantd/README.md": 0o644,
    "share/doc/tenantd/operations.md": 0o644,
    "share/doc/tenantd/architecture.md": 0o644,
    "share/tenantd/templates/admin/index.html": 0o644,
    "share/tenantd/templates/suspended.html": 0o644,
    "share/tenantd/templates/nginx/main.conf.in": 0o644,
    "share/tenantd/templates/worker/index.html": 0o644,
    "share/tenantd/templates/worker/rules/deadlines.rules": 0o644,
}


def test_files_land_where_documented(dest):
    for rel, mode in EXPECTED.items():
        p = inst(dest, rel)
        assert os.path.isfile(p), f"{rel} is not installed"
        got = stat.S_IMODE(os.stat(p).st_mode)
        assert got == mode, f"{rel}: mode {got:o}, expected {mode:o}"
    # Every template of the checkout, nothing writable by others anywhere.
    src = os.path.join(REPO, "templates")
    for d, _, files in os.walk(src):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), src)
            assert os.path.isfile(inst(dest, os.path.join("share/tenantd/templates", rel))), rel
    for d, dirs, files in os.walk(dest):
        for n in dirs + files:
            m = os.lstat(os.path.join(d, n)).st_mode
            assert not m & stat.S_IWOTH, f"{os.path.join(d, n)} is world-writable"
            assert not m & (stat.S_ISUID | stat.S_ISGID), f"{os.path.join(d, n)} is set-id"
    # The binaries are the ones just built.
    r = subprocess.run([inst(dest, "sbin/tenantd"), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("tenantd ")


def test_unit_and_example_follow_prefix(tmp, dest):
    unit = open(inst(dest, "lib/systemd/system/tenantd.service")).read()
    assert "ExecStart=/usr/local/sbin/tenantd -c /etc/tenantd/tenantd.ini" in unit
    assert re.search(r"^KillMode=mixed$", unit, re.M)
    assert re.search(r"^Delegate=yes$", unit, re.M)
    # tenantd sends READY=1 itself, from its main process only.
    assert re.search(r"^Type=notify$", unit, re.M)
    assert re.search(r"^NotifyAccess=main$", unit, re.M)
    for forbidden in ("NoNewPrivileges", "PrivateUsers", "ProtectKernelTunables",
                      "RestrictNamespaces", "ProtectHostname", "ProtectControlGroups"):
        assert not re.search(rf"^{forbidden}=", unit, re.M), forbidden

    other = os.path.join(tmp, "dest-opt")
    make_install(other, prefix="/opt/tenantd")
    unit = open(os.path.join(other, "opt/tenantd/lib/systemd/system/tenantd.service")).read()
    assert "ExecStart=/opt/tenantd/sbin/tenantd " in unit and "/usr/local" not in unit
    ex = open(os.path.join(other, "opt/tenantd/share/tenantd/examples/tenantd.ini.example")).read()
    assert "jail = /opt/tenantd/lib/tenantd/tenant-jail" in ex
    assert "templates = /opt/tenantd/share/tenantd/templates" in ex
    assert os.access(os.path.join(other, "opt/tenantd/lib/tenantd/tenant-jail"), os.X_OK)


# ---- man pages --------------------------------------------------------------------------

MAN_PAGES = ["share/man/man8/tenantd.8", "share/man/man8/tenantctl.8",
             "share/man/man8/tenant-worker.8", "share/man/man5/tenantd.ini.5"]


def render(page, width=80):
    env = dict(os.environ, MANWIDTH=str(width), LC_ALL="C.UTF-8")
    env.pop("MAN_KEEP_FORMATTING", None)
    return subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.mark.parametrize("rel", MAN_PAGES)
def test_man_page_renders_without_warnings(dest, rel):
    page = inst(dest, rel)
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-k", "-ww", "-z", page], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    if not shutil.which("man"):
        pytest.skip("man (man-db) is not installed")
    r = render(page)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    assert "NAME" in plain(r.stdout) and "SEE ALSO" in plain(r.stdout)


def plain(text):
    """man's output without overstriking, and words split by hyphenation joined again."""
    return re.sub(r"[\u2010-]\n\s*", "", re.sub(r".\x08", "", text))


def test_tenantctl_page_covers_every_command(dest):
    if not shutil.which("man"):
        pytest.skip("man (man-db) is not installed")
    page = plain(render(inst(dest, "share/man/man8/tenantctl.8"), 200).stdout)
    r = subprocess.run([inst(dest, "sbin/tenantctl"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    cmds = re.findall(r"^  ([a-z][a-z-]+)", r.stdout.split("commands:")[1].split("options:")[0],
                      re.M)
    assert len(cmds) >= 10, r.stdout
    for cmd in cmds:
        assert re.search(rf"\b{re.escape(cmd)}\b", page), f"tenantctl.8 does not document {cmd}"


def config_keys():
    """(section, key) of every row of common/config.c's three tables."""
    src = open(os.path.join(REPO, "common", "config.c")).read()
    keys = set()
    for table in ("global_keys", "plan_keys", "tenant_keys"):
        body = src.split(f"static const struct key {table}[] = {{")[1].split("\n};")[0]
        for sec, key in re.findall(r'\{\s*(NULL|"[a-z_]+"),\s*"([a-z_]+)",', body):
            keys.add((table, sec.strip('"'), key))
    return keys


def test_config_page_covers_every_key(dest):
    if not shutil.which("man"):
        pytest.skip("man (man-db) is not installed")
    page = plain(render(inst(dest, "share/man/man5/tenantd.ini.5"), 200).stdout)
    keys = config_keys()
    assert len(keys) > 60
    for table, sec, key in sorted(keys):
        assert re.search(rf"\b{key}\b", page), f"tenantd.ini.5 does not document [{sec}] {key}"
        if sec != "NULL":
            assert f"[{sec}]" in page, f"tenantd.ini.5 has no [{sec}] section"


# ---- the example config and the installed programs --------------------------------------

def example_in(dest, root, **overrides):
    """The installed example with its machine paths moved under `root` and the program
    paths pointing into DESTDIR; `overrides` replace `key = value` lines by key name."""
    text = open(inst(dest, "share/tenantd/examples/tenantd.ini.example")).read()
    moved = {
        "/etc/tenantd": os.path.join(root, "etc"),
        "/var/lib/tenantd": os.path.join(root, "var"),
        "/var/log/tenantd": os.path.join(root, "log"),
        "/etc/nginx/tenantd": os.path.join(root, "nginx"),
        PREFIX + "/": inst(dest, ""),
    }
    for a, b in moved.items():
        text = text.replace(a, b)
    for key, value in overrides.items():
        pat = re.compile(rf"^;?{key} = .*$", re.M)
        if value is None:
            text = pat.sub("", text)
        else:
            assert pat.search(text), key
            text = pat.sub(f"{key} = {value}", text, count=1)
    for d in ("etc/tenants.d", "var", "log", "nginx"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy(inst(dest, "share/tenantd/examples/plans.ini"), os.path.join(root, "etc"))
    path = os.path.join(root, "etc", "tenantd.ini")
    with open(path, "w") as f:
        f.write(text)
    return path


def new_root(tmp, name):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    os.chmod(d, 0o755)
    return d


def test_example_config_is_valid(tmp, dest):
    conf = example_in(dest, new_root(tmp, "example"))
    r = subprocess.run([inst(dest, "sbin/tenantd"), "-c", conf, "-n"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "configuration OK", r.stdout + r.stderr
    r = subprocess.run([inst(dest, "sbin/tenantctl"), "-c", conf, "check"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_installed_tenantd_needs_the_program_paths(tmp, dest):
    """Installed in sbin, tenantd does not find lib/tenantd/ by itself: that is why the
    example names the jail and the worker."""
    conf = example_in(dest, new_root(tmp, "nopaths"), jail=None, worker=None)
    with open(os.path.join(os.path.dirname(conf), "tenants.d", "acme.ini"), "w") as f:
        f.write("[tenant]\nname = Acme\nplan = starter\n\n[worker]\nport = 5001\n")
    r = subprocess.run([inst(dest, "sbin/tenantd"), "-c", conf, "-n"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert "[tenantd] jail:" in r.stderr and "sbin/tenant-jail is not executable" in r.stderr
    assert "acme.ini: [worker] command: " in r.stderr \
        and "sbin/tenant-worker: No such file or directory" in r.stderr


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def test_installed_tenantd_runs_the_installed_worker(tmp, dest):
    root = new_root(tmp, "run")
    base = free_port_block(3)
    conf = example_in(dest, root, listen=f"127.0.0.1:{base}", port_range=f"{base + 1}-{base + 2}",
                      mode="off", every="0", stop_grace="2s")
    port = base + 1
    with open(os.path.join(root, "etc", "tenants.d", "acme.ini"), "w") as f:
        f.write(f"[tenant]\nname = Cabinet Acme & Fils\nplan = starter\n\n"
                f"[worker]\nport = {port}\npassword_cost = min\n")
    tenantctl = [inst(dest, "sbin/tenantctl"), "-c", conf]
    log = open(os.path.join(root, "tenantd.stderr"), "wb")
    proc = subprocess.Popen([inst(dest, "sbin/tenantd"), "-c", conf], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    worker_pid = None
    try:
        def running():
            r = subprocess.run(tenantctl + ["--json", "status", "acme"], capture_output=True,
                               text=True, timeout=10)
            if proc.poll() is not None:
                raise AssertionError("tenantd exited: " + open(log.name).read())
            s = json.loads(r.stdout) if r.returncode == 0 else {}
            return s if s.get("state") == "running" else None
        s = wait_for(running, timeout=30, what="acme running under the installed tenantd")
        worker_pid = s["pid"]
        # The process tenantd started is the installed jail (a forwarder when a pid
        # namespace is used) or, after its exec, the installed worker.
        jail = os.path.realpath(inst(dest, "lib/tenantd/tenant-jail"))
        worker = os.path.realpath(inst(dest, "lib/tenantd/tenant-worker"))
        exes = {os.path.realpath(f"/proc/{p}/exe") for p in [worker_pid] + children(worker_pid)}
        assert worker in exes, (exes, worker)
        assert exes <= {jail, worker}, exes
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/healthz")
        assert c.getresponse().status == 200
        c.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        if worker_pid and pid_alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
    text = open(log.name).read()
    assert proc.returncode == 0, text
    for line in text.splitlines():
        parts = line.split()
        assert not (len(parts) > 1 and parts[1] in ("crit", "alert")), line
