"""
The firm's application as a French law firm sees it, in a real browser
(headless Chromium through Selenium) against a real tenant-worker and its
SQLite database: negated factors are not counted and every factor shows + or
−, its weight and its reference; no English or raw key left on the French
pages (an overdue deadline, a 48-hour deadline with its hour and zone); the
printed invoice carries the mentions a French B2B invoice must carry; the PDF
downloads and pdftotext reads the same mentions back; the monogram comes from
the firm's initials, the plan is named in French; at 390 px nothing scrolls
sideways. Screenshots go to the artifacts folder.
"""
import datetime
import os
import re
import shutil
import subprocess
import zoneinfo

import pytest

from tenantd_test import ARTIFACTS
from tenantd_test.worker import Worker

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

FIRM = "Cabinet Dupont & Martin"
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]
NNBSP, NBSP = "\u202f", "\u00a0"


def french_date(d):
    return f"{d.day}{'er' if d.day == 1 else ''} {MONTHS[d.month - 1]} {d.year}"


def flat(text):
    """Whitespace of any kind (no-break spaces included) as one plain space."""
    return re.sub(r"[\s\u00a0\u202f]+", " ", text).strip()


# Each mention of a French B2B invoice, as printed (after flat()).
def mentions(numero, issued, due):
    return [
        f"Facture n° {numero}",
        f"Date d'émission : {french_date(issued)}",
        f"Date d'échéance : {french_date(due)} (30 jours)",
        FIRM, "123 Rue de la Justice, 75001 Paris",
        "SIRET 123 456 789 01234", "N° TVA intracommunautaire : FR32123456789",
        "Client : SARL Karim Conseil", "Adresse : à compléter",
        "Désignation", "Total HT 960,75 €", "TVA 20 % 192,15 €", "Total TTC 1 152,90 €",
        "Statut : brouillon",
        "Pénalités de retard : taux d'intérêt appliqué par la Banque centrale européenne",
        "majoré de 10 points de pourcentage", "art. L. 441-10 II",
        "Indemnité forfaitaire pour frais de recouvrement", "40 €", "D. 441-5",
    ]


@pytest.fixture
def worker(request):
    w = Worker(CLIENT_NAME=FIRM, CLIENT_COLOR="#8e2c48")
    yield w
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    w.cleanup(failed, request.node.name)


def no_sideways_scroll(browser):
    return browser.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]")


def test_firm_app_in_french(worker, browser):
    pw = worker.create_admin("maitre")
    worker.start()
    token = worker.login("maitre", pw)
    paris = zoneinfo.ZoneInfo("Europe/Paris")

    # The same case with and without a clean record: the record never lowers the score.
    base = "Recours contre une OQTF notifiée. Père d'un enfant français."
    a1 = worker.post("/api/analyses", {"case_text": base}, token=token).json()
    a2 = worker.post("/api/analyses", {"case_text": base + " Casier judiciaire vierge, jamais condamné."},
                     token=token).json()
    assert a2["success_rate"] > a1["success_rate"], (a1, a2)
    assert "ordre_public" not in [f["code"] for f in a2["factors"]]

    # An overdue deadline and a 48-hour one (rule in hours).
    long_ago = (datetime.datetime.now(paris).date() - datetime.timedelta(days=120)).isoformat()
    r = worker.post("/api/deadlines", {"type": "oqtf_ordinaire", "notification_date": long_ago,
                                       "description": "Dossier ancien"}, token=token)
    assert r.status == 201, r.text
    today = datetime.datetime.now(paris).date().isoformat()
    r = worker.post("/api/deadlines", {"type": "oqtf_retention", "notification_date": today,
                                       "notification_time": "10:30", "description": "Rétention M. K."},
                    token=token)
    assert r.status == 201, r.text
    at48 = r.json()["deadline_at"]
    assert at48.endswith("T10:30"), at48

    # An invoice.
    r = worker.post("/api/invoices", {"client_name": "SARL Karim Conseil", "items": [
        {"description": "Consultation et recours devant le tribunal administratif", "quantity": 1,
         "unit_price_cents": 95875},
        {"description": "Frais de dossier", "quantity": 2, "unit_price_cents": 100}]}, token=token)
    assert r.status == 201, r.text
    inv = r.json()
    numero = inv["numero"]
    created = datetime.datetime.strptime(inv["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).astimezone(paris).date()
    want = mentions(numero, created, created + datetime.timedelta(days=30))

    # ---- the browser -------------------------------------------------------------
    browser.set_window_size(1280, 1000)
    wait = WebDriverWait(browser, 15)
    browser.get(f"http://127.0.0.1:{worker.port}/")
    assert browser.find_element(By.CSS_SELECTOR, ".monogram").text == "DM"
    assert flat(browser.find_element(By.CSS_SELECTOR, ".firm-plan").text) == "Formule Professionnelle"
    wait.until(EC.visibility_of_element_located((By.ID, "username"))).send_keys("maitre")
    browser.find_element(By.ID, "password").send_keys(pw)
    browser.find_element(By.ID, "login-submit").click()
    wait.until(EC.visibility_of_element_located((By.ID, "app-view")))

    # Dashboard: the overdue deadline is said in French, the 48-hour one with its hour and zone.
    wait.until(lambda d: "Rétention" in d.find_element(By.ID, "dash-deadlines").text)
    dash = browser.find_element(By.ID, "dash-deadlines").text
    assert "dépassé" in dash and "overdue" not in dash, dash
    hm = f"à 10:30 (heure de Paris)"
    assert hm in dash, dash

    # Analyses: + / − with weight and reference; a negated factor is not listed.
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=analyses]").click()
    box = wait.until(EC.visibility_of_element_located((By.ID, "case-text")))
    box.send_keys("OQTF sans délai de départ volontaire. Mère d'un enfant français. "
                  "Casier judiciaire vierge, jamais condamnée. Entrée irrégulière sans visa.")
    browser.find_element(By.CSS_SELECTOR, "#analysis-form button[type=submit]").click()
    res = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#analysis-result ul.factors")))
    items = {li.get_attribute("data-code"): li for li in res.find_elements(By.CSS_SELECTOR, "li.factor")}
    assert "ordre_public" not in items and "delai_depart_volontaire" not in items, list(items)
    plus, minus = items["enfant_francais"], items["entree_irreguliere"]
    assert "plus" in plus.get_attribute("class")
    assert plus.find_element(By.CSS_SELECTOR, ".sign").text == "+"
    assert plus.find_element(By.CSS_SELECTOR, ".weight").text == "+0,15"
    assert "CESEDA art. L. 423-7" in plus.find_element(By.CSS_SELECTOR, ".ref").text
    assert minus.find_element(By.CSS_SELECTOR, ".sign").text == "−"
    assert minus.find_element(By.CSS_SELECTOR, ".weight").text == "−0,05"
    assert items["casier_vierge"].find_element(By.CSS_SELECTOR, ".weight").text == "+0,05"
    assert items["oqtf_sans_delai"].find_element(By.CSS_SELECTOR, ".sign").text == "!"
    os.makedirs(ARTIFACTS, exist_ok=True)
    assert browser.save_screenshot(os.path.join(ARTIFACTS, "worker-fr-analysis.png"))

    # Deadlines tab: the hour and zone again.
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=deadlines]").click()
    wait.until(lambda d: "Rétention" in d.find_element(By.ID, "deadlines-list").text)
    assert hm in browser.find_element(By.ID, "deadlines-list").text

    # The printed invoice.
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=invoices]").click()
    wait.until(lambda d: numero in d.find_element(By.ID, "invoices-list").text)
    browser.find_element(By.CSS_SELECTOR, "#invoices-list button").click()
    wait.until(lambda d: "Pénalités" in d.find_element(By.ID, "print-body").text)
    # textContent: Selenium's .text turns no-break spaces into spaces and applies text-transform.
    printed = browser.execute_script("return document.getElementById('print-body').textContent")
    assert f"1{NNBSP}152,90{NBSP}€" in printed, printed  # narrow no-break space grouping
    shown = flat(browser.find_element(By.ID, "print-body").text).casefold()  # headers are upper case
    for m in want:
        assert flat(m).casefold() in shown, (m, shown)
    assert browser.find_element(By.ID, "print-pdf").is_displayed()
    assert browser.save_screenshot(os.path.join(ARTIFACTS, "worker-fr-invoice.png"))

    # No key and no English word of the dictionary left on the French page.
    page = browser.find_element(By.TAG_NAME, "body").text
    for word in ("overdue", "urgency_", "status_", "draft", "Professional", "Status:", "Invoice"):
        assert word not in page, word

    # 390 px: every tab fits, nothing scrolls sideways.
    browser.set_window_size(390, 844)
    for tab in ("dashboard", "analyses", "deadlines", "invoices", "users"):
        browser.find_element(By.CSS_SELECTOR, f"#tabs [data-tab={tab}]").click()
        wait.until(lambda d: d.find_element(By.ID, "tab-" + tab).is_displayed())
        sw, iw = no_sideways_scroll(browser)
        assert sw <= iw, f"{tab}: {sw} px wide in a {iw} px window"
        if tab in ("dashboard", "invoices"):
            assert browser.save_screenshot(os.path.join(ARTIFACTS, f"worker-fr-390-{tab}.png"))
    browser.find_element(By.CSS_SELECTOR, "#tabs [data-tab=invoices]").click()
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#invoices-list button"))).click()
    wait.until(lambda d: "Pénalités" in d.find_element(By.ID, "print-body").text)
    sw, iw = no_sideways_scroll(browser)
    assert sw <= iw, f"printed invoice: {sw} px wide in a {iw} px window"

    # The PDF: downloads as application/pdf, and its text holds the same mentions.
    r = worker.get(f"/api/invoices/{numero}/pdf", token=token)
    assert r.status == 200
    assert r.headers["content-type"] == "application/pdf"
    assert f'filename="facture-{numero}.pdf"' in r.headers["content-disposition"]
    assert r.body.startswith(b"%PDF-1.4") and r.body.rstrip().endswith(b"%%EOF")
    path = os.path.join(worker.tmp, "facture.pdf")
    with open(path, "wb") as f:
        f.write(r.body)
    shutil.copy(path, os.path.join(ARTIFACTS, "worker-fr-invoice.pdf"))
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is needed"
    text = subprocess.run(["pdftotext", "-layout", path, "-"], capture_output=True, text=True,
                          check=True, timeout=30).stdout
    for m in want:
        assert m in flat(text), (m, text)
    # Without a token, no invoice.
    assert worker.get(f"/api/invoices/{numero}/pdf").status == 401
    assert worker.get("/api/invoices/2099-9999/pdf", token=token).status == 404
