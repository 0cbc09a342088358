"""Where the checkout, the build under test and the kept artifacts are."""
import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILDDIR = os.environ.get("TENANTD_BUILDDIR", os.path.join(REPO, "build", "release"))
ARTIFACTS = os.path.join(REPO, "build", "test-artifacts")
TEST_TMP = os.environ.get("TENANTD_TEST_TMP", "/var/tmp")


def binpath(name):
    return os.path.join(BUILDDIR, name)


def helper(name):
    return os.path.join(BUILDDIR, "helpers", name)
