"""
The firm's page for the second factor and the calendar feed, in a real
browser (headless Chromium through Selenium): enrol from the otpauth URI the
page shows as text, confirm with a code computed here (RFC 6238), see the
recovery codes, make the iCal URL; then sign in again, the page asking for
the code. And the reminder lead times, the firm's and the user's own.
"""
import time
import urllib.parse

import pytest

from tenantd_test.otp import totp
from tenantd_test.worker import Worker

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def worker(request):
    w = Worker(LANGUAGE="en")
    yield w
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    w.cleanup(failed, request.node.name)


def test_enrol_and_sign_in_with_a_code(worker, browser):
    pw = worker.create_admin("maitre")
    worker.start()
    wait = WebDriverWait(browser, 15)
    find = browser.find_element
    browser.get(f"http://127.0.0.1:{worker.port}/")
    wait.until(lambda d: d.find_element(By.ID, "username").is_displayed())
    find(By.ID, "username").send_keys("maitre")
    find(By.ID, "password").send_keys(pw)
    find(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "who").text != "")

    find(By.CSS_SELECTOR, "#tabs [data-tab=security]").click()
    wait.until(lambda d: d.find_element(By.ID, "totp-state").text == "Off")
    find(By.ID, "totp-enable").click()
    wait.until(lambda d: d.find_element(By.ID, "totp-uri").text.startswith("otpauth://totp/"))
    uri = urllib.parse.urlparse(find(By.ID, "totp-uri").text)
    secret = urllib.parse.parse_qs(uri.query)["secret"][0]
    assert find(By.ID, "totp-secret").text == secret
    now = time.time()
    find(By.CSS_SELECTOR, "#totp-confirm-form [name=code]").send_keys(totp(secret, now))
    find(By.CSS_SELECTOR, "#totp-confirm-form button[type=submit]").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#totp-codes li")) == 10)
    assert find(By.ID, "totp-required").is_displayed()  # the admin's firm-wide switch

    find(By.ID, "ical-create").click()
    wait.until(lambda d: d.find_element(By.ID, "ical-url").text.endswith(".ics"))
    path = urllib.parse.urlparse(find(By.ID, "ical-url").text).path
    assert worker.get(path).status == 200

    find(By.ID, "logout").click()
    wait.until(lambda d: d.find_element(By.ID, "login-view").is_displayed())
    find(By.ID, "password").send_keys(pw)
    find(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "code").is_displayed())
    assert find(By.ID, "app-view").is_displayed() is False
    find(By.ID, "code").send_keys(totp(secret, now + 30))
    find(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "who").text.startswith("maitre"))
    assert find(By.ID, "app-error").text == ""


def test_reminder_lead_times_from_the_page(worker, browser):
    """The admin sets the firm's lead times and their own from the security
    tab; the API then says what the page set."""
    pw = worker.create_admin("maitre")
    worker.start()
    wait = WebDriverWait(browser, 15)
    find = browser.find_element
    browser.get(f"http://127.0.0.1:{worker.port}/")
    wait.until(lambda d: d.find_element(By.ID, "username").is_displayed())
    find(By.ID, "username").send_keys("maitre")
    find(By.ID, "password").send_keys(pw)
    find(By.ID, "login-submit").click()
    wait.until(lambda d: d.find_element(By.ID, "who").text != "")
    find(By.CSS_SELECTOR, "#tabs [data-tab=security]").click()
    wait.until(lambda d: "7d, 48h, morning" in d.find_element(By.ID, "reminders-state").text)
    assert "Europe/Paris" in find(By.ID, "reminders-state").text

    leads = find(By.ID, "firm-reminders-leads")
    assert leads.get_attribute("value") == "7d, 48h, morning"
    leads.clear()
    leads.send_keys("72h, morning")
    find(By.CSS_SELECTOR, "#firm-reminders-form button[type=submit]").click()
    wait.until(lambda d: "72h, morning" in d.find_element(By.ID, "reminders-state").text)

    Select(find(By.ID, "reminders-mode")).select_by_value("custom")
    own = find(By.ID, "reminders-leads")
    own.clear()
    own.send_keys("24h")
    find(By.CSS_SELECTOR, "#reminders-form button[type=submit]").click()
    wait.until(lambda d: d.find_element(By.ID, "reminders-state").text.startswith(
        "Reminders sent: 24h"))
    Select(find(By.ID, "reminders-mode")).select_by_value("off")
    find(By.CSS_SELECTOR, "#reminders-form button[type=submit]").click()
    wait.until(lambda d: d.find_element(By.ID, "reminders-state").text ==
               "You receive no reminder e-mails.")
    assert find(By.ID, "app-error").text == ""

    token = worker.login("maitre", pw)
    firm = worker.get("/api/firm/settings", token=token).json()
    assert firm["reminder_leads"] == ["72h", "morning"]
    assert worker.get("/api/me/reminders", token=token).json()["mode"] == "off"
