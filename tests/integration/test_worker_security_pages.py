"""
The firm's page for the second factor and the calendar feed, in a real
browser (headless Chromium through Selenium): enrol from the otpauth URI the
page shows as text, confirm with a code computed here (RFC 6238), see the
recovery codes, make the iCal URL; then sign in again, the page asking for
the code.
"""
import time
import urllib.parse

import pytest

from tenantd_test.otp import totp
from tenantd_test.worker import Worker

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
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
