"""
The status page an operator keeps open (issue 18): tenantd's admin page at
GET / in both languages, unhealthy tenants first, confirmations, UTC, and
per-tenant charts from the history tenantd keeps in state.db
(GET /v1/tenants/<id>/history). Real tenantd, real workers, Debian's nginx in
managed mode (requests per second come from its access log), real SQLite,
and Debian's Chromium for the page (screenshots under ARTIFACTS).
"""
import html.parser
import http.client
import json
import os
import re
import sqlite3
import time

import pytest

from tenantd_test import ARTIFACTS, REPO, UnixHTTPConnection, http_request, wait_for

PAGE = os.path.join(REPO, "templates", "admin", "index.html")
STATES = ("running", "starting", "stopping", "backoff", "failed", "stopped", "suspended", "idle")
ACTIONS = ("start", "stop", "restart", "suspend", "resume", "offboard", "history", "hide")
# supervisor/tenantd/alerts.c's kinds, each named on the page in both languages.
ALERT_KINDS = ("tenant_failed", "restart_loop", "storage_near_limit", "backup_missed",
               "proxy_config_refused", "cert_expiry", "offsite_failed")


# ---- every string in both languages -------------------------------------------------------

class _Keys(html.parser.HTMLParser):
    """The i18n dictionaries and every key the markup names."""

    def __init__(self):
        super().__init__()
        self.used, self.dict_text, self._in_dict = set(), "", False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("data-i18n", "data-i18n-placeholder", "data-i18n-title"):
            if a.get(k):
                self.used.add(a[k])
        self._in_dict = tag == "script" and a.get("id") == "i18n"

    def handle_endtag(self, tag):
        self._in_dict = False

    def handle_data(self, data):
        if self._in_dict:
            self.dict_text += data


def missing_keys(text):
    """{lang: sorted keys used by the page but missing in that language}."""
    p = _Keys()
    p.feed(text)
    langs = json.loads(p.dict_text)
    script = text[text.rindex("<script>"):]
    used = set(p.used) | set(re.findall(r'\bt\("([a-z_0-9]+)"\s*[,)]', script))
    # Keys built at run time: "state_" + state, "act_" + action, ...
    used |= {f"state_{s}" for s in STATES} | {f"act_{a}" for a in ACTIONS}
    used |= {f"confirm_{a}" for a in ("stop", "suspend", "offboard")}
    used |= {f"chart_{c}" for c in ("memory", "cpu", "requests", "restarts")}
    used |= {f"alert_{k}" for k in ALERT_KINDS}
    assert set(langs) == {"en", "fr"}
    out = {}
    for lang, d in langs.items():
        assert all(isinstance(v, str) and v.strip() for v in d.values()), lang
        gone = sorted((used | set(langs["en"]) | set(langs["fr"])) - set(d))
        if gone:
            out[lang] = gone
    return out


def test_every_string_in_both_languages():
    with open(PAGE, encoding="utf-8") as f:
        assert missing_keys(f.read()) == {}


def test_a_missing_key_is_seen():
    with open(PAGE, encoding="utf-8") as f:
        text = f.read()
    # Drop one French entry and add a key the script uses in neither.
    broken = re.sub(r'"state_idle": "en veille"', '"zz_unused": "x"', text, count=1)
    assert broken != text
    broken = broken.replace('t("none")', 't("nowhere_key")', 1)
    out = missing_keys(broken)
    assert "state_idle" in out["fr"] and "nowhere_key" in out["fr"] and "nowhere_key" in out["en"]
    assert "zz_unused" in out["en"]


# ---- the history ------------------------------------------------------------------------

def via_proxy(root, host, path="/healthz"):
    conn = http.client.HTTPConnection("127.0.0.1", root.proxy_port, timeout=5)
    return http_request(conn, "GET", path, headers={"Host": host})


def history(root, tid, **q):
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    return root.get(f"/v1/tenants/{tid}/history" + (f"?{qs}" if qs else ""))


def with_history(root, *ids):
    root.write_global(tenantd={"history_every": "1s"}, proxy={"mode": "managed"})
    for tid in ids:
        root.add_tenant(tid)


def traffic(root, host, n=40):
    """n requests through nginx, all answered 200."""
    for _ in range(n):
        assert via_proxy(root, host).status == 200


def test_history_on_disk_with_requests_and_pruning(root):
    with_history(root, "dupont", "martin")
    root.start()
    wait_for(lambda: via_proxy(root, "dupont.localhost").status == 200, timeout=20,
             what="dupont through nginx")

    def busy_point():
        traffic(root, "dupont.localhost", 20)
        pts = history(root, "dupont").json()["points"]
        return pts if any((p["requests_per_s"] or 0) > 0 for p in pts) else None
    pts = wait_for(busy_point, timeout=30, what="requests per second in dupont's history")
    assert all(p["rss_bytes"] > 0 and p["state"] == "running" for p in pts[1:]), pts
    assert [p["t"] for p in pts] == sorted(p["t"] for p in pts)
    # martin had no traffic: its samples say 0 requests per second, not null.
    mp = wait_for(lambda: (lambda p: p if len(p) >= 2 else None)(history(root, "martin").json()["points"]),
                  timeout=20, what="martin's samples")
    assert all(p["requests_per_s"] in (None, 0) for p in mp) and mp[-1]["requests_per_s"] == 0

    # On disk: the history table of state.db, read with SQLite itself.
    db = sqlite3.connect(os.path.join(root.run_dir, "state.db"), timeout=5)
    try:
        n = db.execute("SELECT count(*) FROM history WHERE tenant = 'dupont'").fetchone()[0]
        assert n >= 2
        # A sample older than the kept 24 h is pruned by the next round.
        old = int(time.time() * 1000) - 25 * 3600 * 1000
        db.execute("INSERT INTO history VALUES ('dupont', ?, 'running', 1, 0, 0, 0, 0)", (old,))
        db.commit()
        wait_for(lambda: db.execute("SELECT count(*) FROM history WHERE t = ?",
                                    (old,)).fetchone()[0] == 0,
                 timeout=20, what="the old sample pruned")
    finally:
        db.close()

    # A day of 1 s samples is read off the loop; a client that goes away
    # before its answer leaves tenantd serving.
    db = sqlite3.connect(os.path.join(root.run_dir, "state.db"), timeout=5)
    now = int(time.time() * 1000)
    db.executemany("INSERT OR REPLACE INTO history VALUES ('martin', ?, 'running', 1, 0, 0, 0, 0)",
                   [(now - 86000_000 + i * 1000,) for i in range(80000)])
    db.commit()
    db.close()
    for _ in range(5):
        c = UnixHTTPConnection(os.path.join(root.run_dir, "admin.sock"), timeout=5)
        c.request("GET", "/v1/tenants/martin/history")
        c.close()
    full = history(root, "martin").json()["points"]
    assert 200 <= len(full) <= 288, len(full)
    assert root.status("martin")["state"] == "running"

    # since: later samples only; a future one gives none.
    last = pts[-1]["t"]
    later = history(root, "dupont", since=last).json()["points"]
    assert later and all(p["t"] >= last for p in later)
    assert history(root, "dupont", since=int(time.time()) + 3600).json()["points"] == []
    # Bad input is named.
    r = history(root, "dupont", since="yesterday")
    assert r.status == 400 and "since" in r.json()["detail"]
    assert history(root, "ghost").status == 404
    assert history(root, "..%2fetc").status == 400


def test_history_off(root):
    root.write_global(tenantd={"history_every": "0"})
    root.add_tenant("dupont")
    root.start()
    r = history(root, "dupont")
    assert r.status == 503 and "history_every" in r.json()["detail"]


# ---- the page in Chromium ---------------------------------------------------------------

def set_view(driver, width, lang=None):
    """The viewport (a phone at 390 px is a mobile one) and the browser's languages."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": 900 if width > 500 else 844, "deviceScaleFactor": 1,
        "mobile": width <= 500})
    if lang:
        ua = driver.execute_script("return navigator.userAgent")
        driver.execute_cdp_cmd("Network.setUserAgentOverride",
                               {"userAgent": ua, "acceptLanguage": lang})


def no_sideways_scroll(driver):
    return driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")


def shot(driver, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, name))


def test_status_page_in_chromium(root, browser):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    with_history(root, "dupont", "martin")
    # A tenant whose worker cannot start: it must be listed first.
    root.add_tenant("zeta", name="Zeta & Fils", worker={"command": "/bin/false", "socket": "own"})
    root.start(wait_ids=["dupont", "martin"])
    wait_for(lambda: root.status("zeta")["state"] in ("backoff", "failed"), timeout=20,
             what="zeta in backoff")
    wait_for(lambda: via_proxy(root, "dupont.localhost").status == 200, timeout=20,
             what="dupont through nginx")

    def busy():
        traffic(root, "dupont.localhost", 20)
        pts = history(root, "dupont").json()["points"]
        return any((p["requests_per_s"] or 0) > 0 for p in pts)
    wait_for(busy, timeout=30, what="requests in dupont's history")

    d = browser
    wait = WebDriverWait(d, 20, ignored_exceptions=(StaleElementReferenceException,))

    # The table is re-rendered at each refresh (2 s): an element found just
    # before one is stale when used, which only means "find it again".
    def text(css):
        return wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).text or " ").strip()

    def click(css):
        def go(d):
            d.find_element(By.CSS_SELECTOR, css).click()
            return True
        wait.until(go)

    def attr(css, name):
        return wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute(name))

    def row_ids():
        return wait.until(lambda d: [r.get_attribute("data-id") for r in
                                     d.find_elements(By.CSS_SELECTOR, "tr.tenant")] or None)

    # French, from the browser's Accept-Language, at 1280 px.
    set_view(d, 1280, "fr-FR,fr;q=0.9")
    d.get(f"http://127.0.0.1:{root.admin_port}/")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    assert d.execute_script("return document.documentElement.lang") == "fr"
    assert text("#login h2") == "Jeton d'administration"
    d.find_element(By.ID, "token").send_keys(root.token())
    d.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(lambda d: d.find_elements(By.ID, "row-martin"))
    assert "UTC" in text("header") and "24 h" in text("header")
    wait.until(lambda d: text("#row-dupont .state") == "en service")
    assert row_ids() == ["zeta", "dupont", "martin"]  # unhealthy first, then by id
    assert "unhealthy" in attr("#row-zeta", "class")
    assert "à surveiller" in text("#summary")
    sw, iw = no_sideways_scroll(d)
    if sw > iw:
        shot(d, "status-page-overflow.png")
    assert iw == 1280 and sw <= iw, (sw, iw)

    # Search and the state filter.
    d.find_element(By.ID, "q").send_keys("mart")
    wait.until(lambda d: row_ids() == ["martin"])
    d.find_element(By.ID, "q").clear()
    d.execute_script("const s = document.getElementById('q'); s.value = '';"
                     "s.dispatchEvent(new Event('input'))")
    Select(d.find_element(By.ID, "state-filter")).select_by_value("unhealthy")
    wait.until(lambda d: row_ids() == ["zeta"])
    Select(d.find_element(By.ID, "state-filter")).select_by_value("")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.tenant")) == 3)

    # Paging (50 rows a page; 2 here, through the table's data-page-size).
    d.execute_script("document.getElementById('tenants-table').dataset.pageSize = '2'")
    wait.until(lambda d: row_ids() == ["zeta", "dupont"])
    assert text("#page") == "1–2 sur 3"
    click("#next")
    wait.until(lambda d: row_ids() == ["martin"])
    assert text("#page") == "3–3 sur 3"
    click("#prev")
    wait.until(lambda d: row_ids() == ["zeta", "dupont"])
    d.execute_script("delete document.getElementById('tenants-table').dataset.pageSize")
    wait.until(lambda d: row_ids() == ["zeta", "dupont", "martin"])

    # Charts with data, from the history.
    click("#row-dupont button[data-action=history]")
    for c in ("memory", "cpu", "requests", "restarts"):
        wait.until(lambda d, c=c: d.find_elements(
            By.CSS_SELECTOR, f"#charts-dupont .chart-{c} svg polyline"))
    n = int(attr("#charts-dupont .chart-memory svg", "data-points"))
    assert n >= 2
    assert text("#charts-dupont .chart-requests .title").startswith("Requêtes/s")
    assert re.search(r"[0-2]\d:[0-5]\d:[0-5]\d", text("#charts-dupont .chart-memory .axis"))
    sw, iw = no_sideways_scroll(d)
    assert sw <= iw, (sw, iw)
    shot(d, "status-page-fr-1280.png")

    # Stop: cancel does nothing, confirm stops. The dialog names the tenant.
    def dialog_for(tid, action):
        click(f"#row-{tid} button[data-action={action}]")
        wait.until(lambda d: d.find_element(By.ID, "confirm").is_displayed())
        assert tid in text("#confirm-text")
        return text("#confirm-text")

    msg = dialog_for("martin", "stop")
    assert "Cabinet Martin" in msg and msg.startswith("Arrêter")
    shot(d, "status-page-confirm.png")
    d.find_element(By.ID, "confirm-cancel").click()
    wait.until(lambda d: not d.find_element(By.ID, "confirm").is_displayed())
    # The next refreshes pass; still running, and nothing in the audit log.
    wait.until(lambda d: "mis à jour" in text("#conn"))
    pid = root.status("martin")["pid"]
    time_marker = text("#conn")
    wait.until(lambda d: text("#conn") != time_marker)
    assert root.status("martin")["state"] == "running" and root.status("martin")["pid"] == pid
    assert not [e for e in root.get("/v1/events").json()
                if e["tenant"] == "martin" and e["action"] == "stop"]
    dialog_for("martin", "stop")
    d.find_element(By.ID, "confirm-ok").click()
    root.wait_state("martin", "stopped")
    # Event times: UTC, 24-hour, no AM/PM.
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#events td.time"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d [0-2]\d:[0-5]\d:[0-5]\d", text("#events td.time"))

    # Suspend: the same.
    dialog_for("dupont", "suspend")
    d.find_element(By.ID, "confirm-cancel").click()
    wait.until(lambda d: not d.find_element(By.ID, "confirm").is_displayed())
    assert root.status("dupont")["state"] == "running"
    dialog_for("dupont", "suspend")
    d.find_element(By.ID, "confirm-ok").click()
    root.wait_state("dupont", "suspended")

    # Offboard: cancel keeps the tenant, confirm removes it.
    dialog_for("martin", "offboard")
    d.find_element(By.ID, "confirm-cancel").click()
    wait.until(lambda d: not d.find_element(By.ID, "confirm").is_displayed())
    assert "martin" in [x["id"] for x in root.status()]
    dialog_for("martin", "offboard")
    d.find_element(By.ID, "confirm-ok").click()
    wait_for(lambda: "martin" not in [x["id"] for x in root.status()], timeout=20,
             what="martin offboarded")
    wait.until(lambda d: not d.find_elements(By.ID, "row-martin"))

    # The phone, still in French.
    set_view(d, 390)
    wait.until(lambda d: d.execute_script("return window.innerWidth") == 390)
    wait.until(lambda d: no_sideways_scroll(d)[0] <= 390)
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#row-dupont .state").is_displayed())
    shot(d, "status-page-fr-390.png")

    # English by the switch; it sticks across a reload though the browser asks for French.
    Select(d.find_element(By.ID, "lang")).select_by_value("en")
    wait.until(lambda d: text("#row-dupont .state") == "suspended")
    d.refresh()
    wait.until(lambda d: d.find_elements(By.ID, "row-dupont"))
    assert d.execute_script("return document.documentElement.lang") == "en"
    assert "All times UTC" in text("header")
    wait.until(lambda d: no_sideways_scroll(d)[0] <= 390)
    shot(d, "status-page-en-390.png")
    set_view(d, 1280)
    wait.until(lambda d: d.execute_script("return window.innerWidth") == 1280)
    click("#row-dupont button[data-action=history]")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#charts-dupont .chart-memory svg polyline"))
    assert text("#charts-dupont .chart-requests .title").startswith("Requests/s")
    sw, iw = no_sideways_scroll(d)
    assert sw <= iw, (sw, iw)
    shot(d, "status-page-en-1280.png")


def test_active_alerts_on_the_status_page(root, browser):
    """Active alerts (GET /v1/alerts) are listed on the page, the kind in the
    reader's language, and leave it when their condition clears."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    from tenantd_test import helper
    root.write_global(alerts={"check_every": "200ms"})
    port = root.add_tenant("crash", name="Cabinet Crash",
                           worker={"command": helper("exit78"), "socket": "passed"})
    root.add_tenant("dupont", worker={"command": helper("miniworker"), "socket": "passed"})
    root.start(wait_ids=["dupont"])
    root.wait_state("crash", "failed")
    wait_for(lambda: [a for a in root.get("/v1/alerts").json()["active"]
                      if a["tenant"] == "crash" and a["kind"] == "tenant_failed"],
             what="crash's alert")

    d = browser
    wait = WebDriverWait(d, 20, ignored_exceptions=(StaleElementReferenceException,))

    def text(css):
        return wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).text or " ").strip()

    set_view(d, 1280, "fr-FR,fr;q=0.9")
    d.get(f"http://127.0.0.1:{root.admin_port}/")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    d.find_element(By.ID, "token").send_keys(root.token())
    d.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(lambda d: d.find_element(By.ID, "alerts-section").is_displayed())
    row = "#alerts tr[data-kind=tenant_failed][data-tenant=crash]"
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row))
    assert text("#alerts-section h2") == "Alertes en cours"
    assert text(f"{row} td.kind") == "client en échec"
    assert text(f"{row} td.detail").startswith("the tenant is failed")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d [0-2]\d:[0-5]\d:[0-5]\d", text(f"{row} td.time"))
    assert text("#alert-deliveries").startswith("Messages d'alerte : 0 envoyés")
    shot(d, "status-page-alerts-fr.png")
    Select(d.find_element(By.ID, "lang")).select_by_value("en")
    wait.until(lambda d: text(f"{row} td.kind") == "tenant failed")
    set_view(d, 390)
    wait.until(lambda d: d.execute_script("return window.innerWidth") == 390)
    wait.until(lambda d: no_sideways_scroll(d)[0] <= 390)
    shot(d, "status-page-alerts-en-390.png")

    # Fixed: the tenant runs again, the alert recovers and leaves the page.
    root.add_tenant("crash", port=port, name="Cabinet Crash",
                    worker={"command": helper("miniworker"), "socket": "passed"})
    root.tenantctl("reload")
    root.tenantctl("start", "crash")
    root.wait_state("crash", "running")
    wait.until(lambda d: not d.find_element(By.ID, "alerts-section").is_displayed())
    assert not d.find_elements(By.CSS_SELECTOR, row)


def test_history_survives_an_upgrade_in_place(root):
    """Sampling every second while tenantd re-execs itself: the samples from
    before are still served after, and new ones keep coming."""
    root.write_global(tenantd={"history_every": "1s"})
    root.add_tenant("dupont")
    root.start()
    before = wait_for(lambda: (lambda p: p if len(p) >= 2 else None)(
        history(root, "dupont").json()["points"]), timeout=20, what="samples")
    root.tenantctl("upgrade")
    assert root.get("/v1/upgrade").json()["exec_count"] == 1
    after = wait_for(lambda: (lambda p: p if p[-1]["t"] > before[-1]["t"] + 1 else None)(
        history(root, "dupont").json()["points"]), timeout=20, what="samples after the upgrade")
    assert before[0]["t"] == after[0]["t"]
