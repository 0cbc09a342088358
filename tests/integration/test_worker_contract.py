"""
The worker contract of issue 18 (docs/worker-api.md): [worker] command is an argv (quoted
words, no shell), stop_signal, notify_access = main | all checked with the sender's
credentials, STATUS= shown in status, tenantctl and /metrics, MAINPID= refused with a clear
error; restarts counts the supervisor's own restarts and operator_restarts the operator's;
the documented gunicorn and uWSGI recipes start, answer, stop on their stop signal before
the SIGKILL would come, and their CPU is counted from the tenant's cgroup.
"""
import http.client
import json
import os
import re
import shutil

import pytest

from tenantd_test import REPO, http_request, wait_for

PY = "/usr/bin/python3"

# A worker written for the tests: argv as JSON at GET /argv; its notify behaviour from
# NOTIFY_MODE (its first argument after the script): "status", "mainpid", "child".
NOTIFY_WORKER = r'''
import http.server, json, os, signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
mode = sys.argv[1] if len(sys.argv) > 1 else ""
def notify(msg):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(msg.encode(), os.environ["NOTIFY_SOCKET"])
    s.close()
if mode == "child":
    notify("STATUS=from the main process")
    pid = os.fork()
    if pid == 0:
        notify("STATUS=from a child\nREADY=1")
        os._exit(0)
    os.waitpid(pid, 0)
    notify("READY=1")
elif mode == "mainpid":
    notify("READY=1\nMAINPID=4242")
else:
    notify('READY=1\nSTATUS=serving "all" \\ firms\x01\nSTOPPING=0')
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(sys.argv[1:]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H, bind_and_activate=False)
s.socket = socket.socket(fileno=3)
s.serve_forever()
'''


def write_script(root, name, text):
    path = os.path.join(root.path, "app", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(os.path.dirname(path), 0o755)
    os.chmod(path, 0o644)
    return path


def notify_tenant(root, tid, mode, **worker):
    script = write_script(root, "notify_worker.py", NOTIFY_WORKER)
    w = {"command": f"{PY} {script} {mode} 'two words' \"a \\\"quoted\\\" one\"",
         "socket": "passed"}
    w.update(worker)
    root.add_tenant(tid, worker=w)


def get_worker(root, tid, path="/argv"):
    port = root.status(tid)["port"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    return http_request(conn, "GET", path)


def test_command_is_an_argv(root):
    notify_tenant(root, "dupont", "status")
    root.start()
    r = get_worker(root, "dupont")
    assert r.status == 200
    assert json.loads(r.text) == ["status", "two words", 'a "quoted" one']


def test_unbalanced_quote_is_a_clear_error(root):
    root.add_tenant("dupont", worker={"command": f"{PY} '/app/x.py", "socket": "passed"})
    r = root.tenantctl("check", check=False)
    assert r.returncode != 0
    assert re.search(r"dupont\.ini:\d+: \[worker\] command: .*unbalanced ' quote opened at "
                     r"column 18", r.stderr), r.stderr
    root.add_tenant("martin", worker={"command": f"{PY} app.py > /tmp/log"})
    r = root.tenantctl("--json", "check", check=False)
    assert r.returncode != 0
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["invalid_tenants"] == 2
    assert any("'>' at column" in p and "no shell runs the command" in p
               for p in out["problems"]), out


def test_status_text_shown_everywhere(root):
    notify_tenant(root, "dupont", "status")
    root.start()
    want = 'serving "all" \\ firms '  # the control character became a space
    st = root.wait_state("dupont", "running", pred=lambda s: s.get("worker_status"))
    assert st["worker_status"] == want, st
    assert st["notify_error"] == ""
    table = root.tenantctl("status").stdout
    assert f"dupont: worker status: {want}" in table, table
    metrics = root.get("/metrics").text
    line = next(l for l in metrics.splitlines()
                if l.startswith("tenantd_tenant_worker_status_info{"))
    assert line == ('tenantd_tenant_worker_status_info{tenant="dupont",'
                    'status="serving \\"all\\" \\\\ firms "} 1'), line


def test_mainpid_is_refused_with_a_clear_error(root):
    notify_tenant(root, "dupont", "mainpid")
    root.start()
    st = root.wait_state("dupont", "running", pred=lambda s: s["notify_error"])
    assert "MAINPID= refused" in st["notify_error"] and "pid 1" in st["notify_error"], st
    assert "dupont: notify error: MAINPID= refused" in root.tenantctl("status").stdout
    assert "MAINPID= refused" in root.log()


@pytest.mark.parametrize("access", ["main", "all"])
def test_notify_access(root, access):
    notify_tenant(root, "dupont", "child", notify_access=access)
    root.start()
    st = root.wait_state("dupont", "running")
    if access == "main":
        # The child's datagram (sent before the main process's READY=1) was dropped.
        assert st["worker_status"] == "from the main process", st
        assert re.search(r"notify message from pid \d+ ignored: only the main process pid "
                         rf"{st['pid']} may send", root.log())
    else:
        assert st["worker_status"] == "from a child", st
        assert "notify message from pid" not in root.log()


def test_restarts_count_the_supervisor_only(root):
    notify_tenant(root, "dupont", "status")
    root.start()
    pid = root.status("dupont")["pid"]
    root.tenantctl("restart", "dupont")
    st = root.wait_state("dupont", "running", pred=lambda s: s["pid"] not in (None, pid))
    assert st["restarts"] == 0 and st["operator_restarts"] == 1, st
    root.tenantctl("stop", "dupont")
    root.wait_state("dupont", "stopped")
    root.tenantctl("start", "dupont")
    st = root.wait_state("dupont", "running")
    assert st["restarts"] == 0 and st["operator_restarts"] == 2, st
    metrics = root.get("/metrics").text
    assert 'tenantd_tenant_restarts_total{tenant="dupont"} 0' in metrics
    assert 'tenantd_tenant_operator_restarts_total{tenant="dupont"} 2' in metrics


def test_every_json_command_parses_or_is_refused(root):
    """Every command of `tenantctl --help`, run with --json: its stdout is JSON, or it
    says on stderr that it has no --json output and exits non-zero."""
    notify_tenant(root, "dupont", "status")
    root.start()
    help_text = root.tenantctl("--help").stdout
    cmds = sorted(set(re.findall(r"^  ([a-z][a-z-]+) ", help_text, re.M)))
    assert {"status", "check", "proxy-config", "logs", "plans", "events"} <= set(cmds), cmds
    args = {"status": [], "wait": ["dupont", "running", "--timeout", "5"], "plans": [],
            "events": [], "check": [], "proxy-config": [], "proxy-status": [],
            "logs": ["dupont"], "backups": ["dupont"], "export": ["k8s"],
            "restart": ["dupont"], "reload": []}
    ran = 0
    for cmd in cmds:
        if cmd not in args:
            continue  # changes data (onboard, offboard, restore...): covered in their files
        r = root.tenantctl("--json", cmd, *args[cmd], check=False)
        if r.stdout.strip():
            json.loads(r.stdout)
        else:
            assert r.returncode != 0 and "json" in r.stderr.lower(), (cmd, r.stderr)
        ran += 1
    assert ran >= 10
    r = root.tenantctl("--json", "logs", "dupont", check=False)
    assert r.returncode != 0 and "no --json output" in r.stderr
    st = json.loads(root.tenantctl("--json", "status", "dupont").stdout)
    # Numbers come out as JSON numbers, without float noise.
    assert isinstance(st["cpu_seconds"], (int, float))
    assert not re.search(r"\d\.\d{16,}", root.tenantctl("--json", "status").stdout)
