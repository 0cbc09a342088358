"""Alert, off-site and certificate status survive a restart of tenantd and an
in-place upgrade (issue 21; supervisor/tenantd/statedb_kv.c): they live in
run/state.db's status_kv table, written on change and loaded at start.

Real tenantd, real workers, a loopback webhook (test_alerts.Hook), a real restic
repository in the test's folder, Debian's pebble for the ACME part.
"""
import json
import os
import sqlite3
import time

import pytest

import test_acme
from tenantd_test import helper, wait_for
from test_acme import pebble_for  # noqa: F401  (a fixture)
from test_alerts import Hook, secret_file
from test_offsite import restic, start_with_offsite


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def events(hook, tenant, kind="tenant_failed"):
    return [j["event"] for _, _, j in hook.events(kind) if j["tenant"] == tenant]


def active(root):
    return {(a["tenant"], a["kind"]): a for a in root.get("/v1/alerts").json()["active"]}


def status_rows(root, kind):
    db = sqlite3.connect(f"file:{os.path.join(root.run_dir, 'state.db')}?mode=ro", uri=True)
    try:
        return db.execute("SELECT tenant, item, value FROM status_kv WHERE kind = ? "
                          "ORDER BY tenant, item", (kind,)).fetchall()
    finally:
        db.close()


def exit78():
    return {"command": helper("exit78"), "socket": "passed"}


def test_alert_is_not_sent_again_after_restart_or_upgrade_and_recovers_once(root, hook):
    root.write_global(
        alerts={"webhook": f"http://127.0.0.1:{hook.port}/hook",
                "webhook_secret_file": secret_file(root), "check_every": "200ms"})
    port = root.add_tenant("crash", worker=exit78())
    root.start(wait_ids=[])
    root.wait_state("crash", "failed")
    wait_for(lambda: events(hook, "crash") == ["fired"], what="the alert")
    since = active(root)[("crash", "tenant_failed")]["since"]
    [(tenant, item, value)] = status_rows(root, "alert")
    assert (tenant, item) == ("crash", "tenant_failed") and json.loads(value)["since"] > 0

    def probe(tid):
        """A new failed tenant: its alert proves that check rounds ran while crash
        was failed again (deliveries go out one at a time, in order)."""
        root.add_tenant(tid, worker=exit78())
        root.wait_state(tid, "failed")
        wait_for(lambda: events(hook, tid) == ["fired"], what=f"{tid}'s alert")

    # A real stop and start on the same root: crash starts again and fails again.
    root.stop()
    root.start(wait_ids=[])
    assert "1 active alert(s) carried over from state.db" in root.log()
    root.wait_state("crash", "failed")
    probe("probe-a")
    assert events(hook, "crash") == ["fired"]
    assert active(root)[("crash", "tenant_failed")]["since"] == since

    # An in-place upgrade (the failed state is handed over as it is).
    root.tenantctl("upgrade")
    probe("probe-b")
    assert events(hook, "crash") == ["fired"]
    assert active(root)[("crash", "tenant_failed")]["since"] == since

    # Fixed while tenantd is down: the recovery notice still goes out, once.
    root.stop()
    root.add_tenant("crash", port=port, worker={"command": helper("miniworker"),
                                                "socket": "passed"})
    root.start(wait_ids=["crash"])
    wait_for(lambda: events(hook, "crash") == ["fired", "recovered"], what="the recovery")
    _, body, j = [e for e in hook.events("tenant_failed")
                  if e[2]["tenant"] == "crash" and e[2]["event"] == "recovered"][0]
    assert j["detail"].startswith("the tenant is failed"), j
    # Later rounds send nothing more about crash: probe-a recovers after it.
    root.add_tenant("probe-a", worker={"command": helper("miniworker"), "socket": "passed"})
    root.wait_state("probe-a", "running")
    wait_for(lambda: events(hook, "probe-a") == ["fired", "recovered"],
             what="probe-a's recovery")
    assert events(hook, "crash") == ["fired", "recovered"]
    assert ("crash", "tenant_failed") not in active(root)
    assert [r[0] for r in status_rows(root, "alert")] == ["probe-b"]


def test_offsite_last_verified_copy_survives_a_restart(root):
    repo, pwfile, port, token = start_with_offsite(root, "of-keep", verify_every="1s")
    root.tenantctl("backup", "of-keep", "--json")
    off = wait_for(lambda: (lambda o: o if o and o["last_verified_ok"] else None)(
        root.status("of-keep").get("offsite")), timeout=60, what="a passed restore test")
    snaps = json.loads(restic(repo, pwfile, "snapshots", "--json").stdout)
    assert snaps[0]["id"].startswith(off["last_snapshot"])

    # More restore tests may pass until the stop: what status shows after the
    # restart is the record the stop left. No restore test after the restart
    # (verify_every = 0): what status shows comes from state.db alone.
    root.stop()
    [(tenant, _, value)] = status_rows(root, "offsite")
    rec = json.loads(value)
    assert tenant == "of-keep" and rec["verified_ok"] is True and rec["error"] == "", rec
    root.write_global(offsite={"verify_every": "0"})
    root.start()
    after = root.status("of-keep")["offsite"]

    def iso(t):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    assert after["last_copy"] == off["last_copy"] == iso(rec["copied"]), (off, after)
    assert after["last_snapshot"] == off["last_snapshot"] == rec["snapshot"]
    assert after["last_verified"] == iso(rec["verified"]) >= off["last_verified"], (off, after)
    assert after["last_verified_ok"] is True and after["last_error"] is None, after
    m = root.get("/metrics").text
    assert 'tenantd_tenant_offsite_last_verified_timestamp_seconds{tenant="of-keep"}' in m


@pytest.mark.skipif(None in (test_acme.PEBBLE, test_acme.CHALLTESTSRV, test_acme.LEGO,
                             test_acme.CURL) or not os.path.exists(test_acme.NGINX),
                    reason="pebble, pebble-challtestsrv, lego, curl and nginx are needed")
def test_acme_refusal_and_its_retry_time_survive_a_restart(root, pebble_for):
    pb = pebble_for(root, blocklist=["refused.localhost"])
    tls_port = test_acme.ports_outside(root, 1)
    root.write_global(
        proxy={"mode": "managed", "tls_port": str(tls_port)},
        acme={"enabled": "true", "directory": pb.directory, "email": "ops@example.org",
              "ca_bundle": str(pb.ca), "retry_min": "10m", "retry_max": "1h", "timeout": "30s"})
    test_acme.add(root, "refused")
    root.start()
    c = wait_for(lambda: (lambda c: c if c["state"] == "error" else None)(
        test_acme.cert_of(root, "refused")), timeout=30, what="the refusal")
    assert 0 < c["next_attempt_in_s"] <= 600, c
    asked = "acme: requesting a certificate for refused.localhost"
    assert root.log().count(asked) == 1

    root.stop()
    root.start()
    # Until the proxy's first rendering the tenant is "pending"; then its record is
    # back: the same error, the retry still ahead, and no new request meanwhile.
    after = wait_for(lambda: (lambda c: c if c["state"] != "pending" else None)(
        test_acme.cert_of(root, "refused")), timeout=30, what="the record read back")
    assert after["state"] == "error" and after["last_error"] == c["last_error"], after
    assert 0 < after["next_attempt_in_s"] <= c["next_attempt_in_s"], (c, after)
    assert "acme: last issuance failed" in root.log()
    assert root.log().count(asked) == 1
    [(tenant, _, value)] = status_rows(root, "acme")
    assert tenant == "refused" and json.loads(value)["failures"] == 1
