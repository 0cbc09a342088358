"""
The one headless Chromium setup (Debian's chromium and chromium-driver through
Selenium), used by every browser test through the `browser` fixture.
"""
import importlib.util
import os

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# Headless Debian chromium as root, with nothing reaching out to the network and
# a new, empty profile each time (see STACK-NOTES).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,900")


def missing():
    """Why no browser test can run here, or None."""
    if importlib.util.find_spec("selenium") is None:
        return "python3-selenium is not installed"
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        return "chromium and chromium-driver are not installed"
    return None


def start(profile_dir, page_load_timeout=20):
    """A new Chrome driver on a fresh profile in profile_dir. The caller quits it."""
    from selenium import webdriver
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in FLAGS + (f"--user-data-dir={profile_dir}",):
        opts.add_argument(arg)
    service_cls = getattr(webdriver, "ChromeService", None) or webdriver.chrome.service.Service
    driver = webdriver.Chrome(service=service_cls(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(page_load_timeout)
    return driver
