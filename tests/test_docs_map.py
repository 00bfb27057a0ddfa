"""docs/ARCHITECTURE.md is a map (at most 350 lines, every module named); modules say what they own.

A newcomer finds each room from the map, and each module's docstring says
what lives there; a module added without either, or a map grown back into a
notebook, fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "contracts", "node", "client")
MAX_LINES = 350


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_every_module_has_a_docstring_saying_what_it_owns() -> None:
    missing = [str(p.relative_to(ROOT)) for p in _modules()
               if not (ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or "").strip()]
    assert missing == []


def test_the_architecture_map_names_every_module_in_at_most_350_lines() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES
    unnamed = [str(p.relative_to(ROOT)) for p in _modules()
               if p.name != "__init__.py" and str(p.relative_to(ROOT)) not in text]
    packages = [str(p.parent.relative_to(ROOT)) + "/" for p in _modules()
                if p.name == "__init__.py" and str(p.parent.relative_to(ROOT)) + "/" not in text]
    assert unnamed == [] and packages == [], (unnamed, packages)
