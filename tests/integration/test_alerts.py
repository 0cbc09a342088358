"""The vendor's alerts (issue 21): a tenant that ends `failed` fires one alert,
its recovery one notice, by a signed webhook and by e-mail.

Real tenantd and workers; the webhook is a loopback HTTP server of the Python
standard library, the mail relay a small SMTP sink (tenantd_test.smtp; smtpd is gone
from Python 3.12); tenantd delivers both with curl.
"""
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import threading

import pytest

from tenantd_test import REPO, helper, wait_for
from tenantd_test.smtp import SmtpSink

SECRET = b"s3cret-shared-with-the-vendor"


class Hook:
    """A loopback webhook: records (headers, body) of every POST."""

    def __init__(self):
        self.posts = []
        hook = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                hook.posts.append((dict(self.headers), self.rfile.read(min(n, 65536))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def events(self, kind):
        out = []
        for headers, body in self.posts:
            j = json.loads(body)
            if j["kind"] == kind:
                out.append((headers, body, j))
        return out

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


@pytest.fixture
def smtp():
    s = SmtpSink()
    yield s
    s.close()


def secret_file(root, mode=0o600):
    path = os.path.join(root.path, "alerts.secret")
    with open(path, "wb") as f:
        f.write(SECRET + b"\n")
    os.chmod(path, mode)
    return path


def mini():
    return {"command": helper("miniworker"), "socket": "passed"}


def test_failed_fires_once_then_recovers_signed_and_mailed(root, hook, smtp):
    root.write_global(
        alerts={"webhook": f"http://127.0.0.1:{hook.port}/hook",
                "webhook_secret_file": secret_file(root), "email": "true",
                "check_every": "200ms", "restarts": "64"},
        mail={"relay": f"127.0.0.1:{smtp.port}", "from": "tenantd@vendor.example",
              "to": "ops@vendor.example"},
        supervise={"start_limit": "3"})
    port = root.add_tenant("crash", worker={"command": helper("crashloop"), "socket": "passed"})
    root.add_tenant("fine", worker=mini())
    root.start(wait_ids=["fine"])
    root.wait_state("crash", "failed")

    fired = wait_for(lambda: hook.events("tenant_failed"), what="the webhook's alert")
    headers, body, j = fired[0]
    assert j["event"] == "fired" and j["tenant"] == "crash" and "failed" in j["detail"]
    want = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Tenantd-Signature"], want)
    assert headers["Content-Type"] == "application/json"

    mail = wait_for(lambda: [m for m in smtp.mails if "tenant_failed" in m["data"]],
                    what="the alert's e-mail")[0]
    assert mail["rcpt"] == ["ops@vendor.example"] and mail["from"] == "tenantd@vendor.example"
    assert re.search(r"^Subject: \[tenantd\] tenant_failed fired crash\r?$", mail["data"], re.M)
    assert "To: ops@vendor.example" in mail["data"]

    a = root.get("/v1/alerts").json()
    assert [(x["tenant"], x["kind"]) for x in a["active"]] == [("crash", "tenant_failed")]
    wait_for(lambda: root.get("/v1/alerts").json()["delivered"]["ok"] >= 2, what="2 deliveries")
    d = root.get("/v1/alerts").json()["deliveries"]
    assert {x["channel"] for x in d} == {"webhook", "email"}
    assert all(x["result"] == "ok" and x["error"] == "" for x in d)
    metrics = root.get("/metrics").text
    assert 'tenantd_alerts_active{kind="tenant_failed"} 1' in metrics
    assert re.search(r'tenantd_alert_deliveries_total\{result="ok"\} [2-9]', metrics)

    # Fix the file: the tenant comes back, one recovery notice follows.
    root.add_tenant("crash", port=port, worker=mini())
    root.wait_state("crash", "running")
    wait_for(lambda: len(hook.events("tenant_failed")) >= 2, what="the recovery notice")
    wait_for(lambda: len([m for m in smtp.mails if "tenant_failed" in m["data"]]) >= 2,
             what="the recovery mail")
    events = [j["event"] for _, _, j in hook.events("tenant_failed")]
    # The failed state lasted many check rounds (200 ms): still one alert each way.
    assert events == ["fired", "recovered"]
    for headers, body, _ in hook.events("tenant_failed"):
        assert headers["X-Tenantd-Signature"] == \
            "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert root.get("/v1/alerts").json()["active"] == []
    assert not [p for p in hook.posts if json.loads(p[1])["tenant"] == "fine"]


def test_a_readable_secret_is_refused_and_reported(root, hook):
    root.write_global(
        alerts={"webhook": f"http://127.0.0.1:{hook.port}/hook",
                "webhook_secret_file": secret_file(root, 0o644), "check_every": "200ms"},
        supervise={"start_limit": "2"})
    root.add_tenant("crash", worker={"command": helper("crashloop"), "socket": "passed"})
    root.start(wait_ids=[])
    root.wait_state("crash", "failed")
    d = wait_for(lambda: root.get("/v1/alerts").json()["deliveries"], what="a delivery")[0]
    assert d["result"] == "error" and "mode 0600" in d["error"], d
    assert hook.posts == []
    assert 'tenantd_alert_deliveries_total{result="error"} 1' in root.get("/metrics").text


def test_alert_settings_are_checked(root):
    root.write_global(alerts={"email": "true"})
    r = root.tenantctl("check", check=False)
    assert r.returncode != 0 and "[alerts] email" in r.stdout + r.stderr
    assert "needs [mail] relay, from and to" in r.stdout + r.stderr
    root.write_global(alerts={"email": "false", "webhook": "ftp://x/"})
    r = root.tenantctl("check", check=False)
    assert r.returncode != 0 and "http:// or https:// URL" in r.stdout + r.stderr
    root.write_global(alerts={"webhook": "http://127.0.0.1:9/x"})
    r = root.tenantctl("check", check=False)
    assert r.returncode != 0 and "webhook_secret_file" in r.stdout + r.stderr


def test_restart_loop_alert(root, hook):
    # 2 restarts within the window: a restart loop, before the tenant is failed.
    root.write_global(
        alerts={"webhook": f"http://127.0.0.1:{hook.port}/hook",
                "webhook_secret_file": secret_file(root), "check_every": "100ms",
                "restarts": "2", "restarts_window": "10m"},
        supervise={"start_limit": "20", "backoff_min": "200ms", "backoff_max": "300ms"})
    root.add_tenant("crash", worker={"command": helper("crashloop"), "socket": "passed"})
    root.start(wait_ids=[])
    ev = wait_for(lambda: hook.events("restart_loop"), what="the restart loop alert")
    _, _, j = ev[0]
    assert j["tenant"] == "crash" and j["event"] == "fired"
    assert re.match(r"\d+ restarts within 600 s", j["detail"]), j
    assert root.status("crash")["state"] != "failed"
    kinds = {(x["tenant"], x["kind"]) for x in root.get("/v1/alerts").json()["active"]}
    assert ("crash", "restart_loop") in kinds


def test_storage_near_its_limit_alert(root, hook):
    # The bundled worker's data dir (database, secret) is well over 1% of 8M.
    root.write_global(
        tenantd={"storage_check": "1s"},
        alerts={"webhook": f"http://127.0.0.1:{hook.port}/hook",
                "webhook_secret_file": secret_file(root), "check_every": "200ms",
                "storage_percent": "1"})
    root.add_tenant("small", limits={"storage": "8M"})
    root.add_tenant("unlimited")
    root.start()
    ev = wait_for(lambda: hook.events("storage_near_limit"), what="the storage alert")
    _, _, j = ev[0]
    assert j["tenant"] == "small" and j["event"] == "fired"
    assert re.match(r"storage \d+ of 8388608 bytes \(\d+%\)", j["detail"]), j
    assert [e for e in hook.events("storage_near_limit") if e[2]["tenant"] == "unlimited"] == []


@pytest.mark.skipif(shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"),
                    reason="nginx is not installed")
def test_proxy_refusing_its_config_alert_then_recovery(root, hook):
    tpl = os.path.join(root.path, "tpl")
    shutil.copytree(os.path.join(REPO, "templates", "nginx"), tpl)
    root.write_global(
        proxy={"mode": "managed", "templates": tpl},
        alerts={"webhook": f"http://127.0.0.1:{hook.port}/hook",
                "webhook_secret_file": secret_file(root), "check_every": "200ms"})
    root.add_tenant("dupont", worker=mini())
    root.start()
    tenant_tpl = os.path.join(tpl, "tenant.conf.in")
    with open(tenant_tpl) as f:
        original = f.read()
    with open(tenant_tpl, "w") as f:
        f.write(original.replace("client_max_body_size {{max_body}};",
                                 "client_max_body_size {{max_body}};\n    bogus_directive on;"))
    root.add_tenant("martin", worker=mini())  # renders with the broken template
    ev = wait_for(lambda: hook.events("proxy_config_refused"), what="the proxy alert")
    assert ev[0][2]["event"] == "fired" and "bogus_directive" in ev[0][2]["detail"]
    assert ev[0][2]["tenant"] == ""
    with open(tenant_tpl, "w") as f:
        f.write(original)
    assert root.post("/v1/reload").status == 200  # the proxy applies again
    wait_for(lambda: len(hook.events("proxy_config_refused")) >= 2, what="its recovery")
    assert [e[2]["event"] for e in hook.events("proxy_config_refused")] == ["fired", "recovered"]
