"""
Liveness without probes: a worker that sends WATCHDOG=1 (every half of the
WATCHDOG_USEC tenantd gives it) is counted alive and is not asked GET /healthz;
once it falls silent, tenantd probes it again. The pings and the probes are
seen in the worker's own captured log (tests/helpers/pingworker.c).
"""
import os
import signal

from tenantd_test import helper, wait_for


def log_lines(root, tid):
    try:
        with open(os.path.join(root.path, "logs", f"{tid}.log"), errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def count(lines, what):
    return sum(1 for line in lines if what in line)


def test_pinging_worker_is_not_probed_until_it_falls_silent(root):
    root.write_global(supervise={"health_interval": "1s"})
    root.add_tenant("lv-ping", worker={"command": helper("pingworker")})
    root.start()
    pid = root.status("lv-ping")["pid"]
    env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    # health_interval 1s: the worker pings every 250 ms.
    assert b"WATCHDOG_USEC=1000000" in env

    # Twelve pings span 2.75 s, close to three health intervals: without the
    # pings tenantd would have probed it two or three times.
    wait_for(lambda: count(log_lines(root, "lv-ping"), "pingworker: ping ") >= 12,
             timeout=20, what="twelve WATCHDOG=1 pings in the worker's log")
    lines = log_lines(root, "lv-ping")
    assert count(lines, "asked GET /healthz") == 0, lines

    # Silent from now on: the probes resume, it answers them and stays up.
    os.kill(pid, signal.SIGUSR1)
    wait_for(lambda: count(log_lines(root, "lv-ping"), "asked GET /healthz") >= 2,
             timeout=20, what="/healthz probes once the pings stopped")
    s = root.status("lv-ping")
    assert s["state"] == "running" and s["pid"] == pid and s["restarts"] == 0
