"""Waiting for a tenant's state on events, not by polling: GET ?wait= with several states,
and `tenantctl wait` (used by `make run` to wait for the demo firms)."""
import json
import time

from tenantd_test import helper


def test_wait_any_of_several_states(root):
    """?wait=running,failed is answered by whichever comes; unknown words are 400."""
    root.add_tenant("dupont")
    root.add_tenant("cfgerr", worker={"command": helper("exit78"), "socket": "passed"})
    root.start(wait_ids=[])
    r = root.get("/v1/tenants/dupont?wait=running,failed&timeout=15000")
    assert r.status == 200 and r.json()["reached"] is True and r.json()["state"] == "running"
    r = root.get("/v1/tenants/cfgerr?wait=running,failed&timeout=15000")
    assert r.status == 200 and r.json()["reached"] is True and r.json()["state"] == "failed"
    for q in ("wait=running,", "wait=,failed", "wait=running,sleeping"):
        r = root.get(f"/v1/tenants/dupont?{q}")
        assert r.status == 400, (q, r.status, r.text)


def test_tenantctl_wait(root):
    """tenantctl wait: exit 0 and "<id>: <state>" when reached, the reason of a failed
    tenant, exit 1 at the timeout, 4 for an unknown tenant, 2 for a bad command line."""
    root.add_tenant("dupont")
    root.add_tenant("cfgerr", worker={"command": helper("exit78"), "socket": "passed"})
    root.start(wait_ids=[])
    r = root.tenantctl("wait", "dupont", "running,failed", "--timeout", "20")
    assert r.stdout.strip() == "dupont: running", r.stdout
    r = root.tenantctl("wait", "cfgerr", "running,failed", "--timeout", "20")
    assert r.stdout.startswith("cfgerr: failed: "), r.stdout
    assert "78" in r.stdout
    t0 = time.monotonic()
    r = root.tenantctl("wait", "dupont", "suspended", "--timeout", "0.4", check=False)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert 0.3 <= time.monotonic() - t0 < 10
    assert r.stdout.strip() == "dupont: running"
    assert "not suspended" in r.stderr
    r = root.tenantctl("--json", "wait", "dupont", "running")
    body = json.loads(r.stdout)
    assert body["reached"] is True and body["id"] == "dupont"
    assert root.tenantctl("wait", "nosuch", "running", "--timeout", "1",
                          check=False).returncode == 4
    for args in (("wait", "dupont"), ("wait", "dupont", "Running"),
                 ("wait", "dupont", "running", "--timeout", "x")):
        assert root.tenantctl(*args, check=False).returncode == 2, args


def test_tenantctl_wait_answers_on_the_change(root):
    """A wait started before the change is answered by it, long before the timeout."""
    root.add_tenant("dupont")
    root.start()
    assert root.post("/v1/tenants/dupont/stop").status == 202
    t0 = time.monotonic()
    r = root.tenantctl("wait", "dupont", "stopped", "--timeout", "60")
    assert r.stdout.strip() == "dupont: stopped"
    assert time.monotonic() - t0 < 20
