"""
Legal deadlines through the real tenant-worker: the set of procedure types is
dated (GET /api/deadlines/types?date=), POST /api/deadlines computes under the
rule in force on the notification date, refuses with 422 a type not in force
then (naming the types that are) and a rule in hours without the time of
notification, and answers deadline_at for every rule.
"""
import pytest

from tenantd_test.worker import Worker


@pytest.fixture
def worker(request):
    w = Worker()
    yield w
    failed = request.node.rep_call.failed if hasattr(request.node, "rep_call") else True
    w.cleanup(failed, request.node.name)


@pytest.fixture
def token(worker):
    pw = worker.create_admin("admin")
    worker.start()
    return worker.login("admin", pw)


def types_on(worker, token, date=None):
    r = worker.get("/api/deadlines/types" + (f"?date={date}" if date else ""), token=token)
    assert r.status == 200, r.text
    return {t["type"]: t for t in r.json()}


def test_types_are_dated(worker, token):
    # Before the 2024 reform: the OQTF types key on the voluntary-departure period.
    before = types_on(worker, token, "2024-07-14")
    assert {"oqtf_avec_delai", "oqtf_sans_delai", "oqtf_retention"} <= set(before)
    assert "oqtf_ordinaire" not in before and "oqtf_assignation_detention" not in before
    assert "L. 614-8" in before["oqtf_retention"]["reference"]
    # From 15 July 2024 (loi n° 2024-42, décret n° 2024-799): on the measure
    # restricting liberty.
    after = types_on(worker, token, "2024-07-15")
    assert {"oqtf_ordinaire", "oqtf_assignation_detention", "oqtf_retention"} <= set(after)
    assert "oqtf_avec_delai" not in after and "oqtf_sans_delai" not in after
    assert "L. 921-2" in after["oqtf_retention"]["reference"]
    # Without a date: today's set, which is the current regime.
    today = types_on(worker, token)
    assert "oqtf_ordinaire" in today and "oqtf_sans_delai" not in today
    t = today["oqtf_assignation_detention"]
    assert t["duration"] == 7 and t["unit"] == "days" and t["franc"] is False
    assert t["extends_to_working_day"] is False and t["needs_time"] is False
    assert t["valid_from"] == "2024-07-15" and t["valid_until"] is None
    assert isinstance(t["confirmed"], bool) and t["checked"] and t["source"]
    assert today["oqtf_retention"]["needs_time"] is True
    # Nothing before the first date the file encodes.
    assert types_on(worker, token, "2021-04-30") == {}


@pytest.mark.parametrize("query", ["date=2024-02-30", "date=15/07/2024", "date=", "day=2024-07-15",
                                   "date=2024-07-15&date=2024-07-16"])
def test_types_bad_date_is_400(worker, token, query):
    r = worker.get(f"/api/deadlines/types?{query}", token=token)
    assert r.status == 400, (query, r.text)
    assert r.json()["error"] == "invalid_request"


def test_type_not_in_force_is_422_naming_those_that_are(worker, token):
    r = worker.post("/api/deadlines", {"type": "oqtf_sans_delai", "notification_date": "2025-03-03",
                                       "notification_time": "10:00"}, token=token)
    assert r.status == 422, r.text
    body = r.json()
    assert body["error"] == "type_not_in_force" and "oqtf_sans_delai" in body["detail"]
    assert "oqtf_retention" in body["types"] and "oqtf_sans_delai" not in body["types"]
    assert body["notification_date"] == "2025-03-03"
    # The other way round: a new type for a notification under the old regime.
    r = worker.post("/api/deadlines", {"type": "oqtf_ordinaire", "notification_date": "2024-07-14"},
                    token=token)
    assert r.status == 422, r.text
    assert "oqtf_avec_delai" in r.json()["types"]
    # An unknown type too; a malformed date stays a 400.
    r = worker.post("/api/deadlines", {"type": "nope", "notification_date": "2025-03-03"}, token=token)
    assert r.status == 422 and r.json()["error"] == "type_not_in_force"
    r = worker.post("/api/deadlines", {"type": "nope", "notification_date": "2025-02-30"}, token=token)
    assert r.status == 400


def test_hours_need_the_time_of_notification(worker, token):
    r = worker.post("/api/deadlines", {"type": "oqtf_retention", "notification_date": "2026-11-27"},
                    token=token)
    assert r.status == 422, r.text
    assert r.json()["error"] == "notification_time_required"
    for bad in ("24:00", "9:30", "16h00", "16:00:00"):
        r = worker.post("/api/deadlines", {"type": "oqtf_retention", "notification_date": "2026-11-27",
                                           "notification_time": bad}, token=token)
        assert r.status == 400, (bad, r.text)
    # CESEDA L. 921-2: 48 hours hour to hour, Friday 16:00 → Sunday 16:00.
    r = worker.post("/api/deadlines", {"type": "oqtf_retention", "notification_date": "2026-11-27",
                                       "notification_time": "16:00"}, token=token)
    assert r.status == 201, r.text
    d = r.json()
    assert d["deadline_date"] == "2026-11-29" and d["deadline_at"] == "2026-11-29T16:00"
    assert d["notification_time"] == "16:00" and d["extended"] is False
    assert d["rule"]["unit"] == "hours" and "L. 921-2" in d["rule_reference"]


def test_deadline_at_for_every_rule_and_previous_regime(worker, token):
    # CESEDA L. 921-1, house arrest: Friday → next Friday, until midnight, not franc.
    r = worker.post("/api/deadlines", {"type": "oqtf_assignation_detention",
                                       "notification_date": "2026-11-27"}, token=token)
    assert r.status == 201, r.text
    d = r.json()
    assert d["deadline_date"] == "2026-12-04" and d["deadline_at"] == "2026-12-04T23:59"
    assert d["franc"] is False and d["previous_regime"] is False
    assert d["confirmed"] is d["rule"]["confirmed"]
    # CESEDA L. 911-1: one month; 28 February 2026 is a Saturday.
    r = worker.post("/api/deadlines", {"type": "oqtf_ordinaire", "notification_date": "2026-01-31"},
                    token=token)
    d = r.json()
    assert r.status == 201 and d["deadline_date"] == "2026-03-02" and d["extended"] is True
    assert d["deadline_at"] == "2026-03-02T23:59"
    # Notified under the previous regime: the rule then in force, flagged.
    r = worker.post("/api/deadlines", {"type": "oqtf_sans_delai", "notification_date": "2024-07-12",
                                       "notification_time": "16:00"}, token=token)
    assert r.status == 201, r.text
    d = r.json()
    assert d["deadline_at"] == "2024-07-14T16:00" and d["previous_regime"] is True
    assert d["rule"]["valid_until"] == "2024-07-14" and "L. 614-6" in d["rule_reference"]
    # The list shows the same, rule included, for every stored deadline.
    listed = worker.get("/api/deadlines", token=token).json()
    assert len(listed) == 3 and all(x["deadline_at"] and x["rule"] for x in listed)
    assert [x["previous_regime"] for x in listed] == [True, False, False]


def test_tenantctl_check_validates_the_worker_rule_files(root):
    """tenantctl check runs tenant-worker --check-rules on the templates' rule
    files: two rules of one type with overlapping periods make it fail."""
    import os
    import shutil
    r = root.tenantctl("check")
    assert "rule files are valid" in r.stdout, r.stdout + r.stderr
    tpl = os.path.join(root.path, "tpl")
    shutil.copytree(root.global_cfg["tenantd"]["templates"], tpl)
    rules = os.path.join(tpl, "worker", "rules", "deadlines.rules")
    with open(rules, "a") as f:
        f.write("\n[oqtf_ordinaire]\nlabel = Doublon\nduration = 2\nunit = months\n"
                "calendar = franc\nreference = X\nvalid_from = 2025-01-01\nconfirmed = no\n")
    root.write_global(tenantd={"templates": tpl})
    r = root.tenantctl("check", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "overlap" in r.stderr and "oqtf_ordinaire" in r.stderr
