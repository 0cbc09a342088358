"""
Two thousand tenants of the test worker (tests/helpers/miniworker.c, the real
jail) while tenantd's open file limit holds only about a third of them: tenantd
runs out of descriptors while it starts them, retries those starts, says so
once at the alert level and counts it, and no tenant ends `failed`; once the
limit is raised again (prlimit --pid, as an operator would) every tenant runs.
tenantd raises its soft limit to the hard one when it starts, so the test
lowers the soft limit of the running tenantd, then adds the tenants.

Also `tenantd -n`: warnings for a port range that overlaps the kernel's
ephemeral ports, that is too small, and for an fd budget too small.
"""
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile

import pytest

from tenantd_test import binpath, fds, helper, hygiene, wait_for
from tenantd_test.paths import TEST_TMP
from tenantd_test.root import TenantdRoot

N = 2000
LOW_TENANTS = 700  # what the lowered limit holds, at 6 descriptors each
ALERT = r"cannot start workers: Too many open files"


@pytest.fixture
def big_root():
    d = tempfile.mkdtemp(prefix="tenantd-test-", dir=TEST_TMP)
    os.chmod(d, 0o755)
    r = TenantdRoot(d, n_ports=N)
    yield r
    try:
        r.stop(timeout=60)
        hygiene.check_log(r.log(), [ALERT])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def tenants(r, query):
    resp = r.get("/v1/tenants?" + query)
    assert resp.status == 200, resp.text
    return int(resp.headers["x-total-count"]), resp.json()


def metric(r, name):
    text = r.get("/metrics").text
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def nofile(pid, soft):
    hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    return hard


def test_fd_shortage_backs_off_and_recovers(big_root):
    r = big_root
    # Probes every 60 s: 2000 workers on a shared 2-core machine are slow to
    # answer while they start, and this test is about descriptors.
    r.write_global(tenantd={"max_parallel_starts": "64"},
                   supervise={"health_interval": "60s", "health_timeout": "5s",
                              "ready_timeout": "60s"})
    r.start()
    pid = r.proc.pid
    base = len(os.listdir(f"/proc/{pid}/fd"))
    hard = nofile(pid, base + 6 * LOW_TENANTS)
    assert hard >= base + 7 * N, "the hard limit must hold every tenant for this test"

    w = {"command": helper("miniworker"), "socket": "passed"}
    for i in range(N):
        r.add_tenant(f"t{i:04d}", worker=w)
    r.proc.send_signal(signal.SIGHUP)

    # Short of descriptors: starts fail, are retried, counted, said once.
    wait_for(lambda: (metric(r, "tenantd_spawn_transient_failures_total") or 0) > 0,
             timeout=60, what="a start failing for want of descriptors")
    running = wait_for(lambda: tenants(r, "state=running&limit=1")[0], what="running tenants")
    assert running < N
    assert tenants(r, "state=failed")[0] == 0
    assert r.log().count("cannot start workers") == 1

    # The operator raises the limit: every tenant comes up, none failed.
    nofile(pid, hard)
    wait_for(lambda: tenants(r, "state=running&limit=1")[0] == N, timeout=90, interval=0.5,
             what=f"all {N} tenants running")
    assert tenants(r, "state=failed")[0] == 0
    log = r.log()
    assert " FAILED" not in log
    assert log.count("cannot start workers") == 1
    assert re.search(r"started after \d+ retries for a shortage", log)
    assert metric(r, "tenantd_spawn_transient_failures_total") > 0
    # What capacity.h counts per running tenant, at most.
    nfd = len(os.listdir(f"/proc/{pid}/fd"))
    assert nfd <= base + 7 * N, (nfd, base)
    # libuv keeps a spare fd for an accept() that meets EMFILE, and opens it
    # again on "/" after using it: tenantd's own fds changed by design. The
    # teardown's check still classifies every tenant fd.
    r.fd_baseline = fds.baseline(r, pid)


def check(root_dir, *wrapper):
    return subprocess.run([*wrapper, binpath("tenantd"), "-n", "-c", root_dir.config],
                          capture_output=True, text=True, timeout=60)


def ephemeral():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        lo, hi = f.read().split()
    return int(lo), int(hi)


def test_check_warns_when_tenants_do_not_fit(root):
    lo, _ = ephemeral()
    for i in range(3):
        root.add_tenant(f"t{i}")
    ok = check(root)
    assert ok.returncode == 0, ok.stderr
    assert "warning" not in ok.stderr

    assert root.port_max < lo
    # tenantd -n only: the listeners move out of the widened range (nothing binds them).
    root.write_global(tenantd={"port_range": f"{root.port_min}-{lo + 10}"},
                      admin={"listen": f"127.0.0.1:{lo + 100}"},
                      proxy={"listen": f"127.0.0.1:{lo + 101}"})
    r = check(root)
    assert r.returncode == 0 and "configuration OK" in r.stdout, r.stderr
    assert f"port_range: {root.port_min}-{lo + 10} overlaps the kernel's ephemeral ports" \
        in r.stderr

    root.write_global(tenantd={"port_range": f"{root.port_min}-{root.port_min + 1}"})
    r = check(root)  # also an error: the third tenant's port is out of the range
    assert "warning: [tenantd] port_range: " in r.stderr
    assert "holds 2 tenants, 3 are configured" in r.stderr

    root.write_global(tenantd={"port_range": f"{root.port_min}-{root.port_max}"})
    r = check(root, "prlimit", "--nofile=100:100", "setpriv", "--bounding-set=-sys_resource", "--")
    assert r.returncode == 0, r.stderr
    assert re.search(r"warning: open files: 3 tenants need about \d+ descriptors .* tenantd may "
                     r"open 100", r.stderr), r.stderr
    if has_sys_resource():
        # As root with CAP_SYS_RESOURCE tenantd raises its own limit: no warning.
        r = check(root, "prlimit", "--nofile=100:100")
        assert "open files" not in r.stderr, r.stderr


def has_sys_resource():
    with open("/proc/self/status") as f:
        eff = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    return os.geteuid() == 0 and bool(eff & (1 << 24))
