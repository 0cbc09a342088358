"""
Bounded waiting. wait_for() polls a predicate; wait_state() is the one place
the tests wait for a tenant to reach a supervisor state.
"""
import http.client
import time


def wait_for(pred, timeout=15.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value, bounded by timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_state(root, tid, state, timeout=20, pred=None):
    """Wait until tenant `tid` of `root` is in `state` (and pred(status) holds, if
    given, e.g. a new pid after a restart); return its status object. A tenant
    tenantd does not know yet (its file was just written) is simply not there yet.

    Every "wait until tenant X is in state S" of the suite goes through here.
    Today it polls GET /v1/tenants/<id>, the way the tests always have. Once
    tenantd answers GET /v1/tenants/<id>?wait=<state>&timeout=<ms> (the status as
    soon as the state is reached, or "reached": false at the timeout), this
    function switches to it, here and nowhere else: one request per state
    change instead of polling. A pred that is false while the state already
    holds (the old pid still running) will then need the state to be left and
    re-entered, which is what the callers wait for anyway.
    """
    last = {}

    def check():
        r = root.get(f"/v1/tenants/{tid}")
        if r.status == 404:
            last["status"] = "unknown to tenantd"
            return None
        assert r.status == 200, (r.status, r.text)
        s = r.json()
        last["status"] = s
        if s["state"] == state and (pred is None or pred(s)):
            return s
        return None

    try:
        return wait_for(check, timeout=timeout, what=f"{tid} to be {state}")
    except AssertionError as e:
        raise AssertionError(f"{e}; last status of {tid}: {last.get('status')!r}") from None
