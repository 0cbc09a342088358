"""
The reverse proxy (DESIGN.md "Reverse proxy"; supervisor/tenantd/proxy.c, common/proxy_render.c)
with Debian's real nginx, run privately by tenantd in managed mode.

Each tenant is reached by its Host header and through *.localhost names (curl resolves
them to loopback; Python does not, so Python requests send a Host header), unknown hosts
get 404, a suspended tenant gets 503 with its own escaped page, a broken template keeps
the last good configuration serving and is reported, hostile tenant values never reach
nginx, and TLS serves by name with HTTP redirecting.

The tenants run the real tenant-worker when it is built, else tests/helpers/echoworker.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess

import pytest

from tenantd_test import (BUILDDIR, REPO, binpath, free_port_block, helper, http_request,
                      pid_alive, wait_for)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CURL = shutil.which("curl")

pytestmark = pytest.mark.skipif(not os.path.exists(NGINX), reason="nginx is not installed")


def use_real_worker():
    return os.access(binpath("tenant-worker"), os.X_OK) and \
        os.environ.get("TENANTD_PROXY_ECHOWORKER") is None


def add(root, tid, name=None, **sections):
    """A tenant running the real worker, or the echo helper when it is not built."""
    if not use_real_worker():
        w = {"command": helper("echoworker"), "socket": "passed"}
        w.update(sections.pop("worker", {}))
        sections["worker"] = w
    return root.add_tenant(tid, name=name, **sections)


def managed(root, **proxy):
    root.write_global(proxy={"mode": "managed", **proxy})


def via_proxy(root, host, path="/", port=None):
    conn = http.client.HTTPConnection("127.0.0.1", port or root.proxy_port, timeout=5)
    return http_request(conn, "GET", path, headers={"Host": host})


def wait_proxy(root, host, status, contains=None, timeout=20):
    def check():
        r = via_proxy(root, host)
        if r.status == status and (contains is None or contains in r.text):
            return r
        return None
    return wait_for(check, timeout=timeout, what=f"{host} to answer {status} through nginx")


def curl(*args):
    r = subprocess.run([CURL, "-sS", "--max-time", "5", *args], capture_output=True,
                       text=True, timeout=15)
    return r


def live_dir(root):
    return os.path.join(root.run_dir, "nginx", "live")


def live_tenants(root):
    with open(os.path.join(live_dir(root), "tenants.conf")) as f:
        return f.read()


def nginx_master(root):
    with open(os.path.join(root.run_dir, "nginx", "nginx.pid")) as f:
        return int(f.read().strip())


def group_members(pgid):
    """Pids whose process group is pgid (nginx's master and workers)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


# ---- the renderer's output against the real nginx, without tenantd -------------------

@pytest.mark.parametrize("tls", [False, True])
def test_rendered_config_passes_nginx_t(tmp_path, tls):
    """The golden fixture rendered with real folders is accepted by `nginx -t`."""
    emitter = os.path.join(BUILDDIR, "tests", "common_proxy_render")
    if not os.access(emitter, os.X_OK):
        pytest.skip("build tests/unit/common_proxy_render first (make unit)")
    run, logs = tmp_path / "run", tmp_path / "logs"
    conf = run / "nginx" / "conf"
    for d in (conf, run / "nginx" / "temp", logs):
        d.mkdir(parents=True)
    args = [emitter, "--emit", str(conf), str(run), str(logs)]
    if tls:
        key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=*.localhost", "-addext", "subjectAltName=DNS:*.localhost",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        args += [str(cert), str(key)]
    subprocess.run(args, check=True, cwd=REPO)
    r = subprocess.run([NGINX, "-t", "-q", "-e", "stderr", "-p", f"{run}/nginx/",
                        "-c", str(conf / "main.conf")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert (run / "nginx" / "suspended" / "martin.html").exists()


# ---- tenantd in managed mode ------------------------------------------------------------

def test_each_tenant_reached_by_its_host(root):
    managed(root)
    add(root, "dupont", name="Cabinet Dupont")
    add(root, "martin", name="Cabinet Martin", tenant={"subdomain": "cabinet-martin"})
    root.start()
    r = wait_proxy(root, "dupont.localhost", 200, "Cabinet Dupont")
    assert "Cabinet Martin" not in r.text
    r = wait_proxy(root, "cabinet-martin.localhost", 200, "Cabinet Martin")
    assert "Cabinet Dupont" not in r.text
    # The id is not a host name once a subdomain is set.
    assert via_proxy(root, "martin.localhost").status == 404
    assert via_proxy(root, "unknown.localhost").status == 404
    assert via_proxy(root, "127.0.0.1").status == 404

    # By name, as a browser would: *.localhost resolves to loopback in curl.
    if CURL:
        r = curl(f"http://dupont.localhost:{root.proxy_port}/")
        assert r.returncode == 0 and "Cabinet Dupont" in r.stdout, r.stderr
        r = curl("-o", "/dev/null", "-w", "%{http_code}",
                 f"http://nobody-here.localhost:{root.proxy_port}/")
        assert r.stdout == "404"

    # Upstream keepalive: several requests on one client connection all answer.
    conn = http.client.HTTPConnection("127.0.0.1", root.proxy_port, timeout=5)
    for _ in range(5):
        conn.request("GET", "/healthz", headers={"Host": "dupont.localhost"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    conn.close()

    # Per-tenant access log, written by nginx's master-opened file.
    logs = os.path.join(root.path, "logs")
    wait_for(lambda: os.path.getsize(os.path.join(logs, "dupont.access.log")) > 0,
             what="dupont's access log")
    assert os.path.islink(live_dir(root))
    # Free text (the firms' names) never goes into nginx's configuration.
    assert "Cabinet" not in live_tenants(root)


def suspended_page(root, tid):
    return os.path.join(root.run_dir, "nginx", "suspended", f"{tid}.html")


def test_suspended_tenant_gets_503_with_its_page(root):
    managed(root)
    port = add(root, "dupont", name="Cabinet Dupont & Fils <b>")
    add(root, "martin", name="Cabinet Martin")
    # A page left by an earlier run for a tenant that is gone, and a file that is
    # not a page: the first apply removes the former and leaves the latter.
    pages = os.path.dirname(suspended_page(root, "x"))
    os.makedirs(pages)
    for name in ("ghost.html", "README"):
        with open(os.path.join(pages, name), "w") as f:
            f.write("left over\n")
    root.start()
    wait_proxy(root, "dupont.localhost", 200)
    martin_pid = root.status("martin")["pid"]

    add(root, "dupont", name="Cabinet Dupont & Fils <b>", port=port,
        tenant={"status": "suspended"})
    r = wait_proxy(root, "dupont.localhost", 503)
    assert r.headers["content-type"].startswith("text/html")
    assert "Cabinet Dupont &amp; Fils &lt;b&gt;" in r.text
    assert "<b>" not in r.text
    assert r.headers.get("cache-control") == "no-store"
    # Every path of a suspended tenant gets the page. (nginx's old workers finish
    # their connections after a reload, so a request may still meet the old
    # configuration for a moment: await the new answer rather than sample once.)
    wait_for(lambda: via_proxy(root, "dupont.localhost", "/api/anything").status == 503,
             what="/api/anything of a suspended tenant to answer 503")
    # The other firm is untouched: same worker, still served.
    assert via_proxy(root, "martin.localhost").status == 200
    assert root.status("martin")["pid"] == martin_pid
    # The page is readable by nginx's workers (nobody when tenantd is root).
    page = suspended_page(root, "dupont")
    assert os.stat(page).st_mode & 0o004
    assert not os.path.exists(os.path.join(pages, "ghost.html"))
    assert os.path.exists(os.path.join(pages, "README"))

    # Resumed: once the new configuration is live, its page is gone.
    add(root, "dupont", name="Cabinet Dupont & Fils <b>", port=port,
        tenant={"status": "active"})
    wait_proxy(root, "dupont.localhost", 200)
    wait_for(lambda: not os.path.exists(page), what="dupont's suspended page to be removed")

    # Suspended by the operator, then its file removed: the page goes with it.
    assert root.post("/v1/tenants/martin/suspend").status == 202
    wait_proxy(root, "martin.localhost", 503, "Cabinet Martin")
    assert os.path.exists(suspended_page(root, "martin"))
    os.unlink(root.tenant_file("martin"))
    wait_proxy(root, "martin.localhost", 404)
    wait_for(lambda: not os.path.exists(suspended_page(root, "martin")),
             what="martin's suspended page to be removed")
    assert via_proxy(root, "dupont.localhost").status == 200


def test_broken_template_keeps_last_good_config(root):
    tpl = os.path.join(root.path, "tpl")
    shutil.copytree(os.path.join(REPO, "templates", "nginx"), tpl)
    managed(root, templates=tpl)
    add(root, "dupont", name="Cabinet Dupont")
    root.start()
    wait_proxy(root, "dupont.localhost", 200, "Cabinet Dupont")
    good_target = os.readlink(live_dir(root))

    tenant_tpl = os.path.join(tpl, "tenant.conf.in")
    with open(tenant_tpl) as f:
        original = f.read()
    with open(tenant_tpl, "w") as f:
        f.write(original.replace("client_max_body_size {{max_body}};",
                                 "client_max_body_size {{max_body}};\n    proxy_bogus_directive on;"))
    # A change that matters (a new tenant) renders with the broken template.
    add(root, "martin", name="Cabinet Martin")
    root.wait_state("martin", "running")  # tenantd may not know it yet
    wait_for(lambda: 'unknown directive "proxy_bogus_directive"' in root.log(),
             what="nginx's message in tenantd's log")
    line = next(l for l in root.log().splitlines() if "proxy_bogus_directive" in l)
    assert line.split()[1] == "error", line
    assert "previous one keeps serving" in line
    # The old configuration serves: dupont answers, martin is not there yet.
    assert os.readlink(live_dir(root)) == good_target
    assert via_proxy(root, "dupont.localhost").status == 200
    assert via_proxy(root, "martin.localhost").status == 404
    assert "proxy_bogus_directive" not in live_tenants(root)

    # The error is shown, not only logged: GET /v1/proxy, tenantctl, /metrics.
    px = root.get("/v1/proxy").json()
    assert px["mode"] == "managed" and px["ok"] is False, px
    assert 'unknown directive "proxy_bogus_directive"' in px["last_error"], px
    assert "previous one keeps serving" in px["last_error"]
    assert px["failures"] >= 1 and px["generation"] >= 1
    assert isinstance(px["nginx_pid"], int) and px["nginx_pid"] == nginx_master(root)
    r = root.tenantctl("status")
    proxy_lines = [l for l in r.stdout.splitlines() if l.startswith("proxy: ")]
    assert len(proxy_lines) == 1, r.stdout
    assert proxy_lines[0].startswith("proxy: ERROR: ")
    assert 'unknown directive "proxy_bogus_directive"' in proxy_lines[0]
    assert isinstance(json.loads(root.tenantctl("status", "--json").stdout), list)
    r = root.tenantctl("proxy-status", check=False)
    assert r.returncode == 1 and "config:       ERROR: " in r.stdout, (r.stdout, r.stderr)
    r = root.tenantctl("proxy-status", "--json", check=False)
    assert r.returncode == 1 and json.loads(r.stdout)["ok"] is False
    # nginx's own message, without the pid of the `nginx -t` that said it.
    assert re.search(r'\[emerg\] unknown directive "proxy_bogus_directive" in \S+:\d+$',
                     json.loads(r.stdout)["last_error"]), r.stdout
    metrics = root.get("/metrics").text
    assert "\ntenantd_proxy_config_ok 0\n" in metrics
    failures = px["failures"]

    # A placeholder typo is caught before nginx, with the file and line; the
    # API's reload re-applies like SIGHUP.
    with open(tenant_tpl, "w") as f:
        f.write(original.replace("server_name {{host}};", "server_name {{hots}};"))
    root.tenantctl("reload")
    wait_for(lambda: "unknown placeholder {{hots}}" in root.get("/v1/proxy").json()["last_error"],
             what="the placeholder error in GET /v1/proxy")
    assert "unknown placeholder {{hots}}" in root.log()
    assert root.get("/v1/proxy").json()["failures"] > failures
    assert via_proxy(root, "dupont.localhost").status == 200

    # Fixed, and a reload (SIGHUP) applies it: the error clears everywhere.
    with open(tenant_tpl, "w") as f:
        f.write(original)
    root.proc.send_signal(signal.SIGHUP)
    wait_proxy(root, "martin.localhost", 200, "Cabinet Martin")
    assert via_proxy(root, "dupont.localhost").status == 200
    assert os.readlink(live_dir(root)) != good_target
    px = wait_for(lambda: (lambda p: p if p["ok"] else None)(root.get("/v1/proxy").json()),
                  what="GET /v1/proxy to say ok")
    assert px["last_error"] == "" and px["reloads"] >= 2
    assert "proxy:" not in root.tenantctl("status").stdout
    assert root.tenantctl("proxy-status").returncode == 0
    assert "\ntenantd_proxy_config_ok 1\n" in root.get("/metrics").text


HOSTILE_SUBDOMAINS = ["ev;il", "ev{il", 'ev"il', "ev il", "ev$host", "ev#il", "a..b", "ev}il"]


def test_hostile_tenant_values_never_reach_nginx(root):
    managed(root)
    add(root, "dupont", name="Cabinet Dupont")
    for i, sub in enumerate(HOSTILE_SUBDOMAINS):
        root.write_file(root.tenant_file(f"evil{i}"),
                        "[tenant]\nname = Evil\nplan = professional\n"
                        f"subdomain = {sub}\n\n[worker]\nport = {root.port_max - i}\n")
    root.write_file(root.tenant_file("evilport"),
                    "[tenant]\nname = Evil\nplan = professional\n\n"
                    f"[worker]\nport = {root.port_max - 20};}}\n")

    # Offline check: every hostile file is named with a clear reason.
    r = subprocess.run([binpath("tenantd"), "-c", root.config, "-n"], capture_output=True,
                       text=True, timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    for i in range(len(HOSTILE_SUBDOMAINS)):
        assert f"evil{i}.ini" in out and "subdomain" in out, out
    assert "evilport.ini" in out

    root.start(wait_ids=["dupont"])
    wait_proxy(root, "dupont.localhost", 200)
    text = live_tenants(root)
    assert "evil" not in text
    for sub in HOSTILE_SUBDOMAINS:
        assert f"server_name {sub}" not in text
    for i in range(len(HOSTILE_SUBDOMAINS)):
        assert root.status(f"evil{i}")["config_error"]


def test_tenantctl_proxy_config_prints_the_config(root):
    managed(root)
    add(root, "dupont", name="Cabinet Dupont")
    add(root, "martin", name="Cabinet Martin", tenant={"status": "suspended"})
    root.write_file(root.tenant_file("evil"),
                    "[tenant]\nname = Evil\nplan = professional\nsubdomain = ev;il\n")
    r = root.tenantctl("proxy-config", check=False)
    if r.returncode == 2 and "proxy-config" not in r.stdout:
        pytest.skip("tenantctl does not dispatch proxy-config yet (ctl_main.c)")
    assert r.returncode == 0, r.stderr
    assert "# ==> " in r.stdout and "live/main.conf <==" in r.stdout
    assert "server_name dupont.localhost;" in r.stdout
    assert "suspended/martin.html" in r.stdout
    assert "ev;il" not in r.stdout
    assert "evil" in r.stderr

    # A broken template: exit 1 and the reason.
    tpl = os.path.join(root.path, "tpl")
    shutil.copytree(os.path.join(REPO, "templates", "nginx"), tpl)
    with open(os.path.join(tpl, "default.conf.in"), "a") as f:
        f.write("# {{nope}}\n")
    managed(root, templates=tpl)
    r = root.tenantctl("proxy-config", check=False)
    assert r.returncode == 1
    assert "default.conf.in" in r.stderr and "{{nope}}" in r.stderr


def test_nginx_restarted_after_a_crash_and_stopped_with_tenantd(root):
    managed(root)
    add(root, "dupont", name="Cabinet Dupont")
    root.start()
    wait_proxy(root, "dupont.localhost", 200)
    master = wait_for(lambda: nginx_master(root), what="nginx's pid file")
    assert len(group_members(master)) >= 2  # master + worker(s)

    os.kill(master, signal.SIGKILL)
    wait_for(lambda: nginx_master(root) != master, what="a new nginx master")
    wait_proxy(root, "dupont.localhost", 200)
    assert group_members(master) == []  # the dead master's workers were swept

    new_master = nginx_master(root)
    assert root.stop() == 0
    assert not pid_alive(new_master)
    assert group_members(new_master) == []
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", root.proxy_port))  # the port is free again
    finally:
        s.close()


@pytest.mark.skipif(CURL is None, reason="curl is needed to resolve *.localhost names")
def test_tls_by_name_and_http_redirect(root, tmp_path):
    # OpenSSL (curl, Python) refuses a wildcard directly over a one-label name such as
    # "*.localhost"; the tenants live under firms.localhost so the wildcard verifies.
    domain = "firms.localhost"
    key, cert = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN=*.{domain}", "-addext", f"subjectAltName=DNS:*.{domain}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    tls_port = free_port_block(1)
    root.write_global(tenantd={"domain": domain})
    managed(root, tls_cert=str(cert), tls_key=str(key), tls_port=str(tls_port))
    add(root, "dupont", name="Cabinet Dupont")
    add(root, "martin", name="Cabinet Martin", tenant={"status": "suspended"})
    root.start(wait_ids=["dupont"])

    host = f"dupont.{domain}"
    r = wait_proxy(root, host, 301)
    assert r.headers["location"] == f"https://{host}:{tls_port}/"
    assert via_proxy(root, f"unknown.{domain}").status == 404

    url = f"https://{host}:{tls_port}/"
    r = wait_for(lambda: (lambda c: c if c.returncode == 0 else None)(
        curl("--cacert", str(cert), url)), what="HTTPS through nginx")
    assert "Cabinet Dupont" in r.stdout
    r = curl("--cacert", str(cert), "-o", "/dev/null", "-w", "%{http_code}",
             f"https://martin.{domain}:{tls_port}/")
    assert r.stdout == "503"
    # curl follows the redirect from plain HTTP to HTTPS.
    r = curl("-L", "--cacert", str(cert), f"http://{host}:{root.proxy_port}/")
    assert r.returncode == 0 and "Cabinet Dupont" in r.stdout, r.stderr

    # An unknown name gets no certificate at all: the handshake is refused.
    ctx = ssl.create_default_context(cafile=str(cert))
    with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as s:
        with pytest.raises(ssl.SSLError):
            ctx.wrap_socket(s, server_hostname=f"unknown.{domain}")


def test_external_mode_writes_tests_and_reloads(root, tmp_path):
    """External mode against an nginx this test runs privately (never the system's)."""
    ext = tmp_path / "ext"
    (ext / "temp").mkdir(parents=True)
    os.chmod(tmp_path, 0o755)
    os.chmod(ext, 0o755)
    output = ext / "tenants.conf"
    output.write_text("")
    main = ext / "main.conf"
    main.write_text(f"""
pid {ext}/nginx.pid;
error_log stderr;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {ext}/temp/cb; proxy_temp_path {ext}/temp/p;
    fastcgi_temp_path {ext}/temp/f; uwsgi_temp_path {ext}/temp/u; scgi_temp_path {ext}/temp/s;
    server_names_hash_bucket_size 128;
    include {output};
    server {{ listen 127.0.0.1:{root.proxy_port} default_server; return 404; }}
}}
""")
    # Scripts keep the config lines short (inih caps them at 200 bytes).
    base = f"{NGINX} -e stderr -p {ext}/ -c {main}"
    test_sh, reload_sh = ext / "test.sh", ext / "reload.sh"
    test_sh.write_text(f"#!/bin/sh\nexec {base} -t -q\n")
    reload_sh.write_text(f"#!/bin/sh\nexec {base} -s reload\n")
    os.chmod(test_sh, 0o755)
    os.chmod(reload_sh, 0o755)
    managed(root)
    root.write_global(proxy={"mode": "external", "output": str(output),
                             "test_command": str(test_sh), "reload_command": str(reload_sh)})
    nginx = subprocess.Popen([NGINX, "-e", "stderr", "-p", f"{ext}/", "-c", str(main),
                              "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(ext / "nginx.pid") and (ext / "nginx.pid").read_text(),
                 what="the private nginx")
        add(root, "dupont", name="Cabinet Dupont")
        port = add(root, "martin", name="Cabinet Martin")
        root.start()
        wait_proxy(root, "dupont.localhost", 200, "Cabinet Dupont")
        text = output.read_text()
        assert "default_server" not in text and "server_name martin.localhost;" in text
        assert not os.path.exists(os.path.join(root.run_dir, "nginx", "live"))

        add(root, "martin", name="Cabinet Martin", port=port, tenant={"status": "suspended"})
        wait_proxy(root, "martin.localhost", 503, "Cabinet Martin")

        # A test command that fails: the previous file is put back, nginx keeps serving.
        good = output.read_text()
        test_sh.write_text(f"#!/bin/sh\n{base} -t -q && exit 1\n")
        add(root, "bernard", name="Cabinet Bernard")
        wait_for(lambda: "the test command refused" in root.log(), what="the refusal")
        assert output.read_text() == good
        assert via_proxy(root, "dupont.localhost").status == 200
        assert via_proxy(root, "bernard.localhost").status == 404
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


def test_dashboard_shows_the_proxy_error(root, browser):
    """The status page's red banner: nginx's message while it refuses, gone once fixed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    tpl = os.path.join(root.path, "tpl")
    shutil.copytree(os.path.join(REPO, "templates", "nginx"), tpl)
    managed(root, templates=tpl)
    add(root, "dupont", name="Cabinet Dupont")
    root.start()
    wait_proxy(root, "dupont.localhost", 200)
    tenant_tpl = os.path.join(tpl, "tenant.conf.in")
    with open(tenant_tpl) as f:
        original = f.read()
    with open(tenant_tpl, "w") as f:
        f.write(original.replace("client_max_body_size {{max_body}};",
                                 "client_max_body_size {{max_body}};\n    proxy_bogus_directive on;"))
    root.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: not root.get("/v1/proxy").json()["ok"], what="the proxy error")

    driver = browser
    wait = WebDriverWait(driver, 20)
    driver.get(f"http://127.0.0.1:{root.admin_port}/")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    driver.find_element(By.ID, "token").send_keys(root.token())
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(lambda d: d.find_element(By.ID, "proxy-error").is_displayed())
    text = driver.find_element(By.ID, "proxy-error").text
    assert 'unknown directive "proxy_bogus_directive"' in text, text
    assert text.startswith("Proxy error:")

    with open(tenant_tpl, "w") as f:
        f.write(original)
    root.proc.send_signal(signal.SIGHUP)
    wait.until(lambda d: not d.find_element(By.ID, "proxy-error").is_displayed())
    assert root.get("/v1/proxy").json()["ok"] is True
