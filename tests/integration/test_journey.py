"""
A firm's whole journey, end to end, the way a vendor and its clients use the product:
two firms onboarded with one tenantctl command each on a running tenantd, then used
only through the managed nginx by their subdomains (Host header), with the first
admin account tenantctl printed. Checks the plan limits, concurrent invoice numbering,
deadlines, billing, and that a session of one firm opens nothing at the other.
"""
import concurrent.futures
import http.client
import json
import os
import shutil

import pytest

from tenantd_test import http_request, wait_for

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None and
                                not os.path.exists("/usr/sbin/nginx"),
                                reason="nginx is not installed")


class Firm:
    """One onboarded firm, reached through nginx by its Host header."""

    def __init__(self, root, onboarded):
        self.root = root
        self.id = onboarded["id"]
        self.host = f"{self.id}.localhost"
        self.admin = onboarded["admin"]
        self.token = None

    def call(self, method, path, body=None, token=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.root.proxy_port, timeout=20)
        headers = {"Host": self.host}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return http_request(conn, method, path, body, headers)

    def login(self, username, password):
        r = self.call("POST", "/api/auth/login", {"username": username, "password": password})
        assert r.status == 200, (self.id, r.status, r.text)
        return r.json()["token"]


def onboard(root, tid, name, plan):
    r = root.tenantctl("onboard", tid, name, plan, "--json")
    return Firm(root, json.loads(r.stdout))


@pytest.fixture
def two_firms(root):
    root.write_global(proxy={"mode": "managed"})
    root.start(wait_ids=[])
    a = onboard(root, "durand", "Cabinet Durand & Associés", "starter")
    b = onboard(root, "leroy", "Leroy Avocats", "professional")
    for f in (a, b):
        # The page a firm's users open is served through nginx by the firm's own name.
        wait_for(lambda f=f: f.call("GET", "/").status == 200, what=f"{f.host} through nginx")
        assert root.status(f.id)["state"] == "running"
        f.token = f.login("admin", f.admin["password"])
    return a, b


def test_home_pages_are_each_firms_own(two_firms):
    a, b = two_firms
    assert "Cabinet Durand &amp; Associés" in a.call("GET", "/").text
    assert "Leroy Avocats" in b.call("GET", "/").text
    assert "Durand" not in b.call("GET", "/").text


def test_a_session_of_one_firm_opens_nothing_at_the_other(two_firms):
    a, b = two_firms
    assert a.call("GET", "/api/me", token=a.token).status == 200
    for path in ("/api/me", "/api/invoices", "/api/analyses", "/api/billing/usage"):
        r = b.call("GET", path, token=a.token)
        assert r.status == 401, (path, r.status, r.text)
        assert r.json()["error"]
    # The same username and password exist at both firms, yet the accounts stay apart.
    assert b.call("POST", "/api/auth/login",
                  {"username": "admin", "password": a.admin["password"]}).status == 401


def test_users_up_to_the_plan_limit(two_firms):
    a, _ = two_firms  # starter: 3 users, the first admin included
    for i, role in enumerate(("lawyer", "assistant")):
        r = a.call("POST", "/api/users",
                   {"username": f"user{i}", "password": "correct horse battery", "role": role},
                   token=a.token)
        assert r.status == 201, r.text
        assert r.json()["role"] == role
    r = a.call("POST", "/api/users",
               {"username": "one-too-many", "password": "correct horse battery",
                "role": "lawyer"}, token=a.token)
    assert r.status in (402, 403), r.text
    assert r.json()["error"] == "plan_limit" and r.json()["limit"] == "max_users"
    lawyer = a.login("user0", "correct horse battery")
    assert a.call("GET", "/api/me", token=lawyer).json()["role"] == "lawyer"


def test_analyses_up_to_the_monthly_limit_then_billing(two_firms):
    a, _ = two_firms  # starter: 100 analyses a month, no overage: the limit blocks
    text = ("Mon client fait l'objet d'une OQTF sans délai notifiée hier; il vit en France "
            "depuis 12 ans avec son épouse française et leurs deux enfants scolarisés.")
    first = a.call("POST", "/api/analyses", {"case_text": text}, token=a.token)
    assert first.status == 201, first.text
    res = first.json()
    assert 0 <= res["success_rate"] <= 1 and res["urgency"] in ("critical", "high")
    assert res["model"] == "ceseda-basic-v1"
    assert res["positive_factors"] == len([f for f in res["factors"] if f["weight"] > 0])
    for _ in range(99):
        assert a.call("POST", "/api/analyses", {"case_text": text}, token=a.token).status == 201
    over = a.call("POST", "/api/analyses", {"case_text": text}, token=a.token)
    assert over.status in (402, 429), over.text
    assert over.json()["error"] == "plan_limit"
    assert over.json()["limit"] == "max_analysis_monthly"
    usage = a.call("GET", "/api/billing/usage", token=a.token).json()
    for key in ("client_id", "month", "analyses_used", "analyses_limit", "users_active",
                "users_limit", "overage_fees", "total_due"):
        assert key in usage, key
    assert usage["client_id"] == "durand"
    assert usage["analyses_used"] == 100 and usage["analyses_limit"] == 100
    assert usage["users_limit"] == 3 and usage["overage_fees"] == 0
    assert usage["total_due"] == 99.0 and usage["plan"] == "starter"
    listed = a.call("GET", "/api/analyses?limit=200", token=a.token).json()
    assert len(listed) == 100


def test_concurrent_invoices_get_consecutive_numbers(two_firms):
    a, b = two_firms

    def create(firm, i):
        r = firm.call("POST", "/api/invoices",
                      {"client_name": f"Client {i}",
                       "items": [{"description": "Consultation", "quantity": 2,
                                  "unit_price_cents": 15050}]}, token=firm.token)
        assert r.status == 201, r.text
        return r.json()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: create(a if i % 2 else b, i), range(40)))
    for firm in (a, b):
        mine = [m for i, m in enumerate(made) if (firm is a) == bool(i % 2)]
        seqs = sorted(int(m["numero"].split("-")[1]) for m in mine)
        assert seqs == list(range(1, len(mine) + 1)), seqs  # no gap, no duplicate
    inv = made[0]
    assert inv["montant_ht_cents"] == 30100
    assert inv["montant_ttc_cents"] == inv["montant_ht_cents"] + inv["tva_cents"]
    assert inv["tva_cents"] == 6020 and inv["status"] == "draft"


def test_deadlines_most_urgent_first(two_firms):
    _, b = two_firms
    types = b.call("GET", "/api/deadlines/types", token=b.token).json()
    assert types and all("type" in t and "label" in t for t in types)
    made = []
    for t in types[:3]:
        r = b.call("POST", "/api/deadlines",
                   {"type": t["type"], "notification_date": "2026-11-20",
                    "description": f"Dossier {t['type']}"}, token=b.token)
        assert r.status == 201, r.text
        made.append(r.json())
    listed = b.call("GET", "/api/deadlines", token=b.token).json()
    dates = [d["deadline_date"] for d in listed]
    assert dates == sorted(dates) and len(listed) == len(made)
