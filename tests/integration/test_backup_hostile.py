"""
Backups against what a tenant can put in its own backups folder (issue 12):
its data dir and DATA_DIR/backups are its own, so it can make FIFOs and
symlinks there under backup names. tenantd must neither block on them nor
follow them: other tenants are still backed up on schedule, `tenantctl
backups` and `tenantctl backup` answer, a `backups` folder swapped for a
symlink is refused without writing through it, and SIGTERM still exits
within the grace period.
"""
import json
import os
import time

from tenantd_test import binpath, wait_for
from tenantd_test.workload import bootstrap_admin, data_dir


def backups_of(root, tid):
    bdir = os.path.join(data_dir(root, tid), "backups")
    if not os.path.isdir(bdir) or os.path.islink(bdir):
        return []
    return sorted(f for f in os.listdir(bdir)
                  if f.endswith(".db") and not f.startswith(f"{tid}-2020"))


def plant(root, tid):
    """What a hostile worker of tid can do in its own backups folder."""
    dd = data_dir(root, tid)
    st = os.stat(dd)
    bdir = os.path.join(dd, "backups")
    os.makedirs(bdir, mode=0o700, exist_ok=True)
    os.chown(bdir, st.st_uid, st.st_gid)
    planted = {
        # The reported stall: a FIFO manifest beside a matching .db.
        f"{tid}-20200102T000000Z.json": "fifo",
        f"{tid}-20200102T000000Z.db": "file",
        # A FIFO under a backup's name, and symlinks to root's files.
        f"{tid}-20200103T000000Z.db": "fifo",
        f"{tid}-20200104T000000Z.db": "/etc/shadow",
        f"{tid}-20200104T000000Z.json": "/etc/passwd",
    }
    for name, what in planted.items():
        p = os.path.join(bdir, name)
        if what == "fifo":
            os.mkfifo(p, 0o600)
        elif what == "file":
            with open(p, "wb") as f:
                f.write(b"SQLite format 3\0" + bytes(84))
        else:
            os.symlink(what, p)
        os.lchown(p, st.st_uid, st.st_gid)
    return bdir


def test_fifos_and_symlinks_in_backups_stall_nothing(root, tmp_path):
    root.write_global(backup={"every": "1s", "keep": "3"})
    for tid in ("bk-evil", "bk-good"):
        root.add_tenant(tid)
    root.start()
    for tid in ("bk-evil", "bk-good"):
        bootstrap_admin(root, tid, binpath)
    bdir = plant(root, "bk-evil")

    # The schedule goes past the planted files: both tenants get a backup.
    wait_for(lambda: backups_of(root, "bk-good") and backups_of(root, "bk-evil"),
             timeout=30, interval=0.2, what="scheduled backups of both tenants")

    # Listing answers at once; the planted entries are not good backups.
    t0 = time.monotonic()
    listed = json.loads(root.tenantctl("backups", "bk-evil", "--json").stdout)
    assert time.monotonic() - t0 < 5
    by_name = {os.path.basename(b["path"]): b for b in listed}
    assert by_name["bk-evil-20200102T000000Z.db"]["manifest"] is False
    assert "bk-evil-20200103T000000Z.db" not in by_name   # a FIFO, not a file
    assert "bk-evil-20200104T000000Z.db" not in by_name   # a symlink
    assert any(b["manifest"] for b in listed)

    # An on-demand backup of either tenant answers, through tenantd.
    for tid in ("bk-evil", "bk-good"):
        out = json.loads(root.tenantctl("backup", tid, "--json").stdout)
        assert out["via"] == "tenantd" and os.path.isfile(out["path"]), out

    # restore refuses the planted ones with a reason, without blocking.
    r = root.tenantctl("restore", "bk-evil", os.path.join(bdir, "bk-evil-20200102T000000Z.db"),
                       check=False)
    assert r.returncode != 0 and "manifest" in r.stderr, r.stderr

    # backups/ swapped for a symlink to a folder of the tenant's choosing:
    # refused, nothing written there, the other tenant still backed up.
    target = tmp_path / "target"
    target.mkdir()
    os.rename(bdir, bdir + ".old")
    os.symlink(str(target), bdir)
    r = root.tenantctl("backup", "bk-evil", "--json", check=False)
    assert r.returncode != 0 and "not a plain folder" in (r.stdout + r.stderr), (r.stdout, r.stderr)
    assert os.listdir(target) == []
    out = json.loads(root.tenantctl("backup", "bk-good", "--json").stdout)
    assert out["via"] == "tenantd", out
    r = root.tenantctl("backups", "bk-evil", "--json", check=False)
    assert r.returncode != 0 and "not a plain folder" in r.stderr, r.stderr

    # SIGTERM exits within the grace period.
    t0 = time.monotonic()
    root.stop()
    assert time.monotonic() - t0 < 10
    assert os.listdir(target) == []
