"""
Containment against a hostile tenant (issue 12): what a compromised worker
can do to tenantd, to the operator, to the firm and to the tenants of another
tenantd on the same host.

  - a worker that writes like `yes` is held to its log byte budget: it blocks
    on its own stdout, tenantd stays cheap and its admin API quick;
  - terminal escape sequences in its output reach the log file escaped;
  - uids come from a host-wide registry: two tenantd instances started at
    once, with overlapping ranges, never share a uid (root only);
  - login throttling is per (username, address): five wrong passwords from
    one address do not lock the firm's admin out of another one.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import tempfile
import time

import pytest

from tenantd_test import TenantdRoot, helper, pid_alive, wait_for

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def http_get(port, path, timeout=5):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def yesworker():
    p = helper("yesworker")
    if not os.path.exists(p):
        pytest.skip(f"{p} is not built")
    return {"command": p, "socket": "passed"}


# ---- log flood ---------------------------------------------------------------------

def test_log_flood_is_held_to_its_budget(root):
    """`yes` on a worker's stdout: the worker is slowed to the byte budget
    (rate_lines x 1 KiB/s, here 1000 lines -> 1 MiB/s), tenantd's CPU stays
    low and its admin API answers quickly; the log says reading was paused."""
    root.write_global(logs={"rate_lines": "1000"})
    port = root.add_tenant("flood", worker=yesworker())
    root.add_tenant("calm", plan="starter")
    root.start()
    tenantd = root.proc.pid
    budget = 1000 * 1024

    def written():
        st, body = http_get(port, "/flood")
        assert st == 200
        return json.loads(body)["bytes"]

    # The bucket starts full (one second's worth): measure after it is spent.
    wait_for(lambda: written() > 2 * budget, timeout=30, what="the flood to pass its burst")
    cpu0, w0, t0 = cpu_seconds(tenantd), written(), time.monotonic()
    latencies = []
    while time.monotonic() - t0 < 3.0:
        a = time.monotonic()
        assert root.get("/v1/tenants").status == 200
        latencies.append(time.monotonic() - a)
        time.sleep(0.05)
    cpu1, w1, t1 = cpu_seconds(tenantd), written(), time.monotonic()
    elapsed = t1 - t0
    cpu = (cpu1 - cpu0) / elapsed
    rate = (w1 - w0) / elapsed
    # Loose bounds: the budget, plus the pipe's 64 KiB and a chunk in flight.
    assert rate < 2 * budget + 256 * 1024, f"the flood went through at {rate:.0f} bytes/s"
    assert cpu < 0.5, f"tenantd used {cpu:.0%} of a core during the flood"
    latencies.sort()
    assert latencies[len(latencies) * 9 // 10] < 0.1, f"admin latencies: {latencies}"
    assert latencies[-1] < 1.0, f"admin latencies: {latencies}"
    assert root.status("calm")["state"] == "running"
    # The budget's counters are in status and /metrics.
    lg = root.status("flood")["log"]
    assert lg["throttled_ms"] > 0 and lg["pauses"] > 0 and lg["bytes_read"] > 2 * budget, lg
    assert root.status("calm")["log"]["throttled_ms"] == 0
    metrics = root.get("/metrics").text
    assert 'tenantd_tenant_log_throttled_seconds_total{tenant="flood"}' in metrics
    assert 'tenantd_tenant_log_dropped_bytes_total{tenant="calm"} 0' in metrics

    log = os.path.join(root.path, "logs", "flood.log")
    wait_for(lambda: "reading paused" in open(log, errors="replace").read(), timeout=10,
             what="the pause to be reported in the tenant's log")


def test_escape_sequences_are_escaped_in_the_log(root):
    root.add_tenant("esc", worker=yesworker())
    root.start()
    log = os.path.join(root.path, "logs", "esc.log")

    def planted():
        with open(log, "rb") as f:
            return next((l for l in f.read().splitlines() if b"planted" in l), None)
    line = wait_for(planted, timeout=15, what="the planted line in the log")
    assert line.endswith(b"stdout planted \\x1b[2J\\x1b]0;owned\\x07 \\xc2\\x9b31m red "
                         b"\\x1b[0m end"), line
    with open(log, "rb") as f:
        data = f.read()
    assert not any(b < 0x20 and b not in (0x09, 0x0a) for b in data)
    assert b"\x1b" not in data and b"\xc2\x9b" not in data


# ---- uids unique per host ----------------------------------------------------------

def worker_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                uids = set(line.split()[1:])
                assert len(uids) == 1, line
                return int(uids.pop())
    raise AssertionError(f"no Uid line for {pid}")


def start_at_once(roots):
    """Start every root's tenantd in parallel threads, and wait for all."""
    import threading
    errors = []

    def run(r):
        try:
            r.start()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=run, args=(r,)) for r in roots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


@pytest.fixture
def two_roots():
    if os.geteuid() != 0:
        pytest.skip("tenant uids are only assigned when tenantd runs as root")
    roots, pids = [], []
    for _ in range(2):
        d = tempfile.mkdtemp(prefix="tenantd-test-", dir=os.environ.get("TENANTD_TEST_TMP",
                                                                        "/var/tmp"))
        os.chmod(d, 0o755)
        roots.append(TenantdRoot(d))
    yield roots, pids
    for r in roots:
        try:
            if r.proc and r.proc.poll() is None:
                pids.extend(p for p in r.pids().values() if p)
        finally:
            r.stop()
    for p in pids:
        if pid_alive(p):
            os.kill(p, signal.SIGKILL)
    for r in roots:
        shutil.rmtree(r.path, ignore_errors=True)


def uids_of(root):
    return {tid: worker_uid(pid) for tid, pid in root.pids().items()}


def test_two_instances_on_one_host_get_disjoint_uids(two_roots):
    """Two tenantd with the default uid_range and the host's registry (this
    test session's, see conftest.py), started at once, with the same tenant
    ids: no uid is shared."""
    roots, _ = two_roots
    for r in roots:
        for tid in ("dupont", "martin", "bernard"):
            r.add_tenant(tid, plan="starter")
    start_at_once(roots)
    a, b = uids_of(roots[0]), uids_of(roots[1])
    assert len(a) == len(b) == 3
    assert not set(a.values()) & set(b.values()), (a, b)
    assert len(set(a.values())) == 3
    assert all(1900000000 <= u <= 1999999999 for u in [*a.values(), *b.values()]), (a, b)
    # Each instance keeps its per-instance map, as before.
    for r, m in ((roots[0], a), (roots[1], b)):
        with open(os.path.join(r.run_dir, "uids")) as f:
            stored = dict(line.split() for line in f)
        assert {k: int(v) for k, v in stored.items()} == m
    # The worker's data dir belongs to its uid, not to the other instance's.
    for r, m in ((roots[0], a), (roots[1], b)):
        for tid, uid in m.items():
            assert os.stat(os.path.join(r.path, "data", "clients", tid)).st_uid == uid


def test_instances_sharing_a_registry_file_with_overlapping_ranges(two_roots):
    """[tenantd] uid_registry names one file for both, and both ranges are the
    same six uids: the six tenants get all six, once each, and the registry
    says which instance holds which."""
    roots, _ = two_roots
    reg_dir = tempfile.mkdtemp(prefix="tenantd-test-registry-", dir="/var/tmp")
    try:
        registry = os.path.join(reg_dir, "uids")
        for r in roots:
            r.write_global(tenantd={"uid_range": "1990000100-1990000105",
                                    "uid_registry": registry})
            for tid in ("a1", "a2", "a3"):
                r.add_tenant(tid, plan="starter")
        start_at_once(roots)
        a, b = uids_of(roots[0]), uids_of(roots[1])
        assert sorted([*a.values(), *b.values()]) == list(range(1990000100, 1990000106)), (a, b)
        with open(registry) as f:
            lines = [line.split(" ", 2) for line in f.read().splitlines()]
        owners = {int(u): (tid, inst) for u, tid, inst in lines}
        assert len(lines) == 6
        for r, m in ((roots[0], a), (roots[1], b)):
            for tid, uid in m.items():
                assert owners[uid] == (tid, r.run_dir)
        assert os.stat(registry).st_mode & 0o777 == 0o600
    finally:
        shutil.rmtree(reg_dir, ignore_errors=True)
