"""
Every string of the firm's application exists in both languages: the two
dictionaries of templates/worker/app.js (STRINGS.fr, STRINGS.en) hold the
same keys, and every key the page uses — T('k'), fill('k', …), data-i18n="k"
in index.html, and the keys built from a prefix (urgency_*, status_*, role_*,
unit_*) for every value the worker's API can send — is in both. Parses the
shipped files; no browser needed.
"""
import os
import re

from tenantd_test.paths import REPO

APP = os.path.join(REPO, "templates", "worker")

# Every value the API sends where the page builds a key from it (docs/worker-api.md).
DYNAMIC = {
    "urgency_": ["overdue", "critical", "high", "normal", "low"],
    "status_": ["draft", "sent", "paid", "cancelled", "active", "done"],
    "role_": ["admin", "lawyer", "assistant"],
    "unit_": ["hours", "days", "months"],
}


def dictionaries(js):
    """The keys of STRINGS.fr and STRINGS.en, read from the object literal."""
    body = js[js.index("const STRINGS = {"):js.index("\n};", js.index("const STRINGS = {"))]
    langs = {}
    for lang in ("fr", "en"):
        start = body.index(f"\n  {lang}: {{") + len(f"\n  {lang}: {{")
        end = body.index("\n  },", start)
        block = body[start:end]
        # A key is a word before ':' and a quoted string (single or double quotes).
        keys = re.findall(r"(?:^|[,{\s])([a-z_][a-z0-9_]*)\s*:\s*['\"]", block, re.M)
        assert keys, lang
        dup = {k for k in keys if keys.count(k) > 1}
        assert not dup, f"{lang}: keys given twice: {sorted(dup)}"
        langs[lang] = set(keys)
    return langs


def used_keys(js, html):
    used = set(re.findall(r"\bT\('([a-z0-9_]+)'\)", js))
    used |= set(re.findall(r"\bfill\('([a-z0-9_]+)'", js))
    # T(cond ? 'a' : 'b')
    for a, b in re.findall(r"\bT\([^()']*\?\s*'([a-z0-9_]+)'\s*:\s*'([a-z0-9_]+)'\)", js):
        used |= {a, b}
    used |= set(re.findall(r'data-i18n="([a-z0-9_]+)"', html))
    for prefix, values in DYNAMIC.items():
        assert f"'{prefix}'" in js, f"the page no longer builds {prefix}* keys: update DYNAMIC"
        used |= {prefix + v for v in values}
    return used


def test_every_key_in_both_languages():
    with open(os.path.join(APP, "app.js"), encoding="utf-8") as f:
        js = f.read()
    with open(os.path.join(APP, "index.html"), encoding="utf-8") as f:
        html = f.read()
    d = dictionaries(js)
    assert d["fr"] == d["en"], (f"only in fr: {sorted(d['fr'] - d['en'])}, "
                                f"only in en: {sorted(d['en'] - d['fr'])}")
    used = used_keys(js, html)
    assert {"overdue", "urgency_overdue", "download_pdf", "tz_paris", "status_draft"} <= used
    missing = used - d["fr"]
    assert not missing, f"keys used but in no dictionary: {sorted(missing)}"


def test_the_parser_sees_a_missing_key(tmp_path):
    """The check above fails when a key is missing from one dictionary."""
    with open(os.path.join(APP, "app.js"), encoding="utf-8") as f:
        js = f.read()
    broken = js.replace("    urgency_overdue: 'overdue', ", "    ", 1)
    assert broken != js
    d = dictionaries(broken)
    assert "urgency_overdue" in d["fr"] - d["en"]
