"""`--as ALIAS`: act as one organisation of a local consortium without spelling out its files.

A consortium folder made by `ledger consortium init` (or by `ledger network
up`, in DIR/consortium) keeps, for each organisation alias, its keystore
`keys/<alias>.json`, its member certificate `certs/<alias>.crt` and TLS key
`keys/<alias>.tls.pem`, and the CA `ca/ca.crt`.  Given that folder (or the
network folder holding `network.json`) and an alias, `locate` finds the
keystore, the node URLs (the organisation's own node first, then the
network's others, for fail-over; or the single node of `node.toml`) and,
for an https network, the TLS files.  Options given explicitly win.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NETWORK_FILE = "network.json"
CONSORTIUM_FILE = "consortium.json"


class ActingError(ValueError):
    """Raised when the folder is not a consortium or network, or has no such alias."""


@dataclass(frozen=True)
class Acting:
    """What acting as one organisation of a local consortium needs."""

    alias: str
    consortium: Path
    keystore: Path
    nodes: tuple[str, ...]
    tls: tuple[Path, Path, Path] | None  # member certificate, its key, the CA


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ActingError(f"cannot read {path}: {exc}") from exc


def _folders(directory: Path) -> tuple[Path, dict[str, Any] | None]:
    """Return the consortium folder and the network description (None without a network)."""
    for network_file in (directory / NETWORK_FILE, directory.parent / NETWORK_FILE):
        if network_file.is_file():
            network = _read_json(network_file)
            consortium = Path(network.get("consortium", directory))
            if (consortium / CONSORTIUM_FILE).is_file():
                return consortium, network
    if (directory / CONSORTIUM_FILE).is_file():
        return directory, None
    raise ActingError(f"{directory} is neither a consortium folder (with {CONSORTIUM_FILE}, "
                      f"made by `ledger consortium init`) nor a network folder (with "
                      f"{NETWORK_FILE}, made by `ledger network up`)")


def _single_node(consortium: Path) -> tuple[str, ...]:
    """Return the URL of the node `node.toml` describes (plain HTTP on loopback)."""
    try:
        settings = tomllib.loads((consortium / "node.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    port = settings.get("port")
    return (f"http://127.0.0.1:{port}",) if isinstance(port, int) else ()


def locate(directory: Path, alias: str) -> Acting:
    """Return the keystore, nodes and TLS files of `alias` in the consortium at `directory`."""
    consortium, network = _folders(directory.resolve())
    orgs = _read_json(consortium / CONSORTIUM_FILE).get("orgs", {})
    if alias not in orgs:
        raise ActingError(f"--as {alias!r}: the consortium in {consortium} has no such "
                          f"organisation; its aliases are {', '.join(sorted(orgs))}")
    if network is not None:
        entries = network.get("nodes", [])
        own = [n["url"] for n in entries if n.get("alias") == alias]
        nodes = tuple(own + [n["url"] for n in entries if n.get("alias") != alias])
    else:
        nodes = _single_node(consortium)
    tls = None
    if any(url.startswith("https://") for url in nodes):
        tls = (consortium / "certs" / f"{alias}.crt", consortium / "keys" / f"{alias}.tls.pem",
               consortium / "ca" / "ca.crt")
    return Acting(alias, consortium, consortium / "keys" / f"{alias}.json", nodes, tls)
