"""
ACME certificates per tenant ([acme], supervisor/tenantd/acme.c) against a real ACME
server: Debian's pebble, on loopback with its own TLS certificate, validating http-01
through tenantd's managed nginx (pebble's httpPort = the proxy's port), its DNS answered
by pebble-challtestsrv (every name -> 127.0.0.1). tenantd drives Debian's lego.

Shown: two firms get their own certificate, served by name (SNI) and trusted through
pebble's root only; plain HTTP then redirects; a refusal (pebble's domainBlocklist)
leaves that firm on HTTP with the error and a retry in status, the others unaffected;
a short lifetime (certificateValidityPeriod) is renewed and swapped under a bounded
loopback load without a failed request.
"""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import urllib.request

import pytest

from tenantd_test import binpath, free_port_block, helper, http_request, wait_for

PEBBLE = shutil.which("pebble")
CHALLTESTSRV = shutil.which("pebble-challtestsrv")
LEGO = shutil.which("lego")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CURL = shutil.which("curl")

pytestmark = pytest.mark.skipif(
    None in (PEBBLE, CHALLTESTSRV, LEGO, CURL) or not os.path.exists(NGINX),
    reason="pebble, pebble-challtestsrv, lego, curl and nginx are needed (make deps)")

LIFETIME_S = 30  # pebble's certificateValidityPeriod: renewal after half of it


def ports_outside(root, n):
    """n free consecutive ports outside the root's block (its port_range, admin and
    proxy ports), which tenantd would refuse or hand to a tenant."""
    for _ in range(50):
        base = free_port_block(n)
        if base + n <= root.port_min or base > root.proxy_port:
            return base
    raise AssertionError("no free port block outside the tenant range")


class Pebble:
    """pebble and pebble-challtestsrv, started by the test on loopback, ended by pid."""

    def __init__(self, tmp, root, blocklist):
        self.tmp = tmp
        self.procs = []
        http_port = root.proxy_port
        base = ports_outside(root, 5)
        self.port, self.mgmt, self.dns, self.dns_mgmt, self.tls01 = range(base, base + 5)
        self.ca = tmp / "pebble-tls.pem"
        key = tmp / "pebble-tls.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=pebble", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", str(key), "-out", str(self.ca)],
                       check=True, capture_output=True)
        cfg = tmp / "pebble.json"
        cfg.write_text(json.dumps({"pebble": {
            "listenAddress": f"127.0.0.1:{self.port}",
            "managementListenAddress": f"127.0.0.1:{self.mgmt}",
            "certificate": str(self.ca), "privateKey": str(key),
            "httpPort": http_port, "tlsPort": self.tls01,
            "ocspResponderURL": "", "externalAccountBindingRequired": False,
            "domainBlocklist": blocklist,
            "certificateValidityPeriod": LIFETIME_S}}))
        env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        log = open(tmp / "pebble.log", "ab")
        self.procs.append(subprocess.Popen(
            [CHALLTESTSRV, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-dns01", f"127.0.0.1:{self.dns}", "-http01", "", "-https01", "",
             "-tlsalpn01", "", "-management", f"127.0.0.1:{self.dns_mgmt}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        self.procs.append(subprocess.Popen(
            [PEBBLE, "-config", str(cfg), "-dnsserver", f"127.0.0.1:{self.dns}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env))
        self.ctx = ssl.create_default_context(cafile=str(self.ca))
        wait_for(lambda: self.get(f"https://127.0.0.1:{self.port}/dir"), timeout=20,
                 what="pebble's directory")

    @property
    def directory(self):
        return f"https://127.0.0.1:{self.port}/dir"

    def get(self, url):
        try:
            with urllib.request.urlopen(url, context=self.ctx, timeout=5) as r:
                return r.read()
        except OSError:
            return None

    def root_pem(self):
        """The root pebble issues under (made at its start), from its management API."""
        path = self.tmp / "pebble-root.pem"
        path.write_bytes(self.get(f"https://127.0.0.1:{self.mgmt}/roots/0"))
        return path

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def pebble_for(tmp_path):
    made = []

    def make(root, blocklist=()):
        p = Pebble(tmp_path, root, list(blocklist))
        made.append(p)
        return p
    yield make
    for p in made:
        p.stop()


def add(root, tid):
    if os.access(binpath("tenant-worker"), os.X_OK):
        return root.add_tenant(tid, name=f"Cabinet {tid.capitalize()}")
    return root.add_tenant(tid, name=f"Cabinet {tid.capitalize()}",
                           worker={"command": helper("echoworker"), "socket": "passed"})


def cert_of(root, tid):
    return root.status(tid)["cert"]


def served_cert(tls_port, host, cafile):
    """The certificate nginx shows for host (SNI), verified against cafile."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            return t.getpeercert()


def via_proxy(root, host):
    conn = http.client.HTTPConnection("127.0.0.1", root.proxy_port, timeout=5)
    return http_request(conn, "GET", "/", headers={"Host": host})


def test_acme_issues_serves_refuses_and_renews(root, pebble_for):
    pb = pebble_for(root, blocklist=["refused.localhost"])
    tls_port = ports_outside(root, 1)  # pebble's ports are bound by now
    root.write_global(
        proxy={"mode": "managed", "tls_port": str(tls_port)},
        acme={"enabled": "true", "directory": pb.directory, "email": "ops@example.org",
              "ca_bundle": str(pb.ca), "renew_fraction": "0.5",
              "retry_min": "20s", "retry_max": "1m", "timeout": "30s"})
    for tid in ("dupont", "martin", "refused"):
        add(root, tid)
    root.start()

    # Onboarding does not wait for the certificate: it says it is pending.
    out = root.tenantctl("onboard", "durand", "Cabinet Durand", "professional").stdout
    # (Unless durand's issuance, fourth in the queue, already ended, on a fast machine.)
    assert "https:    certificate pending; plain HTTP until it is issued" in out or \
        cert_of(root, "durand")["issued"] >= 1, out

    # Every firm gets a certificate; the refused one an error and a retry.
    for tid in ("dupont", "martin", "durand"):
        wait_for(lambda: cert_of(root, tid)["state"] == "valid", timeout=30,
                 what=f"{tid}'s certificate")
    c = wait_for(lambda: (lambda c: c if c["state"] == "error" else None)(
        cert_of(root, "refused")), timeout=30, what="the refusal in status")
    assert "refused.localhost" in c["last_error"] or "rejected" in c["last_error"].lower(), c
    assert c["next_attempt_in_s"] is not None and 0 < c["next_attempt_in_s"] <= 60, c
    assert c["not_after"] is None

    root_pem = pb.root_pem()
    for tid in ("dupont", "martin"):
        host = f"{tid}.localhost"
        # The new server block is live once nginx has reloaded on it.
        r = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(subprocess.run(
            [CURL, "-sS", "--max-time", "5", "--cacert", str(root_pem), "--resolve",
             f"{host}:{tls_port}:127.0.0.1", "-w", "\n%{http_code}",
             f"https://{host}:{tls_port}/"], capture_output=True, text=True, timeout=15)),
            timeout=20, what=f"HTTPS for {host}")
        assert r.stdout.endswith("\n200"), r.stdout[-200:]
        assert f"Cabinet {tid.capitalize()}" in r.stdout
        names = [v for k, v in served_cert(tls_port, host, root_pem)["subjectAltName"]]
        assert names == [host]
        # Plain HTTP now redirects to HTTPS (once nginx's old workers are gone).
        r = wait_for(lambda: (lambda r: r if r.status == 301 else None)(via_proxy(root, host)),
                     timeout=10, what=f"http://{host}/ to redirect")
        assert r.headers["location"] == f"https://{host}:{tls_port}/"

    # The refused firm stays on plain HTTP, no TLS name for it.
    r = via_proxy(root, "refused.localhost")
    assert r.status == 200 and "Cabinet Refused" in r.text
    with pytest.raises(ssl.SSLError):
        served_cert(tls_port, "refused.localhost", root_pem)

    # Keys stay root's, in a folder only root may enter.
    acme_dir = os.path.join(root.run_dir, "acme")
    assert os.stat(acme_dir).st_mode & 0o777 == 0o700
    [pem] = [os.path.join(acme_dir, "live", f) for f in os.listdir(os.path.join(acme_dir, "live"))
             if f.startswith("dupont.")]
    assert os.stat(pem).st_mode & 0o777 == 0o600 and os.stat(pem).st_uid == 0

    # An issuance is audited.
    events = json.loads(root.get("/v1/events").body)
    assert any(e.get("tenant") == "dupont" and "issued" in json.dumps(e) for e in events)

    # Renewal at half the lifetime, under a bounded load over TLS: no request fails,
    # and the certificate served afterwards is the new one.
    first = cert_of(root, "dupont")
    old_serial = served_cert(tls_port, "dupont.localhost", root_pem)["serialNumber"]
    failures, done, stop = [], [0], threading.Event()
    ctx = ssl.create_default_context(cafile=str(root_pem))

    def load():
        for _ in range(20000):
            if stop.is_set():
                return
            try:
                conn = http.client.HTTPConnection("127.0.0.1", tls_port, timeout=5)
                sock = socket.create_connection(("127.0.0.1", tls_port), timeout=5)
                conn.sock = ctx.wrap_socket(sock, server_hostname="dupont.localhost")
                conn.request("GET", "/", headers={"Host": f"dupont.localhost:{tls_port}"})
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status != 200:
                    failures.append(resp.status)
                done[0] += 1
            except OSError as e:
                failures.append(repr(e))

    t = threading.Thread(target=load)
    t.start()
    try:
        wait_for(lambda: cert_of(root, "dupont")["not_after"] != first["not_after"],
                 timeout=LIFETIME_S + 15, interval=0.2, what="the renewal of dupont")
        wait_for(lambda: served_cert(tls_port, "dupont.localhost", root_pem)["serialNumber"]
                 != old_serial, timeout=15, what="nginx serving the renewed certificate")
    finally:
        stop.set()
        t.join(timeout=30)
    assert done[0] > 0
    assert failures == [], failures[:5]
    assert cert_of(root, "dupont")["issued"] >= 2
    assert cert_of(root, "martin")["state"] == "valid"

    # tenantctl cert, /metrics, and a forced renewal.
    out = root.tenantctl("cert", "dupont").stdout
    assert out.startswith("dupont: valid, expires ") and "next attempt in" in out, out
    out = root.tenantctl("cert", "refused").stdout
    assert out.startswith("refused: error: ") and "next attempt in" in out, out
    metrics = root.get("/metrics").text
    assert 'tenantd_tenant_cert_expiry_seconds{tenant="dupont"}' in metrics
    assert 'tenantd_tenant_cert_expiry_seconds{tenant="refused"}' not in metrics
    issued = cert_of(root, "martin")["issued"]
    assert json.loads(root.tenantctl("cert", "martin", "--renew", "--json").stdout)["id"] == \
        "martin"
    wait_for(lambda: cert_of(root, "martin")["issued"] > issued, timeout=20,
             what="martin's renewal on demand")

    # A suspended firm keeps its certificate: its page is served over HTTPS.
    root.tenantctl("suspend", "martin")
    r = wait_for(lambda: (lambda r: r if r.stdout.endswith("\n503") else None)(subprocess.run(
        [CURL, "-sS", "--max-time", "5", "--cacert", str(root_pem), "--resolve",
         f"martin.localhost:{tls_port}:127.0.0.1", "-w", "\n%{http_code}",
         f"https://martin.localhost:{tls_port}/"], capture_output=True, text=True, timeout=15)),
        timeout=15, what="martin's suspended page over HTTPS")
    assert cert_of(root, "martin")["state"] == "valid"

    # Offboarding stops the renewals.
    assert root.request("DELETE", "/v1/tenants/dupont").status == 200
    wait_for(lambda: "[dupont] acme: tenant gone" in root.log(), timeout=15,
             what="dupont's renewals to stop")
    assert not [f for f in os.listdir(os.path.join(acme_dir, "live")) if f.startswith("dupont.")]


def test_cert_expiry_alert_fires_once_and_recovers(root, pebble_for):
    """[alerts] cert_expiry: a certificate with less than that left is an alert
    (webhook, /v1/alerts), once; when it no longer holds, one recovered notice."""
    from test_alerts import Hook, secret_file
    hook = Hook()
    try:
        pb = pebble_for(root)
        tls_port = ports_outside(root, 1)
        # pebble's certificates live LIFETIME_S seconds: less than a day left.
        alerts = {"webhook": f"http://127.0.0.1:{hook.port}/hook",
                  "webhook_secret_file": secret_file(root), "check_every": "200ms",
                  "cert_expiry": "1d"}
        root.write_global(
            proxy={"mode": "managed", "tls_port": str(tls_port)},
            acme={"enabled": "true", "directory": pb.directory, "email": "ops@example.org",
                  "ca_bundle": str(pb.ca), "retry_min": "20s", "retry_max": "1m",
                  "timeout": "30s"},
            alerts=alerts)
        add(root, "dupont")
        add(root, "martin")
        root.start()

        def kinds(tid):
            return [j["event"] for _, _, j in hook.events("cert_expiry") if j["tenant"] == tid]
        wait_for(lambda: cert_of(root, "dupont")["state"] == "valid", timeout=30,
                 what="dupont's certificate")
        wait_for(lambda: kinds("dupont") == ["fired"], timeout=15, what="the alert")
        [(_, _, j)] = [e for e in hook.events("cert_expiry") if e[2]["tenant"] == "dupont"]
        assert j["detail"].startswith("the certificate for dupont expire"), j
        active = {(a["tenant"], a["kind"]) for a in root.get("/v1/alerts").json()["active"]}
        assert ("dupont", "cert_expiry") in active

        # Turned off: the condition no longer holds, one recovered notice each.
        root.write_global(alerts={"cert_expiry": "0"})
        root.tenantctl("reload")
        wait_for(lambda: kinds("dupont") == ["fired", "recovered"], timeout=15,
                 what="the recovery")
        active = {(a["tenant"], a["kind"]) for a in root.get("/v1/alerts").json()["active"]}
        assert not [a for a in active if a[1] == "cert_expiry"], active
    finally:
        hook.close()


def test_check_warns_past_the_weekly_limit(root):
    """tenantd -n: more per-subdomain certificates than the CA's weekly limit."""
    root.write_global(acme={"enabled": "true", "directory": "https://127.0.0.1:1/dir",
                            "email": "ops@example.org", "weekly_limit": "2"})
    for tid in ("dupont", "martin"):
        root.add_tenant(tid)
    r = subprocess.run([binpath("tenantd"), "-n", "-c", root.config], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and "weekly_limit" not in r.stderr, r.stderr
    root.add_tenant("durand")
    r = subprocess.run([binpath("tenantd"), "-n", "-c", root.config], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "[acme] 3 tenants need 3 certificates" in r.stderr
    assert "weekly_limit = 2" in r.stderr and "dns-01" in r.stderr
