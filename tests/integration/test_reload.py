"""
Reload, end to end (SIGHUP and inotify on tenants.d/), checked by pids:
unchanged tenants keep their pid, changed ones get a new one, removed ones
are gone, added ones run; a file that becomes invalid leaves its tenant
running with config_error set, and fixing it clears the error without a
restart; a broken global file changes nothing; status = suspended and
cancelled stop the worker; a new port gets a new socket.
"""
import os
import signal
import socket

from tenantd_test import helper, wait_for


def mini(**extra):
    w = {"command": helper("miniworker"), "socket": "passed"}
    w.update(extra)
    return {"worker": w}


def port_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def hup(root):
    root.proc.send_signal(signal.SIGHUP)


def test_reload_added_removed_changed_unchanged(root):
    ports = {t: root.add_tenant(t, **mini()) for t in ("keep", "change", "drop")}
    root.start()
    before = root.pids()

    root.add_tenant("change", name="Cabinet Renamed", port=ports["change"], **mini())
    os.unlink(root.tenant_file("drop"))
    root.add_tenant("fresh", **mini())
    hup(root)

    wait_for(lambda: "fresh" in root.pids(), timeout=10, what="fresh to be added")
    root.wait_state("fresh", "running")
    wait_for(lambda: "drop" not in root.pids(), timeout=10, what="drop to be removed")
    s = root.wait_state("change", "running", pred=lambda s: s["pid"] != before["change"])
    assert s["name"] == "Cabinet Renamed"
    after = root.pids()
    assert after["keep"] == before["keep"]
    assert set(after) == {"keep", "change", "fresh"}
    # The removed tenant's socket is closed; its data is kept.
    wait_for(lambda: not port_answers(ports["drop"]), timeout=5, what="drop's port closed")
    assert os.path.exists(os.path.join(root.path, "data", "clients", "drop", "secret"))


def test_reload_on_inotify(root):
    root.add_tenant("first", **mini())
    root.start()
    pid = root.pids()["first"]
    # No signal: the new file alone must be noticed.
    root.add_tenant("second", **mini())
    wait_for(lambda: "second" in root.pids(), timeout=10, what="second to be added")
    root.wait_state("second", "running")
    assert root.pids()["first"] == pid


def test_invalid_file_keeps_running_then_fixed(root):
    port = root.add_tenant("fragile", **mini())
    root.start()
    pid = root.pids()["fragile"]
    good = open(root.tenant_file("fragile")).read()

    root.write_file(root.tenant_file("fragile"), good.replace("plan = professional",
                                                              "plan = nosuchplan"))
    s = wait_for(lambda: (lambda s: s if s["config_error"] else None)(root.status("fragile")),
                 timeout=10, what="config_error to show")
    assert "nosuchplan" in s["config_error"] or "plan" in s["config_error"]
    assert s["state"] == "running" and s["pid"] == pid
    assert port_answers(port)

    # Fixed back to the running config: the error clears, the worker stays.
    root.write_file(root.tenant_file("fragile"), good)
    wait_for(lambda: root.status("fragile")["config_error"] == "", timeout=10,
             what="config_error to clear")
    s = root.status("fragile")
    assert s["state"] == "running" and s["pid"] == pid


def test_invalid_then_fixed_differently_restarts(root):
    port = root.add_tenant("fragile", **mini())
    root.start()
    pid = root.pids()["fragile"]
    good = open(root.tenant_file("fragile")).read()
    root.write_file(root.tenant_file("fragile"), good + "[bogus]\nkey = 1\n")
    wait_for(lambda: root.status("fragile")["config_error"] != "", timeout=10,
             what="config_error")
    root.add_tenant("fragile", name="Cabinet Fixed", port=port, **mini())
    s = root.wait_state("fragile", "running", pred=lambda s: s["pid"] != pid)
    assert s["config_error"] == "" and s["name"] == "Cabinet Fixed"


def test_broken_global_file_changes_nothing(root):
    root.add_tenant("steady", **mini())
    root.start()
    pid = root.pids()["steady"]
    root.write_global(tenantd={"port_range": "nonsense"})
    root.add_tenant("ignored", **mini())
    hup(root)
    wait_for(lambda: "reload failed" in root.log(), timeout=10, what="the reload error")
    assert root.pids() == {"steady": pid}


def test_port_change_gets_a_new_socket(root):
    old = root.add_tenant("mover", **mini())
    root.start()
    pid = root.pids()["mover"]
    new = root.add_tenant("mover", **mini())
    assert new != old
    hup(root)
    root.wait_state("mover", "running", pred=lambda s: s["pid"] != pid and s["port"] == new)
    assert port_answers(new)
    wait_for(lambda: not port_answers(old), timeout=5, what="the old port to close")


def test_status_suspended_and_cancelled(root):
    port = root.add_tenant("biz", **mini())
    root.start()
    root.add_tenant("biz", port=port, tenant={"status": "suspended"}, **mini())
    hup(root)
    s = root.wait_state("biz", "suspended")
    assert s["pid"] is None

    root.add_tenant("biz", port=port, tenant={"status": "active"}, **mini())
    hup(root)
    s = root.wait_state("biz", "running")
    assert s["pid"]

    root.add_tenant("biz", port=port, tenant={"status": "cancelled"}, **mini())
    hup(root)
    s = root.wait_state("biz", "stopped")
    assert s["pid"] is None
    wait_for(lambda: not port_answers(port), timeout=5, what="the port to close")
