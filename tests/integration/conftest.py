"""
The integration harness's fixtures and hooks; the helpers they use live in the
tenantd_test package (tests import from there, not from here).

Every test is held to the hygiene NGINX Unit's harness enforces:
- no process left behind: whatever a test started (tenantd, its workers and
  jails, nginx, helpers, browsers) must be gone once its fixtures have cleaned
  up, or the test fails naming each one (pid, command line, tenant);
- with the `root` fixture: no fd leak in tenantd (each fd classified and
  compared with the baseline taken when tenantd became ready), no sanitizer
  report and no crit/alert line in tenantd's log unless the test expects it
  through the `skip_alert` fixture.
"""
import os
import shutil
import tempfile

import pytest

from tenantd_test import browser as browser_mod
from tenantd_test import hygiene, procs
from tenantd_test import pg as pgmod
from tenantd_test.paths import ARTIFACTS, TEST_TMP
from tenantd_test.root import TenantdRoot


def pytest_configure(config):
    # Orphans of the processes the tests start come back to pytest, so the
    # stray check below sees them (procs.py says why).
    procs.become_subreaper()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def call_failed(request):
    return request.node.rep_call.failed if hasattr(request.node, "rep_call") else True


@pytest.fixture(scope="session")
def pg():
    """A real PostgreSQL 15 server for the session (tenantd_test.pg), started on
    first use; skipped where it cannot run."""
    why = pgmod.available()
    if why:
        pytest.skip("PostgreSQL: " + why)
    server = pgmod.PgServer().init().start()
    yield server
    server.cleanup()


@pytest.fixture(autouse=True)
def no_stray_processes(request):
    """Autouse, so set up first and torn down last: after every other fixture
    has stopped what it started, nothing the test started may still run."""
    before = procs.snapshot()
    yield
    strays = procs.stray_processes(before)
    assert not strays, "processes still running after the test (now killed):\n  " + \
        "\n  ".join(strays)


SKIP_ALERTS = pytest.StashKey()


@pytest.fixture
def skip_alert(request):
    """skip_alert(r"regex", ...): the crit/alert lines of tenantd's log that this
    test expects (re.search in the line); any other one still fails the test."""
    patterns = request.node.stash.setdefault(SKIP_ALERTS, [])

    def add(*regexes):
        patterns.extend(regexes)

    return add


@pytest.fixture
def root(request):
    d = tempfile.mkdtemp(prefix="tenantd-test-", dir=TEST_TMP)
    os.chmod(d, 0o755)  # tenants run under their own uids and must traverse it
    r = TenantdRoot(d)
    yield r
    try:
        r.stop()  # checks tenantd's fds first, while it still runs
        hygiene.check_log(r.log(), request.node.stash.get(SKIP_ALERTS, []))
    except AssertionError:
        keep_log(request, r)
        raise
    else:
        if call_failed(request):
            keep_log(request, r)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def keep_log(request, r):
    if os.path.exists(r.log_path):
        os.makedirs(ARTIFACTS, exist_ok=True)
        shutil.copy(r.log_path, os.path.join(ARTIFACTS, request.node.name + ".tenantd.log"))


@pytest.fixture
def browser():
    """A headless Chromium driven by Selenium, on a fresh profile; quit afterwards."""
    why = browser_mod.missing()
    if why:
        pytest.skip(why)
    profile = tempfile.mkdtemp(prefix="tenantd-chromium-", dir=TEST_TMP)
    driver = browser_mod.start(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
