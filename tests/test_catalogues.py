"""One catalogue each for error codes, lint codes and parameter kinds, and the docs'
tables generated from or checked against them."""

from __future__ import annotations

import re
from pathlib import Path

from clrdsl.contract.functions import KINDS
from clrdsl.diagnostics import codes

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for d in ("clrdsl", "plugins", "apps") if (ROOT / d).is_dir() for p in (ROOT / d).rglob("*.py")
           if "build" not in p.parts]


def raised_codes() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in SOURCES:
        for m in re.finditer(r'\b(?:code|CODE)(?:\s*:\s*str)?\s*=\s*"([EW]\d{3})"|error\[([EW]\d{3})\]',
                             p.read_text(encoding="utf-8")):
            found.setdefault(m.group(1) or m.group(2), []).append(str(p.relative_to(ROOT)))
    return found


def test_every_code_raised_is_in_the_catalogue():
    found = raised_codes()
    assert len(found) > 50
    missing = {c: where for c, where in found.items() if c not in codes.ERRORS and c not in codes.LINTS}
    assert not missing, f"add these to clrdsl/diagnostics/codes.py: {missing}"


def test_the_catalogue_has_no_stale_codes():
    found = raised_codes()
    lints_used = set(re.findall(r'"(W\d{3})"', (ROOT / "clrdsl" / "tools" / "explain.py").read_text(encoding="utf-8")))
    stale = [c for c in codes.ERRORS if c not in found] + [c for c in codes.LINTS if c not in lints_used]
    assert not stale, f"codes no longer raised: {stale}"


def test_the_errors_page_is_generated_from_the_catalogue():
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert page == codes.markdown(), "regenerate: python -m clrdsl.diagnostics.codes > docs/errors.md"


def test_the_language_reference_has_the_kinds_table_of_the_catalogue():
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    start, end = text.index(codes.KINDS_BEGIN), text.index(codes.KINDS_END) + len(codes.KINDS_END)
    assert text[start:end] == codes.kinds_markdown()
    assert all(f"| `{k}` |" in text for k in KINDS)
