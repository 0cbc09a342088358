"""
The harness's own checks can fail: an unexpected crit line, a leaked fd and a
stray process are each caught and named, and skip_alert lets only the lines a
test expects through.
"""
import os
import subprocess
import sys

import pytest

from tenantd_test import binpath, fds, hygiene, procs


def run_to_exit(root):
    """Run tenantd on root's config until it exits (a refused config), its output
    in root's log like a started tenantd's."""
    with open(root.log_path, "ab") as log:
        return subprocess.run([binpath("tenantd"), "-c", root.config], stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=30)


def test_skip_alert_lets_only_the_expected_crit_line_through(root, skip_alert):
    root.write_global(tenantd={"no_such_key": "1"})
    assert run_to_exit(root).returncode != 0
    log = root.log()
    assert " crit " in log and "the configuration is invalid" in log, log
    with pytest.raises(AssertionError, match="unexpected crit line"):
        hygiene.check_log(log)
    with pytest.raises(AssertionError, match="unexpected crit line"):
        hygiene.check_log(log, [r"the configuration is invalid$"])  # the other crit line
    # The root fixture checks the log with these patterns after the test.
    skip_alert(r"the configuration is invalid", r"no_such_key")
    hygiene.check_log(log, [r"the configuration is invalid", r"no_such_key"])


STANDIN = r"""
import os, socket, sys, time
root, port = sys.argv[1], int(sys.argv[2])
keep = [open(os.path.join(root, "logs", "ghost.log"), "a")]  # a tenant that does not exist
gone = os.path.join(root, "gone.txt")
keep.append(open(gone, "w"))
os.unlink(gone)                                             # an fd to a deleted file
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen()                                                  # no tenant's port
keep.append(s)
pid = os.fork()
if pid == 0:
    os._exit(0)
keep.append(os.pidfd_open(pid))
os.waitpid(pid, 0)                                          # a pidfd of a reaped process
print("ready", flush=True)
sys.stdin.read()
"""


def test_fd_check_names_each_leak(root):
    """The classifier on a stand-in for tenantd that holds one leak of each kind,
    next to a real tenantd whose tenants it checks them against."""
    root.add_tenant("real")
    root.start()
    assert fds.problems(root, root.proc.pid, root.fd_baseline) == []
    os.makedirs(os.path.join(root.path, "logs"), exist_ok=True)
    port = root.port_max  # in the range, but no tenant has it
    standin = subprocess.Popen([sys.executable, "-c", STANDIN, root.path, str(port)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert standin.stdout.readline() == "ready\n"
        bad = fds.problems(root, standin.pid, fds.base_counts([]))
        why = {e.kind: reason for e, reason in bad}
        assert why.get("log file") == "the log of ghost, a tenant tenantd no longer has", bad
        assert why.get(f"tcp listen 127.0.0.1:{port}") == \
            f"a listening socket on port {port}, no tenant's port", bad
        assert "a deleted file is still open" in why.values(), bad
        assert "a pidfd of a process that has exited" in why.values(), bad
        with pytest.raises(AssertionError, match=r"leaks \d+ fd\(s\)"):
            fds.check(root, standin.pid, fds.base_counts([]), settle=0)
    finally:
        standin.stdin.close()
        standin.wait(10)


def test_stray_check_names_an_escaped_process():
    before = procs.snapshot()
    marker = "tenantd-harness-stray-check"
    # setsid -f forks: the sleep is orphaned at once and comes back to pytest.
    subprocess.run(["setsid", "-f", "bash", "-c", f"exec -a {marker} sleep 60"], check=True)
    strays = procs.stray_processes(before, grace=0.5)
    assert len(strays) == 1 and marker in strays[0], strays
    assert procs.stray_processes(before, grace=0) == []  # killed once named


def test_a_worker_is_named_with_its_tenant(root):
    root.add_tenant("named")
    root.start()
    pid = root.status("named")["pid"]
    assert procs.client_id(pid) == "named"
    assert "tenant named:" in procs.describe(pid)
