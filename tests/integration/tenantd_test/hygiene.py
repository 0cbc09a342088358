"""
tenantd's log must be clean: no sanitizer report, and no crit or alert line
unless the test said it expects that line (the `skip_alert` fixture, which
hands its patterns to check_log).
"""
import re

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def check_log(text, skip_alerts=(), what="tenantd's log"):
    """Fail on a sanitizer report, or on a crit/alert line that no pattern of
    skip_alerts (regular expressions, searched in the line) expects."""
    for mark in SANITIZER_MARKS:
        assert mark not in text, f"sanitizer report in {what}:\n{text[-4000:]}"
    for line in text.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[1] in ("crit", "alert"):
            if not any(re.search(p, line) for p in skip_alerts):
                raise AssertionError(f"unexpected {parts[1]} line in {what}: {line}")
