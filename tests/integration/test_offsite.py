"""
Off-site copies with restic ([offsite] in tenantd.ini, docs/backups.md):
a local restic repository in the test's folder, a real restic, a real worker.
After a backup the repository holds an encrypted snapshot tagged with the
tenant; the periodic restore test reads it back and the status says so; a
firm restored from the off-site copy answers with its earlier data.
"""
import json
import os
import subprocess

from tenantd_test import binpath, wait_for
from tenantd_test.workload import bootstrap_admin, login, worker_request

CANARY = "Cabinet-Canary-Offsite-7731"


def restic(repo, pwfile, *args):
    """restic 0.14 has no --retry-lock: tenantd's own restic may hold the
    repository's lock for a moment, so retry while it says so."""
    def once():
        r = subprocess.run(["restic", "-r", repo, "--password-file", pwfile, "--no-cache", *args],
                           capture_output=True, text=True, timeout=120)
        if r.returncode == 0:
            return r
        assert "lock" in r.stderr, r.stderr
        return None
    return wait_for(once, timeout=60, interval=0.2, what=f"restic {args[0]}")


def start_with_offsite(root, tid, **extra):
    repo = os.path.join(root.path, "offsite-repo")
    pwfile = os.path.join(root.path, "restic.pw")
    with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("correct horse battery staple\n")
    root.write_global(offsite={"repository": repo, "password_file": pwfile, **extra})
    root.add_tenant(tid)
    root.start()
    pw = bootstrap_admin(root, tid, binpath)
    port = root.status(tid)["port"]
    return repo, pwfile, port, login(port, "admin", pw)


def add_invoice(port, token, client):
    st, body = worker_request(port, "POST", "/api/invoices", {
        "client_name": client,
        "items": [{"description": "Consultation", "quantity": 1, "unit_price_cents": 15000}]}, token)
    assert 200 <= st < 300, (st, body)
    return body["numero"]


def clients(port, token):
    st, body = worker_request(port, "GET", "/api/invoices", token=token)
    assert st == 200, (st, body)
    items = body["items"] if isinstance(body, dict) and "items" in body else body
    return sorted(i["client_name"] for i in items)


def test_copy_is_encrypted_tagged_and_restore_tested(root):
    repo, pwfile, port, token = start_with_offsite(root, "of-dupont", verify_every="1s")
    add_invoice(port, token, CANARY)
    path = json.loads(root.tenantctl("backup", "of-dupont", "--json").stdout)["path"]
    with open(path, "rb") as f:
        assert CANARY.encode() in f.read()  # in clear in the local backup

    off = wait_for(lambda: (root.status("of-dupont").get("offsite") or {}).get("last_copy") and
                   root.status("of-dupont")["offsite"], timeout=60, what="an off-site copy")
    assert off["last_error"] is None, off
    snaps = json.loads(restic(repo, pwfile, "snapshots", "--json").stdout)
    assert len(snaps) == 1 and snaps[0]["tags"] == ["tenant=of-dupont"], snaps
    assert snaps[0]["id"].startswith(off["last_snapshot"]), (snaps, off)
    assert any(p.endswith(os.path.basename(path)) for p in snaps[0]["paths"]), snaps

    # Encrypted: no file of the repository holds the canary in clear.
    n = 0
    for d, _, files in os.walk(repo):
        for name in files:
            with open(os.path.join(d, name), "rb") as f:
                assert CANARY.encode() not in f.read(), name
            n += 1
    assert n > 3
    # A wrong password opens nothing.
    bad = os.path.join(root.path, "bad.pw")
    with open(bad, "w") as f:
        f.write("wrong\n")
    r = subprocess.run(["restic", "-r", repo, "--password-file", bad, "--no-cache", "snapshots"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0

    off = wait_for(lambda: root.status("of-dupont")["offsite"]["last_verified_ok"] and
                   root.status("of-dupont")["offsite"], timeout=60, what="a passed restore test")
    assert off["last_verified"] and off["last_error"] is None, off
    assert "off-site restore test passed" in root.log()
    m = root.get("/metrics").text
    assert 'tenantd_tenant_offsite_last_copy_timestamp_seconds{tenant="of-dupont"}' in m
    assert 'tenantd_tenant_offsite_last_verified_timestamp_seconds{tenant="of-dupont"}' in m
    # Nothing restored is left behind in the run dir once tenantd stops.
    root.stop()
    assert not any(n.startswith("verify-") for n in os.listdir(os.path.join(root.run_dir, "offsite")))


def test_retention_keeps_keep_last_snapshots_of_the_tenant(root):
    repo, pwfile, port, token = start_with_offsite(root, "of-martin", keep_last="2", verify_every="0")
    for i in range(3):
        add_invoice(port, token, f"Client {i}")
        root.tenantctl("backup", "of-martin", "--json")
        # one copy at a time: wait for this one (and its forget) before the next backup
        wait_for(lambda: root.log().count("off-site copy written") >= i + 1, timeout=60,
                 what=f"copy {i + 1}")
    snaps = wait_for(lambda: (lambda v: len(v) == 2 and v)(
        json.loads(restic(repo, pwfile, "snapshots", "--json").stdout)),
        timeout=60, what="forget --prune down to keep_last")
    assert all(x["tags"] == ["tenant=of-martin"] for x in snaps), snaps
    assert root.status("of-martin")["offsite"]["last_verified"] is None  # verify_every = 0


def test_a_broken_repository_is_reported(root):
    blocker = os.path.join(root.path, "not-a-dir")
    with open(blocker, "w") as f:
        f.write("x")
    repo, pwfile, port, token = None, None, None, None
    pwfile = os.path.join(root.path, "restic.pw")
    with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("pw\n")
    root.write_global(offsite={"repository": os.path.join(blocker, "repo"), "password_file": pwfile},
                      alerts={"check_every": "200ms"})
    root.add_tenant("of-broken")
    root.start()
    bootstrap_admin(root, "of-broken", binpath)
    root.tenantctl("backup", "of-broken", "--json")
    off = wait_for(lambda: root.status("of-broken")["offsite"]["last_error"] and
                   root.status("of-broken")["offsite"], timeout=60, what="an off-site error")
    assert off["last_copy"] is None and "restic" in off["last_error"], off
    a = wait_for(lambda: [x for x in root.get("/v1/alerts").json()["active"]
                          if x.get("kind") == "offsite_failed"], timeout=30, what="an alert")
    assert a[0]["tenant"] == "of-broken", a


def test_password_file_mode_is_checked(root):
    pwfile = os.path.join(root.path, "restic.pw")
    with open(pwfile, "w") as f:
        f.write("pw\n")
    os.chmod(pwfile, 0o644)
    root.write_global(offsite={"repository": os.path.join(root.path, "r"), "password_file": pwfile})
    r = subprocess.run([binpath("tenantd"), "-n", "-c", root.config], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0 and "[offsite] password_file" in r.stderr and "chmod 600" in r.stderr, r
    os.chmod(pwfile, 0o600)
    r = subprocess.run([binpath("tenantd"), "-n", "-c", root.config], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r


def test_restore_from_offsite_brings_back_the_earlier_data(root):
    repo, pwfile, port, token = start_with_offsite(root, "of-roux", verify_every="0")
    add_invoice(port, token, "Before")
    path = json.loads(root.tenantctl("backup", "of-roux", "--json").stdout)["path"]
    snap = wait_for(lambda: root.status("of-roux")["offsite"]["last_snapshot"], timeout=60,
                    what="an off-site copy")
    # The data changes after the copy, and the local backup is lost.
    add_invoice(port, token, "After")
    assert clients(port, token) == ["After", "Before"]
    os.unlink(path)
    os.unlink(path[:-3] + ".json")

    out = json.loads(root.tenantctl("restore", "of-roux", "--from-offsite", "--json").stdout)
    assert out["state"] == "running" and out["restored_from"] == path, out
    root.wait_state("of-roux", "running")
    assert clients(port, token) == ["Before"]
    # The fetched copy is a verified backup in the tenant's folder again, 0600.
    assert os.stat(path).st_mode & 0o777 == 0o600
    listed = json.loads(root.tenantctl("backups", "of-roux", "--json").stdout)
    assert path in [b["path"] for b in listed]

    # By snapshot id too (the file is there already with the same bytes: kept).
    add_invoice(port, token, "Again")
    out = json.loads(root.tenantctl("restore", "of-roux", "--from-offsite", snap, "--json").stdout)
    root.wait_state("of-roux", "running")
    assert clients(port, token) == ["Before"]

    r = root.tenantctl("restore", "of-roux", "--from-offsite", "not-hex", check=False)
    assert r.returncode != 0 and "not a snapshot id" in r.stderr, r.stderr
    r = root.tenantctl("restore", "of-roux", "--from-offsite", "0123abcd", check=False)
    assert r.returncode != 0 and "restic restore failed" in r.stderr, r.stderr
