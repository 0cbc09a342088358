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
import time
from zoneinfo import ZoneInfo

import pytest

from tenantd_test import helper, http_request, wait_for
from tenantd_test.smtp import SmtpSink
from tenantd_test.worker import Worker, usage_token

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
    assert msg["Subject"] == \
        f"[Cabinet Dupont] Échéance dans 48 h : Recours OQTF M. Diallo ({when})"
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


# ---- the worker's side, on both storage backends --------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def worker(request):
    kw = {}
    if request.param == "postgresql":
        kw["DATABASE_TYPE"] = "postgresql"
    w = Worker(**kw)
    if request.param == "postgresql":
        url, env = request.getfixturevalue("pg").new_database_pgpass(w.data_dir)
        w.env.update(env, POSTGRESQL_URL=url)
    yield w
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    w.cleanup(failed, request.node.name)


def test_worker_lists_due_reminders_and_records_them_sent(worker):
    pw = worker.create_admin("root")  # no address: the fallback is CLIENT_EMAIL
    worker.start()
    good = {"Authorization": "Tenantd " + usage_token("dupont", worker.env["SECRET_KEY"])}
    token = worker.login("root", pw)
    # A lawyer whose username is an address and who has no e-mail of their own.
    r = worker.post("/api/users", {"username": "maitre@dupont.example", "password": PASSWORD,
                                   "role": "lawyer"}, token=token)
    assert r.status == 201, r.text
    lawyer = worker.login("maitre@dupont.example", PASSWORD)

    now = datetime.datetime.now(ZoneInfo("Europe/Paris"))
    notified = now - datetime.timedelta(minutes=2)
    r = worker.post("/api/deadlines", {"type": "oqtf_retention",
                                       "notification_date": notified.strftime("%Y-%m-%d"),
                                       "notification_time": notified.strftime("%H:%M")},
                    token=lawyer)
    assert r.status == 201, r.text
    hours = r.json()
    # Seven days, until the end of the day: nothing due today.
    r = worker.post("/api/deadlines", {"type": "oqtf_assignation_detention",
                                       "notification_date": now.strftime("%Y-%m-%d")},
                    token=lawyer)
    assert r.status == 201, r.text
    week = r.json()

    def listed(due_before, headers=good):
        r = worker.get(f"/internal/reminders?due_before={int(due_before)}", headers=headers)
        assert r.status == 200, r.text
        return r.json()

    assert worker.get("/internal/reminders?due_before=1").status == 401
    assert worker.get("/internal/reminders?due_before=1", token=token).status == 401
    assert worker.get("/internal/reminders", headers=good).status == 400
    assert worker.get("/internal/reminders?due_before=soon", headers=good).status == 400

    t = time.time()
    got = listed(t)
    assert got["firm"] == "Cabinet Dupont & Associés" and got["language"] == "fr"
    # Only the 48 h one: the 7-day one is overtaken, the other deadline not due.
    assert [x["id"] for x in got["reminders"]] == [f"{hours['id']}-48h"]
    one = got["reminders"][0]
    assert one["to"] == "maitre@dupont.example" and one["cc"] == ["contact@cabinet-dupont.fr"]
    assert one["to_role"] == "responsible" and one["responsible"] == "maitre@dupont.example"
    assert one["responsible_status"] == "ok"
    assert one["deadline_at"] == hours["deadline_at"] and "L. 921-2" in one["reference"]
    assert one["title"] == hours["label"] and one["lead"] == "48h"

    for _ in range(2):  # idempotent
        r = worker.request("POST", f"/internal/reminders/{hours['id']}-48h/sent", headers=good)
        assert r.status == 200, r.text
    assert listed(t)["reminders"] == []
    for bad in (f"{hours['id']}-0h", f"{hours['id']}-91d", "99999-48h", "x-48h"):
        r = worker.request("POST", f"/internal/reminders/{bad}/sent", headers=good)
        assert r.status == 404, (bad, r.text)
    assert worker.request("POST", f"/internal/reminders/{week['id']}-7d/sent").status == 401

    # A week ahead, the other deadline's latest due lead is the morning of.
    later = [x["id"] for x in listed(t + 8 * 86400)["reminders"]
             if x["deadline_id"] == week["id"]]
    assert later == [f"{week['id']}-morning"]
    # Done deadlines are not reminded.
    r = worker.request("PATCH", f"/api/deadlines/{week['id']}", {"status": "done"}, token=lawyer)
    assert r.status == 200, r.text
    assert not [x for x in listed(t + 8 * 86400)["reminders"] if x["deadline_id"] == week["id"]]
