"""
GET /v1/tenants filtered and paged (state, plan, q, sort=unhealthy, limit,
after, offset; X-Total-Count and X-Next-After), its errors naming the bad
parameter, and tenantctl status --state / --plan, on a few tenants of the
test worker (tests/helpers/miniworker.c).
"""
import json

from tenantd_test import helper, wait_for


def mini(**extra):
    w = {"command": helper("miniworker"), "socket": "passed"}
    w.update(extra)
    return {"worker": w}


def ids(resp):
    assert resp.status == 200, resp.text
    return [t["id"] for t in resp.json()]


def setup_tenants(root):
    for tid in ("alpha", "bravo", "charlie", "delta", "echo"):
        root.add_tenant(tid, plan="starter" if tid in ("alpha", "delta") else "professional",
                        **mini())
    root.start()
    root.tenantctl("stop", "bravo")
    root.wait_state("bravo", "stopped")


def test_list_filters_and_pages(root):
    setup_tenants(root)
    assert ids(root.get("/v1/tenants")) == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert ids(root.get("/v1/tenants?state=stopped")) == ["bravo"]
    assert ids(root.get("/v1/tenants?state=running,stopped&plan=starter")) == ["alpha", "delta"]
    assert ids(root.get("/v1/tenants?q=HARL")) == ["charlie"]
    assert ids(root.get("/v1/tenants?q=Cabinet+Delt")) == ["delta"]
    assert ids(root.get("/v1/tenants?q=%63harlie")) == ["charlie"]

    r = root.get("/v1/tenants?limit=2")
    assert r.headers.get("x-total-count") == "5"
    assert r.headers.get("x-next-after") == "bravo"
    assert ids(r) == ["alpha", "bravo"]
    r = root.get("/v1/tenants?limit=2&after=bravo")
    assert r.headers.get("x-next-after") == "delta"
    assert ids(r) == ["charlie", "delta"]
    r = root.get("/v1/tenants?limit=2&after=delta")
    assert r.headers.get("x-next-after") is None
    assert ids(r) == ["echo"]
    r = root.get("/v1/tenants?state=running&limit=1")
    assert r.headers.get("x-total-count") == "4"
    assert len(ids(r)) == 1
    assert ids(root.get("/v1/tenants?offset=3&limit=10")) == ["delta", "echo"]


def test_list_unhealthy_first(root):
    root.add_tenant("alpha", **mini())
    root.add_tenant("zulu", **mini())
    root.start()
    # An invalid file leaves zulu running on its last good config, flagged.
    root.write_file(root.tenant_file("zulu"), "[tenant]\nname = Zulu\nplan = nosuchplan\n")
    root.tenantctl("reload", check=False)
    wait_for(lambda: root.status("zulu")["config_error"], what="zulu's config error")
    assert ids(root.get("/v1/tenants?sort=unhealthy")) == ["zulu", "alpha"]
    assert ids(root.get("/v1/tenants")) == ["alpha", "zulu"]


def test_list_bad_parameters_are_named(root):
    root.add_tenant("alpha", **mini())
    root.start()
    for query, word in (("state=sleeping", "state"), ("limit=0", "limit"),
                        ("limit=abc", "limit"), ("limit=10001", "limit"),
                        ("after=Bad!", "after"), ("sort=name", "sort"),
                        ("offset=-1", "offset"), ("sort=unhealthy&after=alpha", "after"),
                        ("q=%0a", "q"), ("q=%zz", "q")):
        r = root.get("/v1/tenants?" + query)
        assert r.status == 400, query
        body = r.json()
        assert body["detail"].startswith(word), (query, body)


def test_tenantctl_status_filters(root):
    setup_tenants(root)
    out = root.tenantctl("status", "--json", "--state", "stopped")
    assert [t["id"] for t in json.loads(out.stdout)] == ["bravo"]
    out = root.tenantctl("status", "--json", "--plan", "starter")
    assert [t["id"] for t in json.loads(out.stdout)] == ["alpha", "delta"]
    out = root.tenantctl("status", "--state", "running", "--plan", "professional")
    assert "charlie" in out.stdout and "echo" in out.stdout
    assert "alpha" not in out.stdout and "bravo" not in out.stdout
    bad = root.tenantctl("status", "--state", "sleeping", check=False)
    assert bad.returncode != 0
    assert "state" in bad.stderr


def test_dashboard_search_filter_and_pages(root, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    setup_tenants(root)
    driver = browser
    wait = WebDriverWait(driver, 20)
    driver.get(f"http://127.0.0.1:{root.admin_port}/")
    wait.until(lambda d: d.find_element(By.ID, "login").is_displayed())
    driver.find_element(By.ID, "token").send_keys(root.token())
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()

    def rows(d):  # in one script: the table is redrawn every 2 s
        return d.execute_script("return Array.from(document.querySelectorAll("
                                "'#tenants tr[data-id]'), (e) => e.dataset.id);")
    wait.until(lambda d: len(rows(d)) == 5)
    wait.until(lambda d: "1–5 of 5" in d.execute_script(
        "return document.getElementById('page').textContent;"))
    Select(driver.find_element(By.ID, "state-filter")).select_by_visible_text("stopped")
    wait.until(lambda d: rows(d) == ["bravo"])
    Select(driver.find_element(By.ID, "state-filter")).select_by_visible_text("every state")
    driver.find_element(By.ID, "q").send_keys("Cabinet Ch")
    wait.until(lambda d: rows(d) == ["charlie"])
