"""A consortium spec: the organisations a consortium is founded with, read from TOML.

A real consortium names its own members, so `ledger consortium init --spec
FILE` founds exactly the organisations a spec file lists (alias, name, USCC,
roles, whether it runs a node).  Every problem in a spec is found before
anything is written, and all of them are reported together as `SpecError`,
each naming the organisation and field at fault: a broken spec never gets
half a consortium, nor a traceback.

The example spec (`example_consortium.toml`, package data next to this
module, so an installed `ledger` finds it too) is the example consortium of
eight organisations; without --spec, `consortium init` founds it, so its
USCCs are the same on every run.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ledger.membership import USCC_ALPHABET, USCC_LENGTH, Role, uscc_check_character

EXAMPLE_SPEC = "example_consortium.toml"
ORG_KEYS = frozenset({"alias", "name", "uscc", "roles", "node"})
REQUIRED_KEYS = ("alias", "name", "uscc", "roles")
ALIAS = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_NAME_CHARS = 200
ROLE_NEEDS = {
    Role.CORE_ENTERPRISE: "it issues credentials, on a bank's credit line",
    Role.SUPPLIER: "credentials are issued to suppliers",
    Role.BANK: "banks grant the credit lines credentials are issued on, and finance them",
    Role.AUDITOR: "the auditor checks the chain and exports it",
}


class SpecError(ValueError):
    """Raised when a consortium spec cannot be read or breaks a rule; says every problem."""


@dataclass(frozen=True)
class OrgSpec:
    """An organisation to found the consortium with (no USCC: a random one, for tools)."""

    name: str
    roles: tuple[Role, ...]
    uscc: str | None = None
    alias: str | None = None


@dataclass(frozen=True)
class ConsortiumSpec:
    """The founding organisations, in the spec's order, and the aliases of those running nodes."""

    organisations: tuple[OrgSpec, ...]
    node_aliases: tuple[str, ...]


def load_spec(path: Path) -> ConsortiumSpec:
    """Read and check the spec file at `path`; raise SpecError naming every problem."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read the consortium spec {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"the consortium spec {path} is not UTF-8 text "
                        f"(byte {exc.start}): write it as UTF-8 TOML") from exc
    return parse_spec(text, source=str(path))


def example_spec_text() -> str:
    """Return the example spec shipped with this package, as TOML text."""
    return resources.files(__package__).joinpath(EXAMPLE_SPEC).read_text(encoding="utf-8")


def example_spec() -> ConsortiumSpec:
    """Return the example consortium of eight organisations (stable USCCs)."""
    return parse_spec(example_spec_text(), source=EXAMPLE_SPEC)


def parse_spec(text: str, *, source: str) -> ConsortiumSpec:
    """Parse and check a spec's TOML `text` (`source` names it in errors); raise SpecError."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"the consortium spec {source} is not valid TOML: {exc}") from exc
    problems: list[str] = []
    tables = _organisation_tables(document, problems)
    organisations: list[OrgSpec] = []
    nodes: list[str] = []
    for index, table in enumerate(tables):
        parsed = _organisation(index, table, problems)
        if parsed is not None:
            organisations.append(parsed[0])
            if parsed[1]:
                nodes.append(str(parsed[0].alias))
    problems += _duplicates(organisations)
    if tables and len(organisations) == len(tables):  # else a role may just be mistyped
        problems += _missing_roles(organisations)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise SpecError(f"the consortium spec {source} is refused:\n{listed}")
    return ConsortiumSpec(tuple(organisations), tuple(nodes))


def _organisation_tables(document: dict[str, Any], problems: list[str]) -> list[Any]:
    """Return the [[organisation]] entries; note a missing list or unknown top-level keys."""
    unknown = sorted(set(document) - {"organisation"})
    if unknown:
        problems.append(f"unknown top-level key(s) {', '.join(map(repr, unknown))}: a spec "
                        f"holds only [[organisation]] tables")
    tables = document.get("organisation")
    if not isinstance(tables, list) or not tables:
        problems.append("no organisations: list each one in an [[organisation]] table")
        return []
    return tables


def _organisation(index: int, table: Any,
                  problems: list[str]) -> tuple[OrgSpec, bool] | None:
    """Return organisation `index` (0-based) and whether it runs a node, or None if broken."""
    where = f"organisation {index + 1}"
    if not isinstance(table, dict):
        problems.append(f"{where} is not a table: write it as [[organisation]] with its keys")
        return None
    if isinstance(table.get("alias"), str):
        where += f" ({table['alias']!r})"
    found = len(problems)
    unknown = sorted(set(table) - ORG_KEYS)
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} (a "
                        f"organisation has {', '.join(sorted(ORG_KEYS))})")
    missing = [k for k in REQUIRED_KEYS if k not in table]
    if missing:
        problems.append(f"{where}: missing {', '.join(missing)}")
    checks = ((_alias_problem, "alias"), (_name_problem, "name"), (_uscc_problem, "uscc"),
              (_roles_problem, "roles"), (_node_problem, "node"))
    problems += [f"{where}: {problem}" for check, key in checks if key in table
                 if (problem := check(table[key])) is not None]
    if len(problems) > found:
        return None
    roles = tuple(Role(r) for r in table["roles"])
    return (OrgSpec(table["name"].strip(), roles, table["uscc"], table["alias"]),
            table.get("node", False))


def _alias_problem(value: Any) -> str | None:
    if isinstance(value, str) and ALIAS.fullmatch(value):
        return None
    return (f"alias {value!r} must be 1 to 32 of a-z, 0-9 and _, starting with a letter "
            f"(it names files and the node id)")


def _name_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "name must be the organisation's name, not empty"
    if len(value) > MAX_NAME_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return (f"name must be one line of at most {MAX_NAME_CHARS} characters, "
                f"without control characters")
    return None


def _uscc_problem(value: Any) -> str | None:
    """Return what is wrong with a USCC, naming the expected check character, or None."""
    if not isinstance(value, str):
        return f"uscc must be a string of {USCC_LENGTH} characters, not {value!r}"
    if len(value) != USCC_LENGTH:
        return f"uscc {value!r} has {len(value)} characters; a USCC has {USCC_LENGTH}"
    strange = "".join(sorted({c for c in value if c not in USCC_ALPHABET}))
    if strange:
        return (f"uscc {value!r} has characters outside the GB 32100 alphabet "
                f"({USCC_ALPHABET}): {strange!r}")
    expected = uscc_check_character(value[:-1])
    if value[-1] != expected:
        return (f"uscc {value!r} has the check character {value[-1]!r}, but its first 17 "
                f"characters give {expected!r} (a mistyped character?)")
    return None


def _roles_problem(value: Any) -> str | None:
    known = ", ".join(repr(r.value) for r in Role)
    if not isinstance(value, list) or not value:
        return f"roles must be a non-empty list of {known}"
    unknown = [r for r in value if r not in {role.value for role in Role}]
    if unknown:
        return f"unknown role(s) {', '.join(map(repr, unknown))}: the roles are {known}"
    if len(set(value)) != len(value):
        return f"roles {value!r} names a role twice"
    return None


def _node_problem(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    return f"node must be true or false (whether it runs a node), not {value!r}"


def _duplicates(organisations: list[OrgSpec]) -> list[str]:
    """Return each alias or USCC given to two organisations."""
    problems = []
    for field in ("alias", "uscc"):
        seen: dict[str, str] = {}
        for org in organisations:
            value = str(getattr(org, field))
            if value in seen:
                problems.append(f"{field} {value!r} is given twice ({seen[value]!r} and "
                                f"{org.name!r}): each organisation has its own")
            seen.setdefault(value, org.name)
    return problems


def _missing_roles(organisations: list[OrgSpec]) -> list[str]:
    """Return each role the consortium needs that no organisation holds, and why it is needed."""
    held = {role for org in organisations for role in org.roles}
    return [f"no organisation has the role {role.value!r}, and a consortium needs one: {why}"
            for role, why in ROLE_NEEDS.items() if role not in held]
