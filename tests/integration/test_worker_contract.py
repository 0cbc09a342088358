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


# ---- third-party servers: the recipes of docs/worker-api.md ----------------------------

WSGI_APP = r'''
import os, time
def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/burn":
        # About 0.3 s of CPU in whichever process serves the request.
        end = time.process_time() + 0.3
        n = 0
        while time.process_time() < end:
            n += 1
        body = b"burnt %d" % n
    else:
        body = ("hello from " + os.environ["CLIENT_ID"]).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


def recipe(server, appdir):
    """The [worker] lines of docs/worker-api.md for gunicorn and uWSGI, with the app's folder."""
    with open(os.path.join(REPO, "docs", "worker-api.md")) as f:
        doc = f.read()
    block = doc[doc.index(f"<!-- recipe:{server} -->"):]
    block = block[block.index("```ini") + 6:block.index("```", block.index("```ini") + 6)]
    lines = {}
    for line in block.strip().splitlines():
        if "=" in line and not line.startswith(("[", ";", "#")):
            k, v = line.split("=", 1)
            lines[k.strip()] = v.strip().replace("/srv/firm-app", appdir)
    return lines


def metric(root, name, tid):
    text = root.get("/metrics").text
    m = re.search(rf'^{name}{{tenant="{tid}"}} ([0-9.e+-]+)$', text, re.M)
    assert m, f"{name} for {tid} not in /metrics"
    return float(m.group(1))


@pytest.mark.parametrize("server,program", [("gunicorn", "/usr/bin/gunicorn"),
                                            ("uwsgi", "/usr/bin/uwsgi")])
def test_third_party_server_recipe(root, server, program):
    if not os.access(program, os.X_OK):
        pytest.skip(f"{program} is not installed (deploy/debian-packages.txt)")
    app = write_script(root, "app.py", WSGI_APP)
    appdir = os.path.dirname(app)
    worker = recipe(server, appdir)
    assert worker["command"].startswith(program), worker
    root.add_tenant("dupont", worker=worker)
    root.start()
    st = root.status("dupont")
    assert st["state"] == "running", st
    r = get_worker(root, "dupont", "/")
    assert r.status == 200 and r.text == "hello from dupont", r.text

    # Measured as a whole: the CPU the server's worker processes burn shows in /metrics.
    before = metric(root, "tenantd_tenant_cpu_seconds_total", "dupont")
    for _ in range(4):
        assert get_worker(root, "dupont", "/burn").status == 200
    if os.geteuid() == 0:
        assert root.status("dupont")["resources_from"] == "cgroup"
        after = metric(root, "tenantd_tenant_cpu_seconds_total", "dupont")
        assert after - before >= 0.8, (before, after)
        assert metric(root, "tenantd_tenant_resident_memory_bytes", "dupont") > 10 * 1024 * 1024

    # Stopped by its stop signal, well before the SIGKILL of the grace period.
    pid = st["pid"]
    root.tenantctl("stop", "dupont")
    st = root.wait_state("dupont", "stopped")
    log = root.log()
    assert re.search(rf"\[dupont\] worker stopped pid={pid} (exit 0|signal \d+)", log), log[-2000:]
    assert "SIGKILL" not in log, log[-2000:]
    assert st["restarts"] == 0


USAGE_WORKER = r'''
import http.server, json, os, signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
good = sys.argv[1] == "good"
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/internal/usage" and good:
            obj = {"client_id": os.environ["CLIENT_ID"], "month": "2026-12", "analyses_used": 3,
                   "analyses_limit": 500, "users_active": 1, "users_limit": None,
                   "total_due": 299.0, "secret": "not for the operator"}
        else:
            # A third-party app that echoes what it was sent, tenantd's token included.
            obj = {k: v for k, v in self.headers.items()}
        body = json.dumps(obj).encode()
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


def test_usage_answers_are_shape_checked(root):
    script = write_script(root, "usage_worker.py", USAGE_WORKER)
    root.add_tenant("echo", worker={"command": f"{PY} {script} echo", "socket": "passed"})
    root.add_tenant("good", worker={"command": f"{PY} {script} good", "socket": "passed"})
    root.start()
    r = root.get("/v1/tenants/echo/usage")
    assert r.status == 502, r.text
    assert r.json()["detail"] == "client_id is missing or not the tenant's id"
    assert "Tenantd" not in r.text
    r = root.get("/v1/tenants/good/usage")
    assert r.status == 200, r.text
    assert r.json() == {"client_id": "good", "month": "2026-12", "analyses_used": 3,
                        "analyses_limit": 500, "users_active": 1, "users_limit": None,
                        "total_due": 299.0}


def test_dashboard_shows_worker_status_and_na_usage(root, browser):
    """The status page: the worker's STATUS= under the firm's name, and "n/a" for the usage
    of a worker whose answer tenantd refused (502)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from tenantd_test import ARTIFACTS
    notify_tenant(root, "dupont", "status")
    script = write_script(root, "usage_worker.py", USAGE_WORKER)
    root.add_tenant("echo", worker={"command": f"{PY} {script} echo", "socket": "passed"})
    root.start()
    root.wait_state("dupont", "running", pred=lambda s: s.get("worker_status"))
    driver = browser
    wait = WebDriverWait(driver, 20)
    driver.get(f"http://127.0.0.1:{root.admin_port}/")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    driver.find_element(By.ID, "token").send_keys(root.token())
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(lambda d: d.find_elements(By.ID, "row-dupont"))
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#row-dupont .worker-status").text
               == 'serving "all" \\ firms')
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#row-echo .usage").text == "n/a")
    assert "undefined" not in driver.find_element(By.ID, "tenants").text
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, "dashboard-worker-status.png"))
