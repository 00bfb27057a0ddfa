"""What every command of the `ledger` command line shares: options, identity and output.

`main_options` (the app's callback) stores the global options in `Settings`;
`participant()` opens the keystore they name and binds it to the node.
`show` prints JSON with --json and words otherwise, `fen` reads a yuan amount
the user typed, and `committed` reports a committed action.
"""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from client.sdk.keystore import Identity, load_keystore
from client.sdk.participant import Participant
from client.sdk.tls import TlsFiles, client_context
from ledger.errors import LedgerError
from ledger.money import parse_yuan

console = Console()
err = Console(stderr=True)


class Settings:
    """Options shared by the commands that talk to a node."""

    node = os.environ.get("LEDGER_NODE", "http://127.0.0.1:8600")
    keystore: Path | None = None
    password: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    as_json = False


def main_options(
    node: Annotated[str, typer.Option(envvar="LEDGER_NODE", help="node URL")] = Settings.node,
    keystore: Annotated[Path | None, typer.Option(envvar="LEDGER_KEYSTORE")] = None,
    password: Annotated[str | None, typer.Option(envvar="LEDGER_PASSWORD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    tls_cert: Annotated[Path | None, typer.Option(
        envvar="LEDGER_TLS_CERT", help="member certificate (certs/<alias>.crt): https nodes")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(
        envvar="LEDGER_TLS_KEY", help="its key (keys/<alias>.tls.pem, opened with the password)")
    ] = None,
    tls_ca: Annotated[Path | None, typer.Option(
        envvar="LEDGER_TLS_CA", help="consortium CA certificate (ca/ca.crt)")] = None,
) -> None:
    """Set the node, identity and output format for the command that follows."""
    Settings.node, Settings.keystore, Settings.password, Settings.as_json = (
        node, keystore, password, as_json)
    Settings.tls_cert, Settings.tls_key, Settings.tls_ca = tls_cert, tls_key, tls_ca


def identity_and_tls() -> tuple[Identity, ssl.SSLContext | None]:
    """Open the keystore (and the TLS files, if given) named by the options."""
    if Settings.keystore is None:
        raise typer.BadParameter("give --keystore (or LEDGER_KEYSTORE)")
    password = Settings.password or typer.prompt("keystore password", hide_input=True)
    tls_files = (Settings.tls_cert, Settings.tls_key, Settings.tls_ca)
    if any(tls_files) and not all(tls_files):
        raise typer.BadParameter("give --tls-cert, --tls-key and --tls-ca together")
    try:
        tls = None
        if Settings.tls_cert and Settings.tls_key and Settings.tls_ca:
            tls = client_context(TlsFiles(Settings.tls_cert, Settings.tls_key, Settings.tls_ca),
                                 password)
        return load_keystore(Settings.keystore, password), tls
    except ValueError as exc:  # a bad certificate or key
        raise typer.BadParameter(str(exc)) from exc


def participant() -> Participant:
    """Open the keystore and bind a participant to the node."""
    identity, tls = identity_and_tls()
    try:
        return Participant(Settings.node, identity, tls=tls)
    except ValueError as exc:  # an https node without TLS files
        raise typer.BadParameter(str(exc)) from exc


def show(value: Any, text: str | None = None) -> None:
    """Print `value` as JSON with --json, else the human `text` (or pretty JSON)."""
    if Settings.as_json or text is None:
        console.print_json(json.dumps(value, ensure_ascii=False))
    else:
        console.print(text)


def fen(text: str) -> int:
    """Parse a yuan amount typed by the user into fen."""
    try:
        return parse_yuan(text)
    except LedgerError as exc:
        raise typer.BadParameter(str(exc)) from exc


def committed(status: dict[str, Any], what: str) -> None:
    """Print a committed action's outcome and the ids its events name."""
    lines = [f"[green]{what}[/] committed in block {status.get('height')} "
             f"(tx {status.get('tx_id')})"]
    for event in status.get("events", []):
        ids = {k: v for k, v in event.items() if isinstance(v, str) and len(v) == 64}
        lines += [f"  {event.get('type')}: {k} {v}" for k, v in ids.items()]
    show(status, "\n".join(lines))
