"""The import table, as code: every import in the tree keeps to the layers (DESIGN.md section 2).

| package | may import |
|---|---|
| ledger/ | pure standard modules (no I/O, clock, randomness, environment), nacl, |
|         | cryptography, orjson, gmpy2 (arithmetic), ledger |
| contracts/ | pure standard modules, ledger, contracts (contracts/code.py alone reads |
|            | its own files: pathlib) |
| node/ | anything but client |
| client/sdk/ | anything but node, and of client only client.sdk |
| client/audit/, client/trace/, | anything but node, client.cli and client.local_consortium |
| client/console/ |  |
| client/ (the rest: cli, local_consortium) | anything but node |
| scripts/, tests/ | anything |

Every `import` and `from ... import` counts, wherever it is in a module
(inside a function too).  `check_tree` is also run on a small tree with a
crossing import, to show the check fails when it should.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PURE_STDLIB = frozenset({
    "__future__", "abc", "base64", "binascii", "bisect", "collections", "dataclasses",
    "datetime", "decimal", "enum", "functools", "hashlib", "heapq", "itertools", "json", "math",
    "operator", "re", "string", "struct", "typing", "unicodedata", "zlib",
})
LEDGER_THIRD_PARTY = frozenset({"nacl", "cryptography", "orjson", "gmpy2"})
CLIENT_TOOLING = ("client.cli", "client.local_consortium")
APPLICATIONS = ("client.audit", "client.trace", "client.console")  # on the SDK, not the tooling


@dataclass(frozen=True)
class Rule:
    """The imports allowed in the modules under `prefix` (dotted), as a decision per import."""

    prefix: str

    def refuses(self, module: str, imported: str) -> str | None:
        """Return why `module` may not import `imported`, or None if it may."""
        top = imported.split(".")[0]
        if self.prefix == "ledger":
            if top in PURE_STDLIB or top in LEDGER_THIRD_PARTY or top == "ledger":
                return None
            return ("ledger/ imports only pure standard modules, nacl, cryptography, orjson "
                    "and gmpy2")
        if self.prefix == "contracts":
            if top in PURE_STDLIB or top in {"ledger", "contracts"}:
                return None
            if module == "contracts.code" and top == "pathlib":
                return None
            return "contracts/ imports only ledger/ and pure standard modules"
        if self.prefix == "node":
            return "node/ never imports client/" if top == "client" else None
        return _client_refuses(self.prefix, imported)


def _client_refuses(prefix: str, imported: str) -> str | None:
    if imported.split(".")[0] == "node":
        return "client/ never imports node/"
    within = imported == "client" or imported.startswith("client.")
    if prefix == "client.sdk" and within and not imported.startswith("client.sdk"):
        return "client/sdk imports nothing of the rest of client/ (CLI, audit, trace, tooling)"
    if prefix in APPLICATIONS and imported.startswith(CLIENT_TOOLING):
        return f"{prefix.replace('.', '/')} imports neither the CLI nor the local tooling"
    return None


RULES = [Rule(p) for p in ("ledger", "contracts", "node", "client.sdk", "client.audit",
                           "client.trace", "client.console", "client")]


def imports_of(path: Path, module: str) -> list[str]:
    """Return every module `path` imports (relative imports resolved against `module`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")[: -node.level]
                base = ".".join([*parts, base] if base else parts)
            found += [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
    return found


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def check_tree(root: Path) -> list[str]:
    """Return every import under `root` that crosses the layers, as readable lines."""
    problems = []
    for rule in RULES:
        folder = root.joinpath(*rule.prefix.split("."))
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            module = _module_name(root, path)
            if _owned_by_deeper_rule(module, rule):
                continue
            for imported in imports_of(path, module):
                why = rule.refuses(module, imported)
                if why is not None:
                    problems.append(f"{path.relative_to(root)} imports {imported}: {why}")
    return problems


def _owned_by_deeper_rule(module: str, rule: Rule) -> bool:
    """Return whether a more specific rule than `rule` governs `module`."""
    return any(other.prefix != rule.prefix and other.prefix.startswith(rule.prefix + ".")
               and (module == other.prefix or module.startswith(other.prefix + "."))
               for other in RULES)


def test_every_import_in_the_tree_keeps_to_the_layers() -> None:
    assert check_tree(ROOT) == []


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_check_finds_each_kind_of_crossing_import(tmp_path: Path) -> None:
    """A deliberately crossing tree: each forbidden import is reported, the allowed ones not."""
    _write(tmp_path, "ledger/core.py", "import os\nfrom ledger import other\nimport orjson\n")
    _write(tmp_path, "ledger/late.py", "def f():\n    from node.service import NodeService\n")
    _write(tmp_path, "contracts/rule.py", "import sqlalchemy\nfrom ledger.tx import Envelope\n")
    _write(tmp_path, "node/svc.py", "from client.sdk.http import NodeClient\nimport fastapi\n")
    _write(tmp_path, "client/sdk/http.py", "from client.cli import app\nfrom .keystore import x\n")
    _write(tmp_path, "client/audit/run.py", "from client.local_consortium.demo import run\n")
    _write(tmp_path, "client/console/app.py", "from client.cli.common import error\n"
                                              "from client.sdk.participant import Participant\n")
    _write(tmp_path, "client/sdk/names.py", "from client.console.i18n import CATALOG\n")
    _write(tmp_path, "client/cli/main.py", "from node.chain import Chain\nimport client.audit\n")
    problems = check_tree(tmp_path)
    crossing = sorted(line.split(": ")[0] for line in problems)
    assert crossing == [
        "client/audit/run.py imports client.local_consortium.demo.run",
        "client/cli/main.py imports node.chain.Chain",
        "client/console/app.py imports client.cli.common.error",
        "client/sdk/http.py imports client.cli.app",
        "client/sdk/names.py imports client.console.i18n.CATALOG",
        "contracts/rule.py imports sqlalchemy",
        "ledger/core.py imports os",
        "ledger/late.py imports node.service.NodeService",
        "node/svc.py imports client.sdk.http.NodeClient",
    ], problems
