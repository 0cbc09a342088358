"""
tenant-jail, run directly and inspected from outside (DESIGN.md "Isolation").

Each test builds a throw-away root under /var/tmp (not /tmp: the jail's
private /tmp would hide it) with two tenants' data dirs owned by two unused
uids, a fake run dir holding an admin token, and runs the real tenant-jail
with the `jailprobe` helper as the worker. The probe reports what it can do
from inside; the test checks /proc/<pid>/{status,limits,cgroup,ns/*} and the
cgroup's limit files from outside. Every cgroup and process a test creates
is removed or killed by the test, by pid or by path.
"""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from tenantd_test import binpath, helper, pid_alive, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="tenant-jail isolation needs root")

UID_A, UID_B = 61001, 61002
CG = "/sys/fs/cgroup"


def jail_bin():
    p = binpath("tenant-jail")
    if not os.path.exists(p):
        pytest.skip(f"{p} is not built")
    return p


def probe_bin():
    p = helper("jailprobe")
    if not os.path.exists(p):
        pytest.skip(f"{p} is not built")
    return p


class World:
    """Two tenants' data dirs, a run dir with a token, and the cgroups and
    processes created by the test, cleaned up in close()."""

    def __init__(self, parent="/var/tmp"):
        self.root = tempfile.mkdtemp(prefix="jailtest-", dir=parent)
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.run = os.path.join(self.root, "run")
        os.makedirs(self.run, mode=0o700)
        os.makedirs(self.data)
        os.chmod(self.data, 0o755)
        for tid, uid in (("alice", UID_A), ("bob", UID_B)):
            d = os.path.join(self.data, tid)
            os.mkdir(d, 0o700)
            with open(os.path.join(d, f"{tid}.db"), "w") as f:
                f.write(f"{tid}'s secrets\n")
            os.chown(os.path.join(d, f"{tid}.db"), uid, uid)
            os.chmod(os.path.join(d, f"{tid}.db"), 0o644)
            os.chown(d, uid, uid)
        self.token = os.path.join(self.run, "admin.token")
        with open(self.token, "w") as f:
            f.write("not-a-real-token\n")
        os.chmod(self.token, 0o644)  # readable by anyone: only the jail may hide it
        self.cg_parent = f"jailtest-{os.getpid()}-{os.path.basename(self.root)[-6:]}"
        self.procs = []
        self.fds = []

    def datadir(self, tid):
        return os.path.join(self.data, tid)

    # ---- cgroups --------------------------------------------------------
    @staticmethod
    def own_cgroups():
        """{hierarchy dir: own cgroup path} for the hierarchies the jail uses."""
        out = {}
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, ctls, path = line.rstrip("\n").split(":", 2)
                for c in ctls.split(","):
                    if c in ("memory", "pids", "cpu") and os.path.isdir(f"{CG}/{c}"):
                        out[c] = path
                if ctls == "" and os.path.exists(f"{CG}/unified/cgroup.procs"):
                    out["unified"] = path
        return out

    def cgroup_dir(self, hier, name):
        own = self.own_cgroups()[hier].rstrip("/")
        return f"{CG}/{hier}{own}/{self.cg_parent}/{name}"

    def remove_cgroups(self):
        own = self.own_cgroups()
        for hier, path in own.items():
            parent = f"{CG}/{hier}{path.rstrip('/')}/{self.cg_parent}"
            if not os.path.isdir(parent):
                continue
            for leaf in os.listdir(parent):
                d = os.path.join(parent, leaf)
                if os.path.isdir(d):
                    wait_for(lambda: rmdir_ok(d), timeout=10, what=f"rmdir {d}")
            os.rmdir(parent)

    # ---- processes ------------------------------------------------------
    def jail(self, opts, cmd, env=None, listen=None, status=True, prefix=()):
        """Start [prefix] tenant-jail opts -- cmd. Returns (Popen, status read fd)."""
        r = w = None
        args = [*prefix, jail_bin()] + opts
        # The test programs live in the build folder, which another uid may not reach
        # (a checkout in a 0700 /root). These tests run the jail by hand, some without a
        # mount namespace, so a program out of reach is copied into this world's root;
        # so is one under /tmp (a clone there), which the jail's private /tmp covers.
        under_tmp = cmd[0].startswith("/tmp/")
        if os.path.isabs(cmd[0]) and "--expose" not in opts and (
                under_tmp or not others_reach(cmd[0])):
            copy = os.path.join(self.root, "bin", os.path.basename(cmd[0]))
            if not os.path.exists(copy):
                os.makedirs(os.path.dirname(copy), mode=0o755, exist_ok=True)
                shutil.copy2(cmd[0], copy)
            cmd = [copy, *cmd[1:]]
        if status:
            r, w = os.pipe()
            os.set_inheritable(w, True)
            args += ["--status-fd", "4"]
        e = dict(os.environ if env is None else env)
        lfd = listen.fileno() if listen else None
        if listen:
            e["LISTEN_FDS"] = "1"
            args += ["--listen-fds", "1"]

        def place_fds():
            # In the child: the passed socket on fd 3 and the status pipe on 4.
            if lfd is not None:
                os.dup2(lfd, 3)
            if w is not None:
                os.dup2(w, 4)

        # Unbuffered, so select() on stdout never misses lines read ahead.
        p = subprocess.Popen(args + ["--"] + cmd, stdin=subprocess.PIPE, bufsize=0,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=e, close_fds=False, preexec_fn=place_fds)
        self.procs.append(p)
        if w is not None:
            os.close(w)
            self.fds.append(r)
        return p, r

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            for f in (p.stdin, p.stdout, p.stderr):
                if f:
                    f.close()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.remove_cgroups()
        shutil.rmtree(self.root, ignore_errors=True)


def others_reach(path):
    """Whether a uid with no rights of its own can walk to path."""
    d = os.path.dirname(path)
    while True:
        if not os.stat(d).st_mode & 0o001:
            return False
        if d == "/":
            return True
        d = os.path.dirname(d)


def rmdir_ok(d):
    try:
        os.rmdir(d)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


@pytest.fixture
def world():
    w = World()
    yield w
    w.close()


def read_status_fd(fd, timeout=10):
    """All the jail wrote on its status fd, up to EOF."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            return data.decode()
        data += chunk
    raise AssertionError(f"no EOF on the status fd (got {data!r})")


def read_json_until(p, key, timeout=15):
    """Read the probe's JSON lines until one has `key`; return all of them."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([p.stdout], [], [], max(0, deadline - time.monotonic()))
        if not ready:
            break
        line = p.stdout.readline()
        if not line:
            break
        obj = json.loads(line)
        lines.append(obj)
        if key in obj:
            return lines
    os.set_blocking(p.stderr.fileno(), False)
    raise AssertionError(f"no {key!r} from the probe: {lines} stderr={p.stderr.read()!r}")


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(x) for x in f.read().split()]


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def proc_limits(pid):
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        for line in f.readlines()[1:]:
            name = line[:26].strip()
            soft, hard = line[26:].split()[:2]
            out[name] = (soft, hard)
    return out


def read(path):
    with open(path) as f:
        return f.read().strip()


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


def full_opts(w, tid, uid, extra=()):
    return ["--id", tid, "--data", w.datadir(tid), "--uid", str(uid), "--gid", str(uid),
            "--parent-pid", str(os.getpid()),
            "--rlimit-nofile", "512", "--rlimit-fsize", "64M", "--no-core",
            "--cgroup", tid, "--cgroup-parent", f"self/{w.cg_parent}",
            "--ns", "mount,pid,ipc,uts,net", "--hide", w.data, "--hide", w.run,
            "--seccomp", *extra]


# ---------------------------------------------------------------------------

def test_probe_in_the_full_jail(world):
    w = world
    target = listener()      # something to connect to, in the host's network
    passed = listener()      # the worker's socket, passed as fd 3
    try:
        p, status = w.jail(
            full_opts(w, "alice", UID_A, ["--memory", "128M", "--pids", "32",
                                          "--cpu-weight", "50"]),
            [probe_bin(), "probe", "--other", os.path.join(w.datadir("bob"), "bob.db"),
             "--token", w.token, "--connect", str(target.getsockname()[1]), "--accept"],
            listen=passed)
        lines = read_json_until(p, "ready")
        # The exec happened: the status fd reached EOF with nothing on it.
        assert read_status_fd(status) == ""
        checks = {l["check"]: l for l in lines if "check" in l}
        info = next(l for l in lines if "pid" in l)
        inner = next(l for l in lines if "status" in l)["status"]

        # What the probe could and could not do from inside.
        assert not checks["read_other"]["ok"], checks["read_other"]
        assert not checks["write_other"]["ok"], checks["write_other"]
        assert not checks["read_token"]["ok"], checks["read_token"]
        assert checks["write_root"] == {"check": "write_root", "ok": False, "errno": "EROFS"}
        assert checks["write_usr"]["errno"] == "EROFS"
        assert checks["write_data"]["ok"], checks["write_data"]
        assert checks["write_tmp"]["ok"], checks["write_tmp"]
        assert checks["ptrace"]["errno"] == "EPERM"
        assert checks["mount"]["errno"] == "EPERM"
        assert checks["unshare_user"]["errno"] == "EPERM"
        assert checks["io_uring"] == {"check": "io_uring", "ok": False, "errno": "EPERM"}
        assert checks["netlink"] == {"check": "netlink", "ok": False, "errno": "EAFNOSUPPORT"}
        assert checks["vsock"] == {"check": "vsock", "ok": False, "errno": "EAFNOSUPPORT"}
        # glibc falls back when netlink is refused: names still resolve.
        assert checks["getaddrinfo"]["ok"], checks["getaddrinfo"]
        assert not checks["connect"]["ok"]
        assert checks["connect"]["errno"] == "ENETUNREACH"
        assert info["pid"] == 1 and info["listen_pid"] == "1"
        assert info["hostname"] == "alice"
        assert info["cwd"] == w.datadir("alice")
        assert info["tmpdir"] == "/tmp"
        assert info["fds"] == [0, 1, 2, 3], info
        assert inner["Seccomp"] == "2" and inner["NoNewPrivs"] == "1"
        # The file the probe wrote is in the tenant's real data dir.
        assert os.stat(os.path.join(w.datadir("alice"), "probe-was-here")).st_uid == UID_A

        # From outside: the worker is the forwarder's only child.
        kids = children(p.pid)
        assert len(kids) == 1
        wp = kids[0]
        st = proc_status(wp)
        assert st["Uid"].split() == [str(UID_A)] * 4
        assert st["Gid"].split() == [str(UID_A)] * 4
        assert st["Groups"] == ""
        assert st["NoNewPrivs"] == "1"
        assert st["CapEff"] == "0000000000000000"
        assert st["CapPrm"] == "0000000000000000"
        assert st["CapBnd"] == "0000000000000000"
        assert st["Seccomp"] == "2"
        assert st["NSpid"].split()[-1] == "1"
        lim = proc_limits(wp)
        assert lim["Max open files"] == ("512", "512")
        assert lim["Max file size"] == (str(64 << 20), str(64 << 20))
        assert lim["Max core file size"] == ("0", "0")
        for ns in ("mnt", "pid", "ipc", "uts", "net"):
            assert os.readlink(f"/proc/{wp}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns

        # The cgroup: the worker is in it, with the plan's limits.
        cg = read(f"/proc/{wp}/cgroup")
        own = w.own_cgroups()
        for hier in ("memory", "pids"):
            want = f"{own[hier].rstrip('/')}/{w.cg_parent}/alice"
            assert any(l.split(":")[1].split(",").count(hier) and l.split(":")[2] == want
                       for l in cg.splitlines()), (hier, cg)
        assert int(read(w.cgroup_dir("memory", "alice") + "/memory.limit_in_bytes")) == 128 << 20
        assert read(w.cgroup_dir("pids", "alice") + "/pids.max") == "32"
        if "cpu" in own:
            assert read(w.cgroup_dir("cpu", "alice") + "/cpu.shares") == "512"
        procs = read(w.cgroup_dir("pids", "alice") + "/cgroup.procs").split()
        assert str(wp) in procs and str(p.pid) in procs

        # The worker still accepts on its passed socket, from the host side.
        c = socket.create_connection(passed.getsockname(), timeout=5)
        p.stdin.close()
        assert c.recv(16) == b"hi\n"
        c.close()
        assert p.wait(10) == 0
        assert not pid_alive(wp)
    finally:
        target.close()
        passed.close()


def test_without_pid_namespace_the_jail_is_the_worker(world):
    """No pid namespace: the jail's own pid execs the worker, LISTEN_PID is it."""
    w = world
    passed = listener()
    try:
        p, status = w.jail(["--id", "bob", "--data", w.datadir("bob"), "--uid", str(UID_B),
                            "--gid", str(UID_B), "--seccomp"],
                           [probe_bin(), "probe"], listen=passed)
        lines = read_json_until(p, "ready")
        assert read_status_fd(status) == ""
        info = next(l for l in lines if "pid" in l)
        assert info["pid"] == p.pid and info["listen_pid"] == str(p.pid)
        st = proc_status(p.pid)
        assert st["Uid"].split() == [str(UID_B)] * 4
        assert st["CapEff"] == "0000000000000000" and st["Seccomp"] == "2"
        assert os.readlink(f"/proc/{p.pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
        p.stdin.close()
        assert p.wait(10) == 0
    finally:
        passed.close()


def test_memory_hog_is_oom_killed(world):
    w = world
    p, status = w.jail(["--id", "alice", "--data", w.datadir("alice"), "--uid", str(UID_A),
                        "--gid", str(UID_A), "--cgroup", "alice",
                        "--cgroup-parent", f"self/{w.cg_parent}", "--memory", "64M",
                        "--ns", "pid"],
                       [probe_bin(), "hog", "200"])
    rc = p.wait(60)
    out = p.stdout.read().decode()
    # The forwarder dies the way the worker died: SIGKILL, as tenantd must see it.
    assert rc == -signal.SIGKILL, (rc, out, p.stderr.read())
    assert "survived" not in out
    oom = read(w.cgroup_dir("memory", "alice") + "/memory.oom_control")
    kills = int(dict(l.split() for l in oom.splitlines())["oom_kill"])
    assert kills >= 1, oom


def test_fork_bomb_stops_at_pids_max(world):
    w = world
    p, status = w.jail(["--id", "bob", "--data", w.datadir("bob"), "--uid", str(UID_B),
                        "--gid", str(UID_B), "--cgroup", "bob",
                        "--cgroup-parent", f"self/{w.cg_parent}", "--pids", "16",
                        "--ns", "pid"],
                       [probe_bin(), "forks", "500"])
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    res = json.loads(out.decode().splitlines()[0])
    # 16 tasks: the forwarder, the probe and at most 14 children.
    assert res["errno"] == "EAGAIN" and 0 < res["forked"] <= 14, res
    # The test's own processes are not limited.
    assert subprocess.run(["/bin/true"]).returncode == 0


def test_bad_data_dir_fails_closed(world):
    w = world
    d = w.datadir("alice")
    os.chmod(d, 0o755)
    p, status = w.jail(full_opts(w, "alice", UID_A), [probe_bin(), "probe"])
    assert p.wait(10) == 111
    msg = read_status_fd(status)
    assert msg.startswith("data-dir: ") and "0755" in msg, msg
    assert f"tenant-jail: [alice] data-dir: " in p.stderr.read().decode()
    assert p.stdout.read() == b""  # the probe never ran

    os.chmod(d, 0o700)
    os.chown(d, UID_B, UID_B)
    p, status = w.jail(full_opts(w, "alice", UID_A), [probe_bin(), "probe"])
    assert p.wait(10) == 111
    msg = read_status_fd(status)
    assert msg.startswith("data-dir: ") and str(UID_B) in msg, msg
    # Nothing was created for a jail that failed before the cgroup step.
    assert not os.path.exists(w.cgroup_dir("pids", "alice"))


def test_root_without_uid_and_bad_args_fail_closed(world):
    w = world
    p, status = w.jail(["--id", "alice", "--data", w.datadir("alice")], [probe_bin(), "probe"])
    assert p.wait(10) == 111
    assert read_status_fd(status).startswith("validate: ")
    p, status = w.jail(["--id", "Alice"], [probe_bin(), "probe"])
    assert p.wait(10) == 111
    assert "args: --id" in p.stderr.read().decode()


def test_signals_are_forwarded_and_parent_death_kills_the_worker(world):
    w = world
    p, status = w.jail(full_opts(w, "alice", UID_A), [probe_bin(), "probe"])
    read_json_until(p, "ready")
    (wp,) = children(p.pid)
    p.send_signal(signal.SIGTERM)
    assert p.wait(10) == 0
    assert b"sigterm" in p.stdout.read()

    p, status = w.jail(full_opts(w, "bob", UID_B), [probe_bin(), "probe"])
    read_json_until(p, "ready")
    (wp,) = children(p.pid)
    p.kill()  # tenantd's SIGKILL reaches the forwarder only
    p.wait(10)
    wait_for(lambda: not pid_alive(wp), timeout=10, what="the worker to die with its parent")


def test_not_root_applies_what_it_can(world):
    """Run by an unprivileged user, the jail still closes fds, sets rlimits,
    NO_NEW_PRIVS and seccomp; it refuses namespaces and skips an optional
    cgroup with a message."""
    w = world
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("setpriv (util-linux) is not installed")
    uid = 61003
    as_user = [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    p, status = w.jail(["--id", "carol", "--no-core", "--rlimit-nofile", "256", "--cgroup",
                        "carol", "--cgroup-optional", "--seccomp"],
                       [probe_bin(), "probe"], prefix=as_user)
    lines = read_json_until(p, "ready")
    assert read_status_fd(status) == ""
    inner = next(l for l in lines if "status" in l)["status"]
    assert inner["Uid"].split() == [str(uid)] * 4
    assert inner["NoNewPrivs"] == "1" and inner["Seccomp"] == "2"
    assert inner["CapEff"] == "0000000000000000"
    assert proc_limits(p.pid)["Max open files"] == ("256", "256")
    p.stdin.close()
    assert p.wait(10) == 0
    assert "running without resource limits" in p.stderr.read().decode()

    p, status = w.jail(["--id", "carol", "--ns", "pid"], [probe_bin(), "probe"], prefix=as_user)
    assert p.wait(10) == 111
    assert read_status_fd(status).startswith("validate: not root")


# ---- the same limits through tenantd (issue 6) --------------------------------------

def memhog(**limits):
    """Tenant sections: the memhog helper on the passed socket, with [limits]."""
    p = helper("memhog")
    if not os.path.exists(p):
        pytest.skip(f"{p} is not built")
    return {"worker": {"command": p, "socket": "passed"}, "limits": limits}


def worker_get(port, path, timeout=30):
    """(status, body) of one GET, or (None, error) when the connection breaks."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    except (OSError, http.client.HTTPException) as e:
        return None, repr(e)
    finally:
        conn.close()


def test_oom_through_tenantd_is_reported_and_restarted(root):
    port = root.add_tenant("oomy", **memhog(memory="64M"))
    root.start()
    before = root.status("oomy")
    assert worker_get(port, "/healthz")[0] == 200

    st, body = worker_get(port, "/hog")
    assert st is None, (st, body)  # killed while answering
    s = root.wait_state("oomy", "running", timeout=30,
                        pred=lambda s: s["pid"] and s["pid"] != before["pid"])
    assert s["last_exit"] == "oom-killed", s
    assert s["restarts"] == before["restarts"] + 1, s
    assert worker_get(port, "/healthz")[0] == 200
    log = root.log()
    assert any("oomy" in l and "OOM" in l for l in log.splitlines()), log[-2000:]
    with open(os.path.join(root.path, "logs", "oomy.log")) as f:
        assert "OOM" in f.read()


def test_fork_bomb_through_tenantd_stops_at_pids(root):
    bomb = root.add_tenant("bomb", **memhog(pids="16"))
    calm = root.add_tenant("calm", **memhog())
    root.start()
    pid = root.status("bomb")["pid"]
    st, body = worker_get(bomb, "/forks")
    assert st == 200, (st, body)
    out = json.loads(body)
    # The worker itself is one of the 16 tasks.
    assert out == {"forked": 15, "errno": "EAGAIN"}, out
    # The other tenant kept serving, and the bomb's worker is still the same.
    assert worker_get(calm, "/healthz")[0] == 200
    s = root.status("bomb")
    assert s["state"] == "running" and s["pid"] == pid and s["restarts"] == 0, s


def test_config_files_are_hidden_from_the_worker(root):
    """tenantd.ini, plans.ini and tenants.d/*.ini (hand-written ones are often
    0644) are not visible from inside a worker's jail; the host's system files
    and the tenant's own data dir still are."""
    port = root.add_tenant("peek", **memhog())
    other = os.path.join(root.path, "tenants.d", "other.ini")
    root.add_tenant("other", **memhog())
    for f in (root.config, os.path.join(root.path, "plans.ini"), other):
        os.chmod(f, 0o644)
    root.start()

    def read(path):
        st, body = worker_get(port, "/read?" + path)
        assert st == 200, (st, body)
        return json.loads(body)

    assert read("/etc/hostname")["read"] is True       # the probe itself works
    for f in (root.config, os.path.join(root.path, "plans.ini"), other,
              os.path.join(root.path, "tenants.d", "peek.ini")):
        got = read(f)
        assert got == {"read": False, "errno": "ENOENT"}, (f, got)
    assert root.status("peek")["state"] == "running"
