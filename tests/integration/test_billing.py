"""tenantctl billing --month: the vendor's monthly statement per firm (issue 21).

Real tenantd, real workers and SQLite: the usage comes from analyses created
through the worker's API, the prices from the repository's plans.ini.
"""
import csv
import http.client
import io
import json
import time

from tenantd_test import http_request, wait_for


def login(root, tid):
    r = root.tenantctl("create-admin", tid, "alice")
    pw = dict(line.split(": ", 1) for line in r.stdout.splitlines())["password"]
    port = root.status(tid)["port"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    tok = http_request(conn, "POST", "/api/auth/login",
                       {"username": "alice", "password": pw}).json()["token"]
    return port, {"Authorization": "Bearer " + tok}


def analyse(port, bearer, n):
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        r = http_request(conn, "POST", "/api/analyses",
                         {"case_text": "Conjoint de francais, dix ans de presence"}, bearer)
        assert r.status == 201, r.text


def this_month():
    return time.strftime("%Y-%m", time.gmtime())


def statements(root, month):
    r = root.tenantctl("billing", "--month", month, "--json")
    return {s["id"]: s for s in json.loads(r.stdout)}


def test_billing_plan_prices_and_overage(root):
    # professional: 299 EUR, 0.50 EUR per analysis over the limit (lowered to 2
    # here); starter: 99 EUR, the limit blocks; enterprise: 599 EUR.
    # The demo firms of tenants.d/ (their names and plans).
    root.add_tenant("dupont", "professional", name="Cabinet Dupont & Associés",
                    limits={"max_analysis_monthly": "2"})
    root.add_tenant("martin", "starter", name="Cabinet Martin")
    root.add_tenant("bernard", "enterprise", name="Cabinet Bernard")
    root.start()
    port, bearer = login(root, "dupont")
    analyse(port, bearer, 5)
    month = this_month()

    s = statements(root, month)
    assert sorted(s) == ["bernard", "dupont", "martin"]
    d = s["dupont"]
    assert d["plan"] == "professional" and d["month"] == month
    assert d["analyses_used"] == 5 and d["analyses_limit"] == 2 and d["overage_count"] == 3
    assert d["plan_price"] == 299.0 and d["overage_fees"] == 1.5 and d["total_due"] == 300.5
    assert d["total_due_cents"] == 30050 and d["usage_recorded"] is True
    assert (s["martin"]["plan"], s["martin"]["plan_price"], s["martin"]["overage_fees"],
            s["martin"]["total_due"]) == ("starter", 99.0, 0, 99.0)
    assert s["bernard"]["total_due"] == 599.0 and s["bernard"]["overage_fees"] == 0
    # The worker's own bill agrees.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    own = http_request(conn, "GET", "/api/billing/usage", None, bearer).json()
    assert own["total_due"] == d["total_due"] and own["overage_fees"] == d["overage_fees"]

    # CSV for the accounting: a header line, one row per firm, amounts in euros.
    r = root.tenantctl("billing", "--month", month)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert r.stdout.startswith("id,name,plan,month,")
    by_id = {row["id"]: row for row in rows}
    assert (by_id["dupont"]["plan_price"], by_id["dupont"]["overage_fees"],
            by_id["dupont"]["total_due"]) == ("299.00", "1.50", "300.50")
    assert by_id["dupont"]["name"] == "Cabinet Dupont & Associés"
    assert by_id["martin"]["total_due"] == "99.00"

    # The counts are kept in state.db: after a restart of tenantd, with the
    # worker stopped (it cannot be asked), the month's statement still holds them.
    root.stop()
    root.start()
    assert root.post("/v1/tenants/dupont/stop").status == 202
    root.wait_state("dupont", "stopped")
    r = root.tenantctl("billing", "--month", month, "--json")
    d = {x["id"]: x for x in json.loads(r.stdout)}["dupont"]
    assert d["analyses_used"] == 5 and d["total_due"] == 300.5 and d["usage_recorded"]
    assert "dupont: usage not refreshed" not in r.stderr  # a stopped tenant is not asked


def test_billing_past_month_and_bad_input(root):
    root.add_tenant("dupont", "professional")
    root.start()
    # Nothing recorded in 2020: the plan's price, no overage, marked as such.
    s = statements(root, "2020-01")
    assert s["dupont"]["total_due"] == 299.0 and s["dupont"]["usage_recorded"] is False
    assert s["dupont"]["month"] == "2020-01"
    for bad in ("2020-13", "20-01", "2020-1", "2020-01x", "abcd-ef"):
        r = root.tenantctl("billing", "--month", bad, check=False)
        assert r.returncode == 2 and "YYYY-MM" in r.stderr, (bad, r.stderr)
    r = root.get("/v1/billing?month=2020-00")
    assert r.status == 400 and "YYYY-MM" in r.json()["detail"]
    assert root.get("/v1/billing", via="tcp").status == 401


def test_usage_recorded_periodically_without_anyone_asking(root):
    # [tenantd] usage_record_every: tenantd asks each running worker by
    # itself, so the month's last analyses are kept for its statement.
    root.write_global(tenantd={"usage_record_every": "300ms"})
    root.add_tenant("dupont", "professional", limits={"max_analysis_monthly": "1"})
    root.start()
    port, bearer = login(root, "dupont")
    analyse(port, bearer, 3)
    month = this_month()

    def recorded():
        # GET /v1/billing itself asks no worker: only the recorder can have kept it.
        s = root.get(f"/v1/billing?month={month}").json()["statements"]
        d = [x for x in s if x["id"] == "dupont"][0]
        return d if d["analyses_used"] == 3 else None
    d = wait_for(recorded, what="the recorder to keep dupont's usage")
    assert d["usage_recorded"] and d["overage_count"] == 2 and d["total_due"] == 300.0
