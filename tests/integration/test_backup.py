"""
Backups and restore through the real programs: `tenantctl backup` through
tenantd (POST /v1/tenants/<id>/backup) and directly when tenantd is down,
`tenantctl backups`, scheduled backups pruned to `keep`, and `tenantctl
restore` (verify first, swap, roll back when the restored database does not
come up).
"""
import hashlib
import json
import os
import sqlite3
import stat

from tenantd_test import binpath, wait_for
from tenantd_test.workload import bootstrap_admin, check_db, data_dir, db_path, login, worker_request


def start_one(root, tid="bk-dupont", **kw):
    root.add_tenant(tid, **kw)
    root.start()
    pw = bootstrap_admin(root, tid, binpath)
    port = root.status(tid)["port"]
    return port, login(port, "admin", pw)


def post_invoices(port, token, n, start=0):
    out = []
    for i in range(start, start + n):
        st, body = worker_request(port, "POST", "/api/invoices", {
            "client_name": f"Client {i}",
            "items": [{"description": "Consultation", "quantity": 1, "unit_price_cents": 15000}]},
            token)
        assert 200 <= st < 300, (st, body)
        out.append(body["numero"])
    return out


def manifest_of(path):
    with open(path[:-3] + ".json") as f:
        return json.load(f)


def check_backup_files(root, tid, path):
    """The file and its manifest say the same thing, modes and owner are right."""
    m = manifest_of(path)
    with open(path, "rb") as f:
        data = f.read()
    assert m["tenant"] == tid
    assert m["file"] == os.path.basename(path)
    assert m["size"] == len(data)
    assert m["sha256"] == hashlib.sha256(data).hexdigest()
    assert m["schema_version"] >= 1
    assert m["sqlite_version"] == sqlite3.sqlite_version or m["sqlite_version"]
    assert m["tables"]["users"] >= 1 and "invoices" in m["tables"]
    dst = os.stat(os.path.dirname(path))
    fst = os.stat(path)
    dbst = os.stat(db_path(root, tid))
    assert stat.S_IMODE(dst.st_mode) == 0o700
    assert stat.S_IMODE(fst.st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path[:-3] + ".json").st_mode) == 0o600
    assert (fst.st_uid, fst.st_gid) == (dbst.st_uid, dbst.st_gid)
    assert (dst.st_uid, dst.st_gid) == (dbst.st_uid, dbst.st_gid)
    return m


def test_backup_and_list(root):
    port, token = start_one(root)
    numeros = post_invoices(port, token, 5)
    r = root.tenantctl("backup", "bk-dupont", "--json")
    out = json.loads(r.stdout)
    path = out["path"]
    assert path.startswith(os.path.join(data_dir(root, "bk-dupont"), "backups", "bk-dupont-"))
    m = check_backup_files(root, "bk-dupont", path)
    assert m["tables"]["invoices"] == 5
    check_db(path, numeros)

    listed = json.loads(root.tenantctl("backups", "bk-dupont", "--json").stdout)
    assert [b["path"] for b in listed] == [path]
    assert listed[0]["sha256"] == m["sha256"] and listed[0]["manifest"] is True
    text = root.tenantctl("backups", "bk-dupont").stdout
    assert os.path.basename(path) in text

    # An unknown tenant is a clear "not found".
    r = root.tenantctl("backup", "bk-ghost", check=False)
    assert r.returncode == 4, (r.returncode, r.stderr)


def test_backup_goes_through_tenantd(root):
    port, token = start_one(root)
    post_invoices(port, token, 2)
    out = json.loads(root.tenantctl("backup", "bk-dupont", "--json").stdout)
    assert out["via"] == "tenantd", out
    assert "backup written" in root.log()


def test_backup_without_tenantd_is_direct(root):
    port, token = start_one(root)
    numeros = post_invoices(port, token, 3)
    root.stop()
    r = root.tenantctl("backup", "bk-dupont", "--json")
    out = json.loads(r.stdout)
    assert out["via"] == "direct"
    check_backup_files(root, "bk-dupont", out["path"])
    check_db(out["path"], numeros)


def test_scheduled_backups_are_pruned_to_keep(root):
    root.write_global(backup={"every": "1s", "keep": "2"})
    port, token = start_one(root)
    bdir = os.path.join(data_dir(root, "bk-dupont"), "backups")

    def names():
        return sorted(f for f in os.listdir(bdir) if f.endswith(".db")) \
            if os.path.isdir(bdir) else []

    seen = set()
    for i in range(4):
        # Only a changed database is backed up again.
        post_invoices(port, token, 1, start=i)
        wait_for(lambda: set(names()) - seen, timeout=20, interval=0.1,
                 what="a new scheduled backup")
        seen |= set(names())
    assert len(names()) == 2
    for n in names():
        check_backup_files(root, "bk-dupont", os.path.join(bdir, n))


def test_restore_swaps_and_keeps_the_previous_database(root):
    port, token = start_one(root)
    first = post_invoices(port, token, 5)
    path = json.loads(root.tenantctl("backup", "bk-dupont", "--json").stdout)["path"]
    later = post_invoices(port, token, 5, start=5)
    old_pid = root.status("bk-dupont")["pid"]

    out = json.loads(root.tenantctl("restore", "bk-dupont", os.path.basename(path), "--json").stdout)
    assert out["state"] == "running"
    s = root.wait_state("bk-dupont", "running")
    assert s["pid"] != old_pid
    st, body = worker_request(port, "GET", "/api/invoices", token=token)
    assert st == 200, (st, body)
    root.stop()
    n, _ = check_db(db_path(root, "bk-dupont"), first)
    assert n == 5
    assert os.path.basename(out["previous"]).startswith("bk-dupont.db.before-restore-")
    n, _ = check_db(out["previous"], first + later)
    assert n == 10


def test_restore_refuses_a_bad_backup_without_touching_the_tenant(root):
    root.add_tenant("bk-martin")
    port, token = start_one(root)
    post_invoices(port, token, 2)
    path = json.loads(root.tenantctl("backup", "bk-dupont", "--json").stdout)["path"]
    pid = root.status("bk-dupont")["pid"]

    # Another firm's backup.
    r = root.tenantctl("restore", "bk-martin", path, check=False)
    assert r.returncode == 1 and "belongs to tenant \"bk-dupont\"" in r.stderr, r.stderr

    # A damaged copy.
    with open(path, "r+b") as f:
        f.seek(4096)
        b = f.read(1)
        f.seek(4096)
        f.write(bytes([b[0] ^ 0xff]))
    r = root.tenantctl("restore", "bk-dupont", path, check=False)
    assert r.returncode == 1 and "checksum mismatch" in r.stderr, r.stderr
    assert root.status("bk-dupont")["pid"] == pid


def test_restore_rolls_back_when_the_worker_does_not_come_up(root):
    port, token = start_one(root)
    numeros = post_invoices(port, token, 3)
    path = json.loads(root.tenantctl("backup", "bk-dupont", "--json").stdout)["path"]

    # A well-formed backup this worker cannot run: its schema is from the future.
    bad = path[:-3] + "-9.db"
    with open(path, "rb") as src, open(bad, "wb") as dst:
        dst.write(src.read())
    db = sqlite3.connect(bad)
    db.execute("PRAGMA user_version = 9999")
    db.commit()
    db.close()
    with open(bad, "rb") as f:
        data = f.read()
    m = manifest_of(path)
    m.update(file=os.path.basename(bad), size=len(data), sha256=hashlib.sha256(data).hexdigest(),
             schema_version=9999)
    with open(bad[:-3] + ".json", "w") as f:
        json.dump(m, f)

    r = root.tenantctl("restore", "bk-dupont", bad, check=False)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "rolled back" in r.stderr, r.stderr
    root.wait_state("bk-dupont", "running")
    st, body = worker_request(port, "GET", "/api/invoices", token=token)
    assert st == 200, (st, body)
    root.stop()
    check_db(db_path(root, "bk-dupont"), numeros)
