"""
The firm's security and GDPR duties in tenant-worker (issue 21), on both
storage backends: the TOTP second factor (codes computed here, independently
of the worker, with hmac/hashlib per RFC 6238), its recovery codes and the
firm's enforcement, wrong codes counted by the login throttle; the per-user
iCal feed read by a real iCalendar parser (Debian's python3-icalendar) and
its revocation; a client file's export (JSON, HTML), erasure and access log.
"""
import base64
import datetime
import html
import json
import os
import sqlite3
import time
import urllib.parse

import pytest
from icalendar import Calendar

from tenantd_test.otp import other_code, totp
from tenantd_test.worker import Worker


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture
def worker(request, backend):
    server = request.getfixturevalue("pg") if backend == "postgresql" else None
    kw = {"DATABASE_TYPE": "postgresql"} if server is not None else {}
    w = Worker(**kw)
    if server is not None:
        url, env = server.new_database_pgpass(w.data_dir)
        w.env.update(env, POSTGRESQL_URL=url)
    w.pg = server
    yield w
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    w.cleanup(failed, request.node.name)


def test_totp_helper_matches_rfc6238_vectors():
    seed = base64.b32encode(b"12345678901234567890").decode()
    for t, want in ((59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"),
                    (2000000000, "69279037"), (20000000000, "65353130")):
        assert totp(seed, t, digits=8) == want


def login(w, username, password, code=None, headers=None):
    body = {"username": username, "password": password}
    if code is not None:
        body["code"] = code
    return w.post("/api/auth/login", body, headers=headers)


def delete(w, path, body=None, token=None):
    return w.request("DELETE", path, body, token=token)


def enrol(w, token):
    r = w.post("/api/me/totp", token=token)
    assert r.status == 201, r.text
    out = r.json()
    uri = urllib.parse.urlparse(out["otpauth_uri"])
    q = urllib.parse.parse_qs(uri.query)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert q["secret"] == [out["secret"]] and q["issuer"] == ["Cabinet Dupont & Associés"]
    assert urllib.parse.unquote(uri.path) == "/Cabinet Dupont & Associés:admin"
    return out["secret"]


def test_totp_enrolment_login_recovery_and_throttle(worker):
    pw = worker.create_admin("admin")
    worker.start()
    token = worker.login("admin", pw)
    secret = enrol(worker, token)
    now = time.time()
    # Not on until confirmed: a login without a code still works.
    assert login(worker, "admin", pw).status == 200
    r = worker.post("/api/me/totp/confirm", {"code": other_code(totp(secret, now))}, token=token)
    assert r.status == 401 and r.json()["error"] == "invalid_code"
    r = worker.post("/api/me/totp/confirm", {"code": totp(secret, now)}, token=token)
    assert r.status == 200, r.text
    codes = r.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert worker.get("/api/me/totp", token=token).json() == {
        "enabled": True, "required": False, "recovery_codes_left": 10}

    # The password alone no longer logs in.
    r = login(worker, "admin", pw)
    assert r.status == 401 and r.json()["error"] == "totp_required"
    # The code just used for the confirmation does not work twice; the next one does.
    assert login(worker, "admin", pw, totp(secret, now)).status == 401
    r = login(worker, "admin", pw, totp(secret, now + 30))
    assert r.status == 200, r.text
    assert worker.get("/api/me", token=r.json()["token"]).status == 200

    # A recovery code works once, with or without its dash.
    assert login(worker, "admin", pw, codes[0]).status == 200
    assert login(worker, "admin", pw, codes[0]).status == 401
    assert login(worker, "admin", pw, codes[1].replace("-", "").upper()).status == 200
    assert worker.get("/api/me/totp", token=token).json()["recovery_codes_left"] == 8
    # A wrong password with a good code is still a wrong password.
    assert login(worker, "admin", "wrong-password", codes[2]).status == 401

    # Wrong codes count toward the throttle like wrong passwords: after the
    # free failures, the right password and a valid code are held too. The
    # earlier failures since the last success count: one, just above.
    for _ in range(4):
        r = login(worker, "admin", pw, other_code(totp(secret, time.time())))
        assert r.status == 401 and r.json()["error"] == "invalid_code", r.text
    r = login(worker, "admin", pw, codes[2])
    assert r.status == 429 and r.json()["error"] == "too_many_attempts", r.text
    # From another address the account is not locked out; DELETE needs a code.
    t2 = login(worker, "admin", pw, codes[3], headers={"X-Real-IP": "10.0.0.9"}).json()["token"]
    assert delete(worker, "/api/me/totp", {"code": "12"}, token=t2).status == 400
    assert delete(worker, "/api/me/totp", {"code": codes[0]}, token=t2).status == 401
    r = delete(worker, "/api/me/totp", {"code": codes[4]}, token=t2)
    assert r.status == 200 and r.json() == {"enabled": False}
    assert login(worker, "admin", pw, headers={"X-Real-IP": "10.0.0.9"}).status == 200


def test_firm_enforces_totp(worker):
    pw = worker.create_admin("admin")
    worker.start()
    admin = worker.login("admin", pw)
    assert worker.post("/api/users", {"username": "lawyer1", "password": "lawyer-pass-1",
                                      "role": "lawyer"}, token=admin).status == 201
    lawyer = worker.login("lawyer1", "lawyer-pass-1")
    assert worker.request("PUT", "/api/firm/settings", {"totp_required": True},
                          token=lawyer).status == 403
    r = worker.request("PUT", "/api/firm/settings", {"totp_required": "yes"}, token=admin)
    assert r.status == 400 and "totp_required" in r.json()["detail"]
    r = worker.request("PUT", "/api/firm/settings", {"totp_required": True}, token=admin)
    assert r.status == 200 and r.json()["totp_required"] is True

    r = login(worker, "lawyer1", "lawyer-pass-1")
    assert r.status == 200 and r.json()["totp_enrolment_required"] is True
    lawyer = r.json()["token"]
    r = worker.get("/api/deadlines", token=lawyer)
    assert r.status == 403 and r.json()["error"] == "totp_enrolment_required"
    assert worker.get("/api/me", token=lawyer).status == 200
    secret = worker.post("/api/me/totp", token=lawyer).json()["secret"]
    assert worker.post("/api/me/totp/confirm", {"code": totp(secret, time.time())},
                       token=lawyer).status == 200
    assert worker.get("/api/deadlines", token=lawyer).status == 200
    r = login(worker, "lawyer1", "lawyer-pass-1", totp(secret, time.time() + 30))
    assert r.status == 200 and "totp_enrolment_required" not in r.json()


def test_ical_feed_parses_and_revokes(worker):
    pw = worker.create_admin("admin")
    worker.start()
    token = worker.login("admin", pw)
    types = worker.get("/api/deadlines/types", token=token).json()
    desc = ("Recours M. Müller, dossier 12; préfecture \\ Bobigny — " + "é" * 80)
    r = worker.post("/api/deadlines", {"type": types[0]["type"], "notification_date":
                                       datetime.date.today().isoformat(), "description": desc},
                    token=token)
    assert r.status == 201, r.text
    dl = r.json()

    assert worker.get("/ical/AAAAAAAAAAAAAAAAAAAAAA.ics").status == 404
    r = worker.post("/api/me/ical", token=token)
    assert r.status == 201, r.text
    feed = r.json()
    assert feed["url"].startswith("http://127.0.0.1:") and feed["url"].endswith(feed["path"])
    r = worker.get(feed["path"])  # no session needed
    assert r.status == 200 and r.headers["content-type"].startswith("text/calendar")
    raw = r.body
    assert all(len(line) <= 75 for line in raw.split(b"\r\n")), "lines are folded at 75 octets"
    cal = Calendar.from_ical(raw)
    events = [c for c in cal.walk("VEVENT")]
    assert len(events) == 1
    ev = events[0]
    assert str(ev["SUMMARY"]) == desc
    start = ev.decoded("DTSTART")
    if types[0].get("needs_time"):
        assert start.isoformat()[:16] == dl["deadline_at"]
    else:  # a rule in days: an all-day entry on the last day
        assert not isinstance(start, datetime.datetime)
        assert start.isoformat() == dl["deadline_date"]
    detail = worker.get(f"/api/deadlines/{dl['id']}", token=token).json()
    assert detail["rule_reference"] in str(ev["DESCRIPTION"])
    alarms = [a for a in ev.walk("VALARM")]
    assert len(alarms) >= 2
    assert datetime.timedelta(days=-7) in [a.decoded("TRIGGER") for a in alarms]

    # A rule counted in hours: an entry at the exact hour, in the firm's zone.
    hourly = [t for t in types if t.get("needs_time")]
    assert hourly, "the shipped rules have a rule counted in hours"
    if hourly:
        r = worker.post("/api/deadlines", {"type": hourly[0]["type"], "notification_date":
                                           datetime.date.today().isoformat(),
                                           "notification_time": "10:30",
                                           "description": "Rétention, 48 h"}, token=token)
        assert r.status == 201, r.text
        at = r.json()["deadline_at"]
        cal = Calendar.from_ical(worker.get(feed["path"]).body)
        ev = [e for e in cal.walk("VEVENT") if str(e["SUMMARY"]) == "Rétention, 48 h"][0]
        start = ev.decoded("DTSTART")
        assert isinstance(start, datetime.datetime) and start.isoformat()[:16] == at
        assert str(start.tzinfo) in ("Europe/Paris", "CET", "CEST") or \
            start.utcoffset() in (datetime.timedelta(hours=1), datetime.timedelta(hours=2))

    # Rotating: the old URL is dead at once, the new one works; revoking kills it.
    r2 = worker.post("/api/me/ical", token=token).json()
    assert r2["path"] != feed["path"]
    assert worker.get(feed["path"]).status == 404
    assert worker.get(r2["path"]).status == 200
    assert delete(worker, "/api/me/ical", token=token).status == 204
    assert worker.get(r2["path"]).status == 404
    assert delete(worker, "/api/me/ical", token=token).status == 404


def test_client_file_export_erasure_and_access_log(worker):
    pw = worker.create_admin("admin")
    worker.start()
    admin = worker.login("admin", pw)
    assert worker.post("/api/users", {"username": "lawyer1", "password": "lawyer-pass-1",
                                      "role": "lawyer"}, token=admin).status == 201
    lawyer = worker.login("lawyer1", "lawyer-pass-1")
    text = ("M. Karim <b>Benali</b>, marié à une Française depuis 2019, "
            "OQTF notifiée le 3 mars, enfant scolarisé.")
    r = worker.post("/api/analyses", {"case_text": text}, token=lawyer)
    assert r.status == 201, r.text
    cid = r.json()["id"]
    assert worker.get(f"/api/analyses/{cid}", token=lawyer).json()["case_text"] == text

    r = worker.get(f"/api/cases/{cid}/export?format=json", token=admin)
    assert r.status == 200, r.text
    exp = json.loads(r.body)
    assert exp["case"]["case_text"] == text and exp["erasure"] is None
    assert exp["exported_by"] == "admin" and exp["firm"]["name"] == "Cabinet Dupont & Associés"
    r = worker.get(f"/api/cases/{cid}/export?format=html", token=admin)
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    assert html.escape(text, quote=False) in r.text or html.escape(text) in r.text
    assert "<b>Benali</b>" not in r.text
    assert worker.get(f"/api/cases/{cid}/export?format=pdf", token=admin).status == 400
    assert worker.get("/api/cases/999/export", token=admin).status == 404

    # Erasure: admin only, with a basis; the row stays with its record.
    assert delete(worker, f"/api/cases/{cid}", {"basis": "request of the client"},
                  token=lawyer).status == 403
    assert delete(worker, f"/api/cases/{cid}", {}, token=admin).status == 400
    r = delete(worker, f"/api/cases/{cid}", {"basis": "art. 17 request of the client"},
               token=admin)
    assert r.status == 200, r.text
    rec = r.json()["erasure"]
    assert rec["erased_by"] == "admin" and rec["basis"] == "art. 17 request of the client"
    assert rec["record"].startswith("erased on ") and " by admin, basis art. 17" in rec["record"]
    assert delete(worker, f"/api/cases/{cid}", {"basis": "again"}, token=admin).status == 409
    after = worker.get(f"/api/analyses/{cid}", token=admin).json()
    assert after["case_text"] == "" and after["factors"] == []
    exp2 = worker.get(f"/api/cases/{cid}/export", token=admin).json()
    assert exp2["erasure"]["record"] == rec["record"] and "Benali" not in json.dumps(exp2)
    page = worker.get(f"/api/cases/{cid}/export?format=html", token=admin).text
    assert "Benali" not in page and html.escape(rec["record"]) in page

    # The access log: each step, who, when, from where, on which basis; no personal data.
    assert worker.get(f"/api/audit?case={cid}", token=lawyer).status == 403
    r = worker.get(f"/api/audit?case={cid}", token=admin)
    assert r.status == 200, r.text
    log = r.json()
    steps = [(e["action"], e["username"]) for e in log]
    assert steps == [("create", "lawyer1"), ("open", "lawyer1"), ("export", "admin"),
                     ("export", "admin"), ("erase", "admin"), ("open", "admin"),
                     ("export", "admin"), ("export", "admin")], steps
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    for e in log:
        assert e["created_at"].startswith(today) and e["ip_address"] == "127.0.0.1"
        assert e["record_id"] == cid and e["table_name"] == "ceseda_analyses"
        assert e["gdpr_basis"]
    erase = [e for e in log if e["action"] == "erase"][0]
    assert erase["new_values"]["erased_by"] == "admin"
    assert erase["old_values"]["case_text_chars"] == len(text)
    assert "Benali" not in r.text
    assert worker.get("/api/audit?case=abc", token=admin).status == 400
    # Without a file: every entry, newest first.
    every = worker.get("/api/audit?limit=3", token=admin).json()
    assert [e["action"] for e in every] == ["export", "export", "open"]
    assert every[0]["id"] > every[1]["id"] > every[2]["id"]


def test_retention_periods(worker):
    pw = worker.create_admin("admin")
    worker.start()
    admin = worker.login("admin", pw)
    r = worker.get("/api/firm/retention", token=admin)
    assert r.status == 200 and r.json()["invoices_days"] == 3653
    r = worker.request("PUT", "/api/firm/retention", {"client_files_days": -1}, token=admin)
    assert r.status == 400 and "client_files_days" in r.json()["detail"]
    r = worker.request("PUT", "/api/firm/retention", {"invoices_days": 30}, token=admin)
    assert r.status == 400 and "invoices_days" in r.json()["detail"]
    r = worker.request("PUT", "/api/firm/retention", {"client_files_days": 1825,
                                                      "access_log_days": 365}, token=admin)
    assert r.status == 200 and r.json()["client_files_days"] == 1825
    assert worker.get("/api/firm/retention", token=admin).json()["access_log_days"] == 365
    cid = worker.post("/api/analyses", {"case_text": "Dossier récent, OQTF."},
                      token=admin).json()["id"]
    old = worker.post("/api/analyses", {"case_text": "Dossier ancien de M. Ancien, OQTF."},
                      token=admin).json()["id"]
    # Six years ago, written into the firm's database behind the worker's back.
    sql = f"UPDATE ceseda_analyses SET created_at = '2020-01-01T00:00:00Z' WHERE id = {old}"
    if worker.pg is not None:
        worker.pg.psql(sql, db=urllib.parse.urlparse(worker.env["POSTGRESQL_URL"]).path[1:])
    else:
        with sqlite3.connect(os.path.join(worker.data_dir, "dupont.db")) as db:
            db.execute(sql)
    r = worker.post("/api/firm/retention/purge", token=admin)
    assert r.status == 200 and r.json()["client_files_erased"] == 1, r.text
    # A file younger than its period is kept; the older one is erased, with its record.
    assert worker.get(f"/api/analyses/{cid}", token=admin).json()["case_text"] != ""
    assert worker.get(f"/api/analyses/{old}", token=admin).json()["case_text"] == ""
    exp = worker.get(f"/api/cases/{old}/export", token=admin).json()
    assert exp["erasure"]["erased_by"] == "retention"
    assert "retention period" in exp["erasure"]["basis"]
    log = worker.get(f"/api/audit?case={old}", token=admin).json()
    assert [e["action"] for e in log if e["action"] == "erase"] == ["erase"]
    assert worker.post("/api/firm/retention/purge", token=admin).json()["client_files_erased"] == 0


def test_access_while_read_only_goes_to_the_log(worker):
    """While tenantd moves the firm's data (WORKER_READ_ONLY), opening a file
    still works; its access-log line goes to the worker's log, not to the
    database being copied (where it would be lost)."""
    pw = worker.create_admin("admin")
    worker.start()
    token = worker.login("admin", pw)
    cid = worker.post("/api/analyses", {"case_text": "Dossier, OQTF."}, token=token).json()["id"]
    assert worker.stop() == 0
    worker.env["WORKER_READ_ONLY"] = "true"
    worker.start()
    assert worker.get(f"/api/analyses/{cid}", token=token).status == 200
    assert worker.get(f"/api/cases/{cid}/export", token=token).status == 200
    out = worker.output()
    assert f"access log (data read-only, not stored): open ceseda_analyses {cid} by admin" in out
    assert f"export ceseda_analyses {cid} by admin from 127.0.0.1" in out
    assert worker.stop() == 0
    del worker.env["WORKER_READ_ONLY"]
    worker.start()
    log = worker.get(f"/api/audit?case={cid}", token=token).json()
    assert [e["action"] for e in log] == ["create"]
