"""
The integration harness as a package: what tests import. conftest.py keeps
only the fixtures and hooks; everything they and the tests call lives here.

    paths     where the checkout, the build and the artifacts are
    http      loopback HTTP clients (TCP, unix socket) and free ports
    wait      bounded waiting: wait_for(), and wait_state() for tenant states
    root      TenantdRoot: a throw-away tenantd root and its running tenantd
    procs     the process table: liveness, descendants, stray processes
    fds       tenantd's fds classified by owner, checked against a baseline
    hygiene   tenantd's log: sanitizer reports and crit/alert lines
    browser   the one headless Chromium setup
    worker    tenant-worker run directly, without tenantd
    workload  client load and database checks for the fault and backup tests
"""
from .http import Response, UnixHTTPConnection, free_port_block, http_request
from .paths import ARTIFACTS, BUILDDIR, REPO, binpath, helper
from .procs import pid_alive
from .root import TenantdRoot
from .wait import wait_for, wait_state

__all__ = ["ARTIFACTS", "BUILDDIR", "REPO", "Response", "TenantdRoot", "UnixHTTPConnection",
           "binpath", "free_port_block", "helper", "http_request", "pid_alive", "wait_for",
           "wait_state"]
