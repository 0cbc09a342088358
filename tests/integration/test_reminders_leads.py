"""Deadline reminders the way a firm expects (issue 21): lead times chosen by
the firm and per user, a responsible lawyer and a fallback per deadline, and
a mail that is not sent twice across a restart of tenantd.

Real tenantd, real tenant-workers (SQLite; the worker's side on PostgreSQL
too), curl speaking SMTP to a loopback sink (tenantd_test.smtp).
"""
import datetime
import email
import email.policy
import http.client
import os
import signal
import sqlite3
import time
from zoneinfo import ZoneInfo

import pytest

from tenantd_test import http_request, wait_for
from tenantd_test.smtp import SmtpSink
from tenantd_test.worker import Worker, usage_token

PASSWORD = "Correct-Horse-Battery-9"
PARIS = ZoneInfo("Europe/Paris")


def api(port, method, path, body=None, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": "Bearer " + token} if token else None
    return http_request(conn, method, path, body, headers)


def in_72h():
    """A CESEDA L. 921-2 deadline (48 hours) notified tomorrow, two minutes
    earlier than now: it falls 71 h 58 min ahead, so a 72 h lead is due."""
    n = datetime.datetime.now(PARIS) + datetime.timedelta(days=1, minutes=-2)
    return {"type": "oqtf_retention", "notification_date": n.strftime("%Y-%m-%d"),
            "notification_time": n.strftime("%H:%M")}


def message(mail):
    return email.message_from_bytes(mail["data"].encode(), policy=email.policy.default)


def reminders(sink):
    return [m for m in sink.mails if "X-Tenantd-Reminder" in m["data"]]


# ---- end to end: tenantd mails what the firm chose -----------------------------

class Firm:
    """A firm's worker reached on its port, with an admin session."""

    def __init__(self, root, tid):
        r = root.tenantctl("create-admin", tid, "alice")
        pw = dict(line.split(": ", 1) for line in r.stdout.splitlines())["password"]
        self.port = root.status(tid)["port"]
        self.admin = self.login("alice", pw)

    def login(self, user, pw):
        r = api(self.port, "POST", "/api/auth/login", {"username": user, "password": pw})
        assert r.status == 200, r.text
        return r.json()["token"]

    def user(self, name, role="lawyer", mail=True):
        body = {"username": name, "password": PASSWORD, "role": role}
        if mail:
            body["email"] = f"{name}@dupont.example"
        r = api(self.port, "POST", "/api/users", body, self.admin)
        assert r.status == 201, r.text
        return r.json()["id"], self.login(name, PASSWORD)

    def call(self, method, path, body=None, token=None):
        return api(self.port, method, path, body, token or self.admin)


def test_firm_leads_reach_the_responsible_and_fallback_not_the_opted_out(root):
    smtp = SmtpSink()
    try:
        root.write_global(mail={"relay": f"127.0.0.1:{smtp.port}",
                                "from": "tenantd@vendor.example", "reminders_every": "300ms"})
        root.add_tenant("dupont", name="Cabinet Dupont", firm={"email": "contact@dupont.example"})
        root.add_tenant("muller", name="Cabinet Muller")
        root.start()
        firm, other = Firm(root, "dupont"), Firm(root, "muller")
        durand, durand_t = firm.user("durand")
        martin, martin_t = firm.user("martin")
        zoe, zoe_t = firm.user("zoe")
        # A user of the other firm whose id names nobody here.
        for name in ("a", "b", "c", "d"):
            stranger, _ = other.user(name)
        assert stranger > zoe

        # The firm's admin chooses 72 h; lawyers may not; nonsense is refused.
        r = firm.call("PUT", "/api/firm/settings", {"reminder_leads": ["72h"]})
        assert r.status == 200, r.text
        assert r.json()["reminder_leads"] == ["72h"] and r.json()["totp_required"] is False
        assert r.json()["timezone"] == "Europe/Paris"
        assert firm.call("GET", "/api/firm/settings").json()["reminder_leads"] == ["72h"]
        assert firm.call("PUT", "/api/firm/settings", {"reminder_leads": ["1h"]},
                         durand_t).status == 403
        for bad in (["0h"], ["91d"], ["72h", "72h"], [], ["1h"] * 7, "72h", ["3w"]):
            r = firm.call("PUT", "/api/firm/settings", {"reminder_leads": bad})
            assert r.status == 400 and "reminder_leads" in r.json()["detail"], (bad, r.text)
        # Zoe wants no reminder mail.
        r = firm.call("PUT", "/api/me/reminders", {"mode": "off"}, zoe_t)
        assert r.status == 200 and r.json()["effective_leads"] == [], r.text
        r = firm.call("GET", "/api/me/reminders", None, durand_t).json()
        assert r["mode"] == "firm" and r["effective_leads"] == ["72h"]

        # A deadline of durand's, martin the fallback; ids of another firm,
        # of nobody, or the same person twice are refused, naming the field.
        for body, field in (({"fallback_user_id": stranger}, "fallback_user_id"),
                            ({"responsible_user_id": stranger}, "responsible_user_id"),
                            ({"fallback_user_id": durand}, "fallback_user_id")):
            r = firm.call("POST", "/api/deadlines", dict(in_72h(), **body), durand_t)
            assert r.status == 422 and field in r.json()["detail"], (body, r.text)
        r = firm.call("POST", "/api/deadlines",
                      dict(in_72h(), description="Recours M. Diallo", fallback_user_id=martin),
                      durand_t)
        assert r.status == 201, r.text
        d = r.json()
        assert (d["responsible_user_id"], d["responsible"]) == (durand, "durand")
        assert (d["fallback_user_id"], d["fallback"]) == (martin, "martin")
        assert firm.call("GET", f"/api/deadlines/{d['id']}").json()["fallback"] == "martin"
        # Zoe's own deadline: she opted out, so the firm's address is told.
        r = firm.call("POST", "/api/deadlines", dict(in_72h(), description="Dossier Zoé"), zoe_t)
        assert r.status == 201, r.text
        z = r.json()

        # Entered 48 h ahead, after its 72 h lead had passed: the mail says
        # the time actually left.
        n = datetime.datetime.now(PARIS) - datetime.timedelta(minutes=2)
        r = firm.call("POST", "/api/deadlines",
                      {"type": "oqtf_retention", "notification_date": n.strftime("%Y-%m-%d"),
                       "notification_time": n.strftime("%H:%M"), "description": "Tardif"},
                      martin_t)
        assert r.status == 201, r.text
        late = r.json()

        mails = wait_for(lambda: len(reminders(smtp)) >= 3 and reminders(smtp),
                         what="the three reminders' mails")
        by = {message(m)["X-Tenantd-Reminder"]: m for m in mails}
        assert set(by) == {f"{d['id']}-72h", f"{z['id']}-72h", f"{late['id']}-72h"}
        assert message(by[f"{late['id']}-72h"])["Subject"].startswith(
            "[Cabinet Dupont] Échéance dans 48 h : Tardif (")
        mine = by[f"{d['id']}-72h"]
        msg = message(mine)
        assert mine["rcpt"] == ["durand@dupont.example", "martin@dupont.example",
                                "contact@dupont.example"]
        assert msg["To"] == "durand@dupont.example"
        assert [a.strip() for a in msg["Cc"].split(",")] == ["martin@dupont.example",
                                                            "contact@dupont.example"]
        day, hour = d["deadline_at"].split("T")
        when = f"{day[8:10]}/{day[5:7]}/{day[0:4]} à {hour}"
        assert msg["Subject"] == \
            f"[Cabinet Dupont] Échéance dans 72 h : Recours M. Diallo ({when})"
        assert msg["Message-ID"] == \
            f"<reminder.{d['id']}.72h.{day.replace('-', '')}.dupont@vendor.example>"
        body = msg.get_content()
        assert f"{when} (heure locale, fuseau Europe/Paris)" in body, body
        theirs = by[f"{z['id']}-72h"]
        assert theirs["rcpt"] == ["contact@dupont.example"]
        assert "à la place de zoe" in message(theirs).get_content()
        assert not [m for m in smtp.mails if "zoe@dupont.example" in m["rcpt"]]
        assert "zoe@dupont.example" not in "".join(m["data"] for m in smtp.mails)
    finally:
        smtp.close()


# ---- at least once, not twice: a restart between the mail and its record ------------

def test_a_reminder_is_not_mailed_again_after_a_restart(root):
    """The seam: the sink holds its 250 while the test stops the worker, so
    tenantd gets the 250 with nobody to tell; tenantd is then killed
    (SIGKILL) before any later round. The next tenantd finds the Message-ID
    in state.db and only tells the worker."""
    smtp = SmtpSink()
    try:
        root.write_global(mail={"relay": f"127.0.0.1:{smtp.port}",
                                "from": "tenantd@vendor.example", "reminders_every": "300ms"})
        root.add_tenant("dupont", name="Cabinet Dupont", firm={"email": "contact@dupont.example"})
        root.start()
        firm = Firm(root, "dupont")
        _, durand_t = firm.user("durand")
        smtp.hold()
        n = datetime.datetime.now(PARIS) - datetime.timedelta(minutes=2)
        r = firm.call("POST", "/api/deadlines",
                      {"type": "oqtf_retention", "notification_date": n.strftime("%Y-%m-%d"),
                       "notification_time": n.strftime("%H:%M")}, durand_t)
        assert r.status == 201, r.text
        d = r.json()
        rid = f"{d['id']}-48h"
        wait_for(lambda: smtp.held, what="the mail at the sink, its 250 held")
        r = root.post("/v1/tenants/dupont/stop")
        assert r.status in (200, 202), r.text
        root.wait_state("dupont", "stopped")
        smtp.release()
        wait_for(lambda: f"reminder {rid}: the worker is not running" in root.log(),
                 what="the mail's 250 with no worker to tell")
        assert f"reminder {rid}: mailed" in root.log()
        state = sqlite3.connect(os.path.join(root.run_dir, "state.db"))
        try:
            rows = state.execute("SELECT tenant, message_id FROM reminders_mailed").fetchall()
        finally:
            state.close()
        msgid = message(smtp.mails[0])["Message-ID"]
        assert rows == [("dupont", msgid)]

        root.stop(sig=signal.SIGKILL)
        root.start(wait_ids=[])
        r = root.post("/v1/tenants/dupont/start")
        assert r.status in (200, 202), r.text
        root.wait_state("dupont", "running")
        db_path = os.path.join(root.path, "data", "clients", "dupont", "dupont.db")

        def recorded():
            db = sqlite3.connect(db_path)
            try:
                return db.execute("SELECT reminder_id FROM reminders_sent").fetchall()
            finally:
                db.close()

        assert wait_for(lambda: recorded(), what="the worker told") == [(rid,)]
        assert f"reminder {rid}: already mailed (state.db)" in root.log()
        same = [m for m in smtp.mails if message(m)["Message-ID"] == msgid]
        assert len(same) == 1 and len(reminders(smtp)) == 1
    finally:
        smtp.close()


# ---- the worker's side, on both storage backends --------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def worker(request):
    kw = {}
    if request.param == "postgresql":
        kw["DATABASE_TYPE"] = "postgresql"
    w = Worker(**kw)
    w.backend = request.param
    if request.param == "postgresql":
        url, env = request.getfixturevalue("pg").new_database_pgpass(w.data_dir)
        w.env.update(env, POSTGRESQL_URL=url)
    yield w
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    w.cleanup(failed, request.node.name)


def test_worker_leads_per_user_enforced_and_stand_ins(worker):
    pw = worker.create_admin("root")  # no address: the firm's CLIENT_EMAIL stands in
    worker.start()
    good = {"Authorization": "Tenantd " + usage_token("dupont", worker.env["SECRET_KEY"])}
    admin = worker.login("root", pw)
    ids, tokens = {}, {}
    for name in ("durand", "martin", "zoe"):
        r = worker.post("/api/users", {"username": name, "password": PASSWORD, "role": "lawyer",
                                       "email": f"{name}@dupont.example"}, token=admin)
        assert r.status == 201, r.text
        ids[name] = r.json()["id"]
        tokens[name] = worker.login(name, PASSWORD)
    firm_mail = "contact@cabinet-dupont.fr"

    def listed():
        r = worker.get(f"/internal/reminders?due_before={int(time.time())}", headers=good)
        assert r.status == 200, r.text
        return {x["deadline_id"]: x for x in r.json()["reminders"]}

    def put(path, body, who):
        r = worker.request("PUT", path, body, token=tokens.get(who, admin))
        assert r.status == 200, r.text
        return r.json()

    # Defaults: 7d, 48h, morning: a 72 h deadline has its 7-day reminder due.
    assert worker.get("/api/firm/settings", token=admin).json()["reminder_leads"] == \
        ["7d", "48h", "morning"]
    r = worker.post("/api/deadlines", dict(in_72h(), fallback_user_id=ids["martin"]),
                    token=tokens["durand"])
    assert r.status == 201, r.text
    d = r.json()
    assert listed()[d["id"]]["lead"] == "7d"
    put("/api/firm/settings", {"reminder_leads": ["24h"]}, "admin")
    assert listed() == {}
    put("/api/firm/settings", {"reminder_leads": ["72h", "morning"]}, "admin")
    one = listed()[d["id"]]
    assert one["id"] == f"{d['id']}-72h" and one["lead"] == "72h"
    assert 71 * 3600 < one["seconds_left"] <= 72 * 3600
    assert one["to"] == "durand@dupont.example" and one["to_role"] == "responsible"
    assert one["cc"] == ["martin@dupont.example", firm_mail]

    # Durand's own list replaces the firm's...
    me = put("/api/me/reminders", {"mode": "custom", "leads": ["24h"]}, "durand")
    assert me["effective_leads"] == ["24h"] and me["leads"] == ["24h"]
    assert d["id"] not in listed()
    # ... unless the firm enforces its own: then both apply, and nobody opts out.
    put("/api/me/reminders", {"mode": "off"}, "zoe")
    put("/api/firm/settings", {"reminder_leads_enforced": True}, "admin")
    me = worker.get("/api/me/reminders", token=tokens["durand"]).json()
    assert me["effective_leads"] == ["72h", "morning", "24h"] and me["firm_enforced"] is True
    assert listed()[d["id"]]["lead"] == "72h"
    r = worker.request("PUT", "/api/me/reminders", {"mode": "off"}, token=tokens["zoe"])
    assert r.status == 409, r.text
    assert worker.get("/api/me/reminders", token=tokens["zoe"]).json()["mode"] == "firm"
    put("/api/firm/settings", {"reminder_leads_enforced": False}, "admin")
    for bad in ({"mode": "custom"}, {"mode": "firm", "leads": ["1h"]},
                {"mode": "custom", "leads": ["1h", "1h"]}, {"mode": "sometimes"}):
        r = worker.request("PUT", "/api/me/reminders", bad, token=tokens["durand"])
        assert r.status == 400, (bad, r.text)
    put("/api/me/reminders", {"mode": "firm"}, "durand")

    # Zoe responsible, opted out: the fallback is told instead, and says why.
    r = worker.request("PATCH", f"/api/deadlines/{d['id']}",
                       {"responsible_user_id": ids["zoe"]}, token=tokens["durand"])
    assert r.status == 200 and r.json()["responsible"] == "zoe", r.text
    one = listed()[d["id"]]
    assert one["to"] == "martin@dupont.example" and one["to_role"] == "fallback"
    assert one["responsible_status"] == "opted_out" and one["cc"] == [firm_mail]
    # Without a fallback, the firm's address; the fallback cannot be the responsible.
    r = worker.request("PATCH", f"/api/deadlines/{d['id']}", {"fallback_user_id": None},
                       token=tokens["durand"])
    assert r.status == 200 and r.json()["fallback_user_id"] is None, r.text
    one = listed()[d["id"]]
    assert one["to"] == firm_mail and one["cc"] == []
    r = worker.request("PATCH", f"/api/deadlines/{d['id']}", {"fallback_user_id": ids["zoe"]},
                       token=tokens["durand"])
    assert r.status == 422 and "fallback_user_id" in r.json()["detail"], r.text
    r = worker.request("PATCH", f"/api/deadlines/{d['id']}", {"responsible_user_id": 9999},
                       token=tokens["durand"])
    assert r.status == 422 and r.json()["field"] == "responsible_user_id", r.text
    r = worker.request("PATCH", f"/api/deadlines/{d['id']}", {}, token=tokens["durand"])
    assert r.status == 400, r.text

    # Sent once, listed no more; the mark takes the chosen leads.
    r = worker.request("POST", f"/internal/reminders/{d['id']}-72h/sent", headers=good)
    assert r.status == 200, r.text
    assert d["id"] not in listed()

    if worker.backend == "sqlite":
        # A disabled responsible lawyer (no route disables users yet): the
        # fallback becomes To on a fresh deadline.
        r = worker.post("/api/deadlines", dict(in_72h(), fallback_user_id=ids["martin"]),
                        token=tokens["durand"])
        assert r.status == 201, r.text
        e = r.json()
        db = sqlite3.connect(os.path.join(worker.data_dir, "dupont.db"))
        try:
            db.execute("UPDATE users SET active = 0 WHERE id = ?", (ids["durand"],))
            db.commit()
        finally:
            db.close()
        one = listed()[e["id"]]
        assert one["to"] == "martin@dupont.example" and one["responsible_status"] == "disabled"
        r = worker.post("/api/deadlines", dict(in_72h(), responsible_user_id=ids["durand"]),
                        token=tokens["martin"])
        assert r.status == 422 and "responsible_user_id" in r.json()["detail"], r.text
