"""
Network containment (issue 12): a hostile tenant's worker (tests/helpers/
netprobe.c, run as a tenant with the jail active) tries to take or reach what
is not its own, and every attempt is refused while the victims, nginx and
onboarding keep working:

  - bind another tenant's port while that tenant restarts (own socket);
  - bind later tenants' ports and the proxy's port at boot, before they start;
  - bind the proxy, admin and TLS ports, or any free port of the range
    (squatting the range, then onboarding still finds a port);
  - listen on 0.0.0.0;
  - connect to another tenant's port and to the admin listener;
while an `own` tenant still serves and an `outbound` or `allow` tenant reaches
its allowed destination (a loopback listener the test holds).

Mechanism: Landlock TCP port rules applied by tenant-jail (docs/isolation.md);
the tests need root and a kernel with Landlock ABI >= 4, and skip otherwise.
"""
import ctypes
import http.client
import json
import os
import socket
import subprocess
import threading

import pytest

from tenantd_test import binpath, helper, http_request, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the jail applies rules as root")


def landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(r, 0)


needs_landlock = pytest.mark.skipif(landlock_abi() < 4,
                                    reason="this kernel has no Landlock TCP rules (ABI < 4)")


def addr_rules():
    """A cgroup v2 hierarchy exists, so tenantd adds the cgroup-bpf address rules."""
    return os.path.isdir("/sys/fs/cgroup/unified") or \
        os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def probe_worker(**kw):
    p = helper("netprobe")
    if not os.path.exists(p):
        pytest.skip(f"{p} is not built")
    w = {"command": p, "socket": "passed"}
    w.update(kw)
    return w


def mini_own():
    return {"command": helper("miniworker"), "socket": "own"}


def ask(port, path, timeout=15):
    """One netprobe request; its answer line, e.g. 'bind 5003: EACCES'."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    r = http_request(conn, "GET", path)
    assert r.status == 200, (path, r.status, r.text)
    return r.text.strip()


def refused(line):
    return line.endswith(": EACCES") or line.endswith(": EPERM")


def via_proxy(root, host, path="/healthz"):
    conn = http.client.HTTPConnection("127.0.0.1", root.proxy_port, timeout=5)
    return http_request(conn, "GET", path, headers={"Host": host})


def managed(root):
    root.write_global(proxy={"mode": "managed"})


@needs_landlock
def test_probe_cannot_take_or_reach_what_is_not_its_own(root):
    managed(root)
    victim = root.add_tenant("victim", worker=mini_own())
    probe = root.add_tenant("probe", worker=probe_worker())
    root.start()
    wait_for(lambda: via_proxy(root, "victim.localhost").status == 200, timeout=20,
             what="victim through nginx")
    st = root.status("probe")
    assert st["network"] == "local" and st["net_containment"] in ("landlock", "landlock+bpf"), st

    free = root.next_port  # allocated to nobody
    for path in (f"/bind/{victim}", f"/bind/{root.proxy_port}", f"/bind/{root.admin_port}",
                 f"/bind/{free}", f"/bind-any/{free}", f"/bind-any/{root.proxy_port}",
                 f"/bind/{probe}", f"/connect/{victim}", f"/connect/{root.admin_port}",
                 f"/connect/{root.proxy_port}"):
        line = ask(probe, path)
        assert refused(line), line
    # Nothing moved: nginx and the victim still serve, the probe is still running.
    assert via_proxy(root, "victim.localhost").status == 200
    assert root.worker_get(victim, "/healthz").status == 200
    assert root.status("probe")["state"] == "running"


@needs_landlock
def test_port_of_an_own_tenant_cannot_be_won_during_its_restart(root):
    managed(root)
    victim = root.add_tenant("victim", worker=mini_own())
    probe = root.add_tenant("probe", worker=probe_worker())
    root.start()
    pid0 = root.status("victim")["pid"]
    result = {}

    def hammer():
        result["line"] = ask(probe, f"/hammer/{victim}/3000", timeout=20)

    th = threading.Thread(target=hammer)
    th.start()
    assert root.post("/v1/tenants/victim/restart").status in (200, 202)
    root.wait_state("victim", "running", pred=lambda s: s["pid"] not in (None, pid0))
    th.join(30)
    line = result["line"]
    assert line.startswith(f"hammer {victim}: won=0 ") and "last=EACCES" in line, line
    tries = int(line.split("tries=")[1].split()[0])
    assert tries > 100, line
    assert root.worker_get(victim, "/healthz").status == 200
    wait_for(lambda: via_proxy(root, "victim.localhost").status == 200, timeout=20,
             what="victim through nginx after its restart")


@needs_landlock
def test_first_tenant_cannot_squat_later_tenants_or_the_proxy_at_boot(root):
    managed(root)
    root.write_global(tenantd={"max_parallel_starts": "1"})
    probe = root.add_tenant("aaa-probe", worker=probe_worker())
    later = [root.add_tenant(t, worker=mini_own()) for t in ("later-one", "later-two")]
    passed = root.add_tenant("later-three", worker={"command": helper("miniworker"),
                                                     "socket": "passed"})
    targets = later + [passed, root.proxy_port, root.admin_port]
    data = os.path.join(root.path, "data", "clients", "aaa-probe")
    os.makedirs(data, mode=0o700)
    with open(os.path.join(data, "netprobe-boot"), "w") as f:
        f.write(" ".join(str(p) for p in targets))
    root.start()
    log = os.path.join(root.path, "logs", "aaa-probe.log")
    wait_for(lambda: os.path.exists(log) and
             all(f"boot-bind {p}:" in open(log).read() for p in targets),
             timeout=20, what="the probe's boot binds in its log")
    text = open(log).read()
    for p in targets:
        assert f"boot-bind {p}: EACCES" in text, text
    for tid in ("later-one", "later-two", "later-three"):
        assert root.status(tid)["state"] == "running"
    assert root.worker_get(probe, "/healthz").status == 200
    wait_for(lambda: via_proxy(root, "later-one.localhost").status == 200, timeout=20,
             what="nginx serving a later tenant")


@needs_landlock
def test_squatting_the_range_does_not_starve_onboarding(root):
    probe = root.add_tenant("probe", worker=probe_worker())
    root.start()
    line = ask(probe, f"/squat/{root.port_min}/{root.port_max}", timeout=30)
    n = root.port_max - root.port_min + 1
    assert line == f"squat {root.port_min}-{root.port_max}: held=0 refused={n}", line
    r = root.tenantctl("onboard", "fresh", "Cabinet Fresh", "starter", "--json")
    out = json.loads(r.stdout)
    assert root.port_min <= out["port"] <= root.port_max
    assert root.status("fresh")["state"] == "running"
    assert root.worker_get(out["port"], "/healthz").status == 200
    # Onboarding on tenantd's own listener is refused, naming it.
    r = root.tenantctl("onboard", "clash", "Cabinet Clash", "starter", "--port",
                       str(root.admin_port), check=False)
    assert r.returncode != 0
    assert f"{root.admin_port}" in r.stdout + r.stderr, r.stdout + r.stderr


@needs_landlock
def test_own_tenant_binds_its_port_on_loopback_only_and_nothing_else(root):
    own = root.add_tenant("own", worker=probe_worker(socket="own"))
    root.start()
    st = root.status("own")
    assert st["state"] == "running" and st["network"] == "local"
    assert ask(own, "/healthz").startswith("netprobe ")
    # Any other port is refused (Landlock); its own port on another address than
    # 127.0.0.1 too where the cgroup-bpf address rules apply (a v2 hierarchy),
    # else it is at least already in use by its own listener.
    for path in (f"/bind-any/{own}", f"/bind-src2/{own}"):
        line = ask(own, path)
        assert refused(line) if addr_rules() else line.endswith("EADDRINUSE"), line
    for path in (f"/bind/{own + 1}", f"/bind-any/{own + 1}", f"/bind/{root.proxy_port}"):
        assert refused(ask(own, path)), path


@needs_landlock
def test_allow_list_and_outbound_reach_their_destination(root):
    dest = socket.socket()
    dest.bind(("127.0.0.1", 0))
    dest.listen(8)
    dport = dest.getsockname()[1]
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    oport = other.getsockname()[1]
    try:
        allowed = root.add_tenant("allowed", worker=probe_worker(allow=f"127.0.0.1:{dport}"))
        out = root.add_tenant("out", worker=probe_worker(network="outbound",
                                                         allow=f"localhost:{dport}"))
        victim = root.add_tenant("victim", worker=mini_own())
        root.start()
        assert ask(allowed, f"/connect/{dport}") == f"connect {dport}: ok"
        assert refused(ask(allowed, f"/connect/{oport}"))
        assert refused(ask(allowed, f"/connect/{victim}"))
        assert root.status("out")["network"] == "outbound"
        assert ask(out, f"/connect/{dport}") == f"connect {dport}: ok"
        # outbound binds nothing but its own socket...
        assert refused(ask(out, f"/bind/{root.next_port}"))
        # ...and, with the cgroup-bpf address rules, reaches loopback only on its allow
        # list: not another tenant, not the admin listener (non-loopback destinations
        # stay open; no test traffic leaves loopback).
        if addr_rules():
            assert root.status("out")["net_containment"] == "landlock+bpf"
            for p in (oport, victim, root.admin_port):
                assert refused(ask(out, f"/connect/{p}")), p
    finally:
        dest.close()
        other.close()


def test_network_none_is_the_bundled_workers_default(root):
    if not os.access(binpath("tenant-worker"), os.X_OK):
        pytest.skip("tenant-worker is not built")
    port = root.add_tenant("dupont")
    root.start()
    st = root.status("dupont")
    assert st["network"] == "none", st
    assert root.worker_get(port, "/healthz").status == 200


def run_check(root):
    return subprocess.run([binpath("tenantd"), "-n", "-c", root.config],
                          capture_output=True, text=True, timeout=30)


def test_port_collisions_and_host_alias_in_check(root):
    # A tenant on the admin port: an error naming the port and the listener.
    root.add_tenant("clash", port=root.admin_port, worker=mini_own())
    r = run_check(root)
    assert r.returncode == 1
    assert f"[worker] port: {root.admin_port} is [admin] listen's port" in r.stderr, r.stderr
    os.unlink(root.tenant_file("clash"))
    # A port range containing the proxy's port.
    root.write_global(tenantd={"port_range": f"{root.port_min}-{root.proxy_port}"},
                      proxy={"mode": "managed"})
    r = run_check(root)
    assert r.returncode == 1
    assert "[tenantd] port_range" in r.stderr and "[proxy] listen" in r.stderr, r.stderr
    root.write_global(tenantd={"port_range": f"{root.port_min}-{root.port_max}"})
    # "host" still loads, as outbound, with a warning; a bad allow list is an error.
    root.add_tenant("old", worker={**mini_own(), "network": "host"})
    r = run_check(root)
    assert r.returncode == 0, r.stderr
    assert 'network: "host" is deprecated, read as "outbound"' in r.stderr
    r = root.tenantctl("check", check=False)
    assert r.returncode == 0 and 'warning:' in r.stderr and '"host" is deprecated' in r.stderr, \
        r.stderr
    root.add_tenant("bad", worker={**mini_own(), "allow": "127.0.0.1:notaport"})
    root.add_tenant("far", worker={**mini_own(), "allow": "192.0.2.7:443"})
    root.add_tenant("adm", worker={**mini_own(), "allow": f"127.0.0.1:{root.admin_port}"})
    r = run_check(root)
    assert r.returncode == 1
    assert '[worker] allow: "127.0.0.1:notaport" is not a list of host:port' in r.stderr
    assert "entry 1 is not a loopback address: it needs network = outbound" in r.stderr
    assert f"port {root.admin_port} is tenantd's admin listener" in r.stderr, r.stderr


def test_reduced_containment_is_said_not_silent(root):
    """A kernel without Landlock TCP rules (stood in for by TENANTD_LANDLOCK_ABI=3):
    tenantd -n warns, status says "reduced" for a local tenant, and what does
    not depend on Landlock still holds: tenantd binds every passed-socket
    tenant's port before it starts any worker, so a tenant started first
    cannot take a later tenant's port."""
    root.write_global(tenantd={"max_parallel_starts": "1"})
    probe = root.add_tenant("aaa-probe", worker=probe_worker())
    later = root.add_tenant("later", worker={"command": helper("miniworker"),
                                             "socket": "passed"})
    data = os.path.join(root.path, "data", "clients", "aaa-probe")
    os.makedirs(data, mode=0o700)
    with open(os.path.join(data, "netprobe-boot"), "w") as f:
        f.write(str(later))
    env = dict(os.environ, TENANTD_LANDLOCK_ABI="3")
    r = subprocess.run([binpath("tenantd"), "-n", "-c", root.config], capture_output=True,
                       text=True, timeout=30, env=env)
    assert r.returncode == 0
    assert "network containment is reduced" in r.stderr and "ABI is 3" in r.stderr, r.stderr
    os.environ["TENANTD_LANDLOCK_ABI"] = "3"
    try:
        root.start()
    finally:
        del os.environ["TENANTD_LANDLOCK_ABI"]
    st = root.status("aaa-probe")
    assert st["net_containment"] == "reduced" and st["network"] == "local", st
    assert "network containment is reduced" in root.log()
    log = os.path.join(root.path, "logs", "aaa-probe.log")
    wait_for(lambda: os.path.exists(log) and f"boot-bind {later}:" in open(log).read(),
             timeout=20, what="the probe's boot bind in its log")
    assert f"boot-bind {later}: EADDRINUSE" in open(log).read()
    assert root.status("later")["state"] == "running"
    assert root.worker_get(later, "/").status == 200
    # Without Landlock a free port is not protected: the reason for the warning.
    assert ask(probe, f"/bind/{root.next_port}") == f"bind {root.next_port}: ok"
