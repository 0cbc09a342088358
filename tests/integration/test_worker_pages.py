"""
The firm's web pages in a real browser (headless Chromium through Selenium):
sign in, create an analysis, see it listed; the page carries the firm's name
and colour. A screenshot of the dashboard is kept for a human to look at.
"""
import os

import pytest

from tenantd_test import ARTIFACTS
from tenantd_test.worker import Worker

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def worker(request):
    w = Worker(CLIENT_NAME="Cabinet Dupont & Associés", CLIENT_COLOR="#8e2c48")
    yield w
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    w.cleanup(failed, request.node.name)


def test_login_analysis_dashboard(worker, browser):
    pw = worker.create_admin("maitre")
    worker.start()
    wait = WebDriverWait(browser, 15)
    browser.get(f"http://127.0.0.1:{worker.port}/")

    assert browser.title == "Cabinet Dupont & Associés"
    assert browser.find_element(By.ID, "firm-name").text == "Cabinet Dupont & Associés"
    bar = browser.find_element(By.CSS_SELECTOR, ".topbar")
    assert bar.value_of_css_property("background-color") in ("rgba(142, 44, 72, 1)", "rgb(142, 44, 72)")

    # A wrong password is refused in words, then the right one gets in.
    wait.until(EC.visibility_of_element_located((By.ID, "username"))).send_keys("maitre")
    browser.find_element(By.ID, "password").send_keys("not-the-password")
    browser.find_element(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "login-error").text != "")
    browser.find_element(By.ID, "password").clear()
    browser.find_element(By.ID, "password").send_keys(pw)
    browser.find_element(By.ID, "login-submit").click()
    wait.until(EC.visibility_of_element_located((By.ID, "app-view")))
    wait.until(lambda d: "/" in d.find_element(By.ID, "u-analyses").text)
    assert "maitre" in browser.find_element(By.ID, "who").text

    # Create an analysis and see it in the list.
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=analyses]").click()
    box = wait.until(EC.visibility_of_element_located((By.ID, "case-text")))
    box.send_keys("Recours contre une OQTF : conjoint de nationalité française, deux enfants scolarisés, "
                  "présence en France depuis 2014.")
    browser.find_element(By.CSS_SELECTOR, "#analysis-form button[type=submit]").click()
    wait.until(EC.visibility_of_element_located((By.ID, "analysis-result")))
    row = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#analyses-list tr[data-id]")))
    assert "%" in row.text

    # A deadline and an invoice make the dashboard worth a look.
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=deadlines]").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#deadline-type option"))
    browser.find_element(By.ID, "deadline-desc").send_keys("Recours OQTF — M. K.")
    # The rule in force is shown before computing: article, franc or not, and
    # "à confirmer" when the texts read did not settle it.
    wait.until(lambda d: "L. 911-1" in d.find_element(By.ID, "deadline-rule").text)
    assert "à confirmer" in browser.find_element(By.ID, "deadline-rule").text
    browser.find_element(By.CSS_SELECTOR, "#deadline-form button[type=submit]").click()
    wait.until(lambda d: "OQTF" in d.find_element(By.ID, "deadlines-list").text)
    result = wait.until(EC.visibility_of_element_located((By.ID, "deadline-result"))).text
    assert "Règle appliquée" in result and "délai non franc" in result
    os.makedirs(ARTIFACTS, exist_ok=True)
    assert browser.save_screenshot(os.path.join(ARTIFACTS, "worker-deadlines.png"))

    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=invoices]").click()
    wait.until(EC.visibility_of_element_located((By.ID, "invoice-client"))).send_keys("M. Karim B.")
    browser.find_element(By.CSS_SELECTOR, "#invoice-items [name=description]").send_keys("Consultation et recours")
    browser.find_element(By.CSS_SELECTOR, "#invoice-items [name=unit_price]").send_keys("450")
    browser.find_element(By.CSS_SELECTOR, "#invoice-form button[type=submit]").click()
    wait.until(lambda d: "Karim" in d.find_element(By.ID, "invoices-list").text)
    browser.find_element(By.CSS_SELECTOR, "#invoices-list button").click()
    wait.until(lambda d: "12345678901234" in d.find_element(By.ID, "print-body").text)

    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=dashboard]").click()
    wait.until(lambda d: "Recours" in d.find_element(By.ID, "dash-deadlines").text)
    wait.until(lambda d: "#" in d.find_element(By.ID, "dash-analyses").text)
    assert browser.find_element(By.ID, "app-error").text == ""
    os.makedirs(ARTIFACTS, exist_ok=True)
    assert browser.save_screenshot(os.path.join(ARTIFACTS, "worker-dashboard.png"))
    # The one expected error is the 401 of the wrong password above.
    logs = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"
            and "/api/auth/login" not in e["message"]] if hasattr(browser, "get_log") else []
    for e in logs:
        print("BROWSER:", e["message"])
    assert not logs


def test_storage_full_is_said_in_french(browser):
    """Over the plan's storage (tenantd's flag present), a save on the firm's
    page is refused with a clear French message, not a bare error code."""
    w = Worker(STORAGE_LIMIT_BYTES=str(2 * 1024 * 1024))
    flag = os.path.join(w.tmp, "storage-full")
    w.env["STORAGE_FULL_FILE"] = flag
    failed = True
    try:
        pw = w.create_admin("maitre")
        w.start()
        with open(flag, "w") as f:
            f.write("3000000 2097152\n")
        wait = WebDriverWait(browser, 15)
        browser.get(f"http://127.0.0.1:{w.port}/")
        wait.until(EC.visibility_of_element_located((By.ID, "username"))).send_keys("maitre")
        browser.find_element(By.ID, "password").send_keys(pw)
        browser.find_element(By.ID, "login-submit").click()
        wait.until(EC.visibility_of_element_located((By.ID, "app-view")))
        browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=analyses]").click()
        box = wait.until(EC.visibility_of_element_located((By.ID, "case-text")))
        box.send_keys("Recours contre une OQTF.")
        browser.find_element(By.CSS_SELECTOR, "#analysis-form button[type=submit]").click()
        wait.until(lambda d: d.find_element(By.ID, "app-error").text != "")
        text = browser.find_element(By.ID, "app-error").text
        assert "stockage de votre offre est plein" in text, text
        assert browser.find_elements(By.CSS_SELECTOR, "#analyses-list tr[data-id]") == []
        failed = False
    finally:
        w.cleanup(failed, "storage_full")
