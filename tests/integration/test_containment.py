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

from conftest import TenantdRoot, helper, pid_alive, wait_for

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
