"""Deadline reminders by e-mail (issue 21): tenantd asks each running worker
for the reminders due (GET /internal/reminders, the usage token), mails them
through the [mail] relay and reports them sent, so each goes once.

Real tenantd, a real tenant-worker with SQLite, curl speaking SMTP to a
loopback sink (tenantd_test.smtp), and a miniworker answering garbage.
"""
import datetime
import email
import email.policy
import http.client
import os
import re
import sqlite3
from zoneinfo import ZoneInfo

from tenantd_test import helper, http_request, wait_for
from tenantd_test.smtp import SmtpSink

PASSWORD = "Correct-Horse-Battery-9"


def metric(root, name):
    m = re.search(rf"^{name} (\d+)$", root.get("/metrics").text, re.M)
    return int(m.group(1)) if m else None


def api(port, method, path, body=None, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": "Bearer " + token} if token else None
    return http_request(conn, method, path, body, headers)


def test_reminder_48h_mailed_once_and_garbage_survived(root):
    smtp = SmtpSink()
    try:
        run(root, smtp)
    finally:
        smtp.close()


def run(root, smtp):
    root.write_global(mail={"relay": f"127.0.0.1:{smtp.port}", "from": "tenantd@vendor.example",
                            "reminders_every": "300ms"})
    root.add_tenant("dupont", name="Cabinet Dupont", firm={"email": "contact@dupont.example"})
    root.add_tenant("broken", worker={"command": helper("miniworker"), "socket": "passed"})
    broken_data = os.path.join(root.path, "data", "clients", "broken")
    os.makedirs(broken_data, exist_ok=True)
    open(os.path.join(broken_data, "reminders-garbage"), "w").close()
    root.start()

    # The firm's admin has no e-mail; the lawyer has one and owns the deadline.
    r = root.tenantctl("create-admin", "dupont", "alice")
    pw = dict(line.split(": ", 1) for line in r.stdout.splitlines())["password"]
    port = root.status("dupont")["port"]
    admin = api(port, "POST", "/api/auth/login", {"username": "alice", "password": pw})
    admin = admin.json()["token"]
    r = api(port, "POST", "/api/users", {"username": "durand", "password": PASSWORD,
                                         "role": "lawyer", "email": "durand@dupont.example"},
            admin)
    assert r.status == 201, r.text
    lawyer = api(port, "POST", "/api/auth/login",
                 {"username": "durand", "password": PASSWORD}).json()["token"]

    # CESEDA L. 921-2 counts 48 hours: notified two minutes ago, the deadline
    # is 47 h 58 min ahead, so its 48 h reminder is due (and the 7-day one,
    # overtaken, is not sent at all).
    notified = datetime.datetime.now(ZoneInfo("Europe/Paris")) - datetime.timedelta(minutes=2)
    r = api(port, "POST", "/api/deadlines",
            {"type": "oqtf_retention", "notification_date": notified.strftime("%Y-%m-%d"),
             "notification_time": notified.strftime("%H:%M"),
             "description": "Recours OQTF M. Diallo"}, lawyer)
    assert r.status == 201, r.text
    d = r.json()
    day, hour = d["deadline_at"].split("T")
    when = f"{day[8:10]}/{day[5:7]}/{day[0:4]} à {hour}"

    mail = wait_for(lambda: [m for m in smtp.mails if "X-Tenantd-Reminder" in m["data"]],
                    what="the reminder's mail")[0]
    assert mail["from"] == "tenantd@vendor.example"
    # To the responsible lawyer, Cc the fallback: no admin has an address,
    # so the firm's CLIENT_EMAIL.
    assert mail["rcpt"] == ["durand@dupont.example", "contact@dupont.example"]
    msg = email.message_from_bytes(mail["data"].encode(), policy=email.policy.default)
    assert msg["To"] == "durand@dupont.example" and msg["Cc"] == "contact@dupont.example"
    assert msg["Subject"] == f"[Cabinet Dupont] Échéance dans 48 h : Recours OQTF M. Diallo ({when})"
    assert msg["X-Tenantd-Reminder"] == f"{d['id']}-48h"
    body = msg.get_content()
    assert when in body and "L. 921-2" in body and "Cabinet Dupont" in body

    # Reported sent: rounds go on (the broken worker is asked each round) and
    # nothing more is mailed.
    wait_for(lambda: f"reminder {d['id']}-48h: mailed" in root.log(), what="the mail logged")
    bad = metric(root, "tenantd_reminders_bad_answers_total")
    wait_for(lambda: metric(root, "tenantd_reminders_bad_answers_total") >= bad + 4,
             what="four more rounds")
    assert len([m for m in smtp.mails if "X-Tenantd-Reminder" in m["data"]]) == 1
    assert metric(root, "tenantd_reminders_sent_total") == 1
    assert metric(root, "tenantd_reminders_failed_total") == 0
    # The worker recorded it, once.
    db = sqlite3.connect(os.path.join(root.path, "data", "clients", "dupont", "dupont.db"))
    try:
        rows = db.execute("SELECT reminder_id FROM reminders_sent").fetchall()
    finally:
        db.close()
    assert rows == [(f"{d['id']}-48h",)]

    # The garbage was refused with a clear line, and tenantd serves on.
    log = root.log()
    assert "reminders: bad answer from the worker (as a 502): not JSON" in log
    assert "Bcc" not in "".join(m["data"] for m in smtp.mails)
    assert root.status("broken")["state"] == "running"
    assert root.status("dupont")["state"] == "running"
