"""Where the checkout, the build under test, the kept artifacts and the uid
registry are."""
import atexit
import os
import shutil
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILDDIR = os.environ.get("TENANTD_BUILDDIR", os.path.join(REPO, "build", "release"))
ARTIFACTS = os.path.join(REPO, "build", "test-artifacts")
TEST_TMP = os.environ.get("TENANTD_TEST_TMP", "/var/tmp")

# Tenant uids come from a host-wide registry (supervisor/tenantd/uidmap.h), by
# default /var/lib/tenantd/uids. Every tenantd the tests and benchmarks start
# (and every program it starts) uses one of this process's instead, removed at
# exit, so they never leave lines in the host's. A test may still set
# [tenantd] uid_registry itself.
if "TENANTD_UID_REGISTRY" not in os.environ:
    _uid_registry_dir = tempfile.mkdtemp(prefix="tenantd-test-uids-", dir=TEST_TMP)
    os.environ["TENANTD_UID_REGISTRY"] = os.path.join(_uid_registry_dir, "uids")
    atexit.register(shutil.rmtree, _uid_registry_dir, True)


def binpath(name):
    return os.path.join(BUILDDIR, name)


def helper(name):
    return os.path.join(BUILDDIR, "helpers", name)
