"""What every command of the `ledger` command line shares: options, identity and output.

`main_options` (the app's callback) stores the global options in `Settings`;
`participant()` opens the keystore they name and binds it to the node, and
`names()` is the member directory that puts names beside USCCs.  `show`
prints the node's answer as JSON with --json (amounts in fen) and words,
tables or trees otherwise; `fen` reads a yuan amount the user typed;
`org` and `record` turn what the user typed into a USCC or a full id
(client/cli/resolve.py); `committed` reports a committed action.
"""

from __future__ import annotations

import json
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.text import Text

from client.cli.acting_as import ActingError, locate
from client.cli.render import Directory, short, yuan
from client.cli.resolve import ResolveError, consortium_aliases, organisation, record_id
from client.sdk.keystore import Identity, load_keystore
from client.sdk.participant import Participant
from client.sdk.tls import TlsFiles, client_context
from ledger.errors import LedgerError
from ledger.money import parse_yuan

DEFAULT_NODE = "http://127.0.0.1:8600"
WIDE = 160  # columns when the output is not a terminal (a file or a pipe): no wrapping of ids
console = Console(width=None if sys.stdout.isatty() else WIDE)
err = Console(stderr=True, width=None if sys.stderr.isatty() else WIDE)


MADE = {"issued": "receivable", "credit_line_granted": "credit_line",
        "financing_requested": "financing", "financed": "bank_note"}


ID_WORDS = {"receivable": "credential", "bank_note": "the bank's note"}


class Settings:
    """Options shared by the commands that talk to a node."""

    node: str | None = None
    keystore: Path | None = None
    password: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    as_json = False
    quiet = False
    acting_as: str | None = None
    consortium: Path | None = None


class Session:
    """The participant and member directory of the command being run (made once each)."""

    me: Participant | None = None
    directory: Directory | None = None


def main_options(
    node: Annotated[str | None, typer.Option(
        envvar="LEDGER_NODE", help=f"node URL [default: {DEFAULT_NODE}, or --as's node]")
    ] = None,
    keystore: Annotated[Path | None, typer.Option(
        envvar="LEDGER_KEYSTORE", help="your organisation's keystore (keys/<alias>.json)")] = None,
    password: Annotated[str | None, typer.Option(envvar="LEDGER_PASSWORD")] = None,
    acting_as: Annotated[str | None, typer.Option(
        "--as", envvar="LEDGER_AS", metavar="ALIAS",
        help="act as this organisation of --consortium: its keystore, node and TLS files")
    ] = None,
    consortium: Annotated[Path | None, typer.Option(
        envvar="LEDGER_CONSORTIUM",
        help="consortium folder (consortium init) or network folder (network up), for --as")
    ] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="print JSON (amounts in fen), not words")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="print only the ids made or listed (for scripts)")] = False,
    tls_cert: Annotated[Path | None, typer.Option(
        envvar="LEDGER_TLS_CERT", help="member certificate (certs/<alias>.crt): https nodes")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(
        envvar="LEDGER_TLS_KEY", help="its key (keys/<alias>.tls.pem, opened with the password)")
    ] = None,
    tls_ca: Annotated[Path | None, typer.Option(
        envvar="LEDGER_TLS_CA", help="consortium CA certificate (ca/ca.crt)")] = None,
) -> None:
    """Set the node, identity and output format (these options may also follow the command)."""
    Settings.node, Settings.keystore, Settings.password = node, keystore, password
    Settings.as_json, Settings.quiet = as_json, quiet
    Settings.acting_as, Settings.consortium = acting_as, consortium
    Settings.tls_cert, Settings.tls_key, Settings.tls_ca = tls_cert, tls_key, tls_ca
    Session.me = Session.directory = None
    if acting_as is not None:
        _act_as(acting_as)


def _act_as(alias: str) -> None:
    """Fill in the keystore, node and TLS files of `alias` that were not given explicitly."""
    if Settings.consortium is None:
        raise typer.BadParameter("--as needs the consortium: give --consortium DIR (or set "
                                 "LEDGER_CONSORTIUM), the folder of `consortium init` or of "
                                 "`network up`")
    try:
        acting = locate(Settings.consortium, alias)
    except ActingError as exc:
        raise typer.BadParameter(str(exc)) from exc
    Settings.keystore = Settings.keystore or acting.keystore
    if Settings.node is None and acting.nodes:
        Settings.node = ",".join(acting.nodes)
    if acting.tls is not None and not any((Settings.tls_cert, Settings.tls_key, Settings.tls_ca)):
        Settings.tls_cert, Settings.tls_key, Settings.tls_ca = acting.tls


def node_urls() -> list[str]:
    """Return the node URLs to talk to (comma-separated in --node: fail over in order)."""
    return [u.strip() for u in (Settings.node or DEFAULT_NODE).split(",") if u.strip()]


def identity_and_tls() -> tuple[Identity, ssl.SSLContext | None]:
    """Open the keystore (and the TLS files, if given) named by the options."""
    if Settings.keystore is None:
        raise typer.BadParameter("give --keystore FILE (or set LEDGER_KEYSTORE): the keystore "
                                 "of the organisation you act as, e.g. keys/tier1.json")
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
    """Open the keystore and bind a participant to the node (once per command)."""
    if Session.me is None:
        identity, tls = identity_and_tls()
        try:
            urls = node_urls()
            Session.me = Participant(urls if len(urls) > 1 else urls[0], identity, tls=tls)
        except ValueError as exc:  # an https node without TLS files
            raise typer.BadParameter(
                f"{exc}; give --tls-cert certs/<alias>.crt, --tls-key keys/<alias>.tls.pem "
                "and --tls-ca ca/ca.crt from the consortium folder") from exc
    return Session.me


def names() -> Directory:
    """Return the member directory (fetched from the node when a name is first needed)."""
    if Session.directory is None:
        Session.directory = Directory(lambda: participant().members())
    return Session.directory


def org(text: str, what: str = "organisation") -> str:
    """Return the USCC of the member `text` names: USCC, consortium alias or name."""
    try:
        return organisation(text, what=what, members=names().members(),
                            aliases=consortium_aliases(Settings.keystore))
    except ResolveError as exc:
        raise typer.BadParameter(str(exc)) from exc


def record(text: str, *kinds: str) -> str:
    """Return the full id that `text` (a full id or a unique 8+ hex prefix) names."""
    try:
        return record_id(text, kinds=kinds,
                         lookup=lambda prefix, k: participant().resolve_ids(prefix, k))
    except ResolveError as exc:
        raise typer.BadParameter(str(exc)) from exc


def show(value: Any, text: RenderableType | None = None,
         ids: Sequence[str] | None = None) -> None:
    """Print `value` as JSON with --json, only `ids` with --quiet, else the human `text`."""
    if Settings.quiet and ids is not None and not Settings.as_json:
        for one in ids:
            console.print(one, highlight=False, soft_wrap=True)
    elif Settings.as_json or text is None:
        console.print_json(json.dumps(value, ensure_ascii=False))
    elif isinstance(text, str):
        console.print(text, markup=False)  # names, references, invoice numbers are not markup
    else:
        console.print(text)


def error(message: object) -> None:
    """Print one error line on stderr (the message as written: it is not markup)."""
    err.print(Text.assemble(("error: ", "red"), str(message)), highlight=False)


def fen(text: str, what: str = "amount", *, positive: bool = True) -> int:
    """Parse a yuan amount typed by the user into fen (refusing malformed or, by default, <= 0)."""
    try:
        amount = parse_yuan(text)
    except LedgerError as exc:
        raise typer.BadParameter(f"{what}: {exc}") from exc
    if positive and amount <= 0:
        raise typer.BadParameter(f"{what} {yuan(amount)} must be more than 0.00")
    return amount


def committed(status: dict[str, Any], what: str) -> None:
    """Print a committed action's outcome and, in words, what its events did.

    With --quiet, the ids of what it made (a credential, a credit line, the
    notes of a transfer, a financing), else its transaction id.
    """
    head = Text.assemble((what, "green"), f" committed in block {status.get('height')} "
                                          f"(tx {short(status.get('tx_id'))})")
    lines = [f"\n  {line}" for line in describe_events(status.get("events", []))]
    show(status, Text.assemble(head, *lines), made_ids(status))


def made_ids(status: dict[str, Any]) -> list[str]:
    """Return the ids of what a committed transaction made, or its own id if it made none."""
    made: list[str] = []
    for event in status.get("events", []):
        kind = event.get("type")
        if kind == "transferred":
            made += [o["note"] for o in event.get("outputs", [])]
        elif kind in MADE:
            made.append(event[MADE[kind]])
    return made or [str(status.get("tx_id"))]


def describe_events(events: Sequence[dict[str, Any]]) -> list[str]:
    """Return one line per event: what happened, with amounts in yuan and names."""
    return [_describe(event) for event in events]


def _describe(event: dict[str, Any]) -> str:
    kind = event.get("type", "event")
    who = names()
    if kind == "transferred":
        paid = "".join(f"\n    {yuan(o['amount'])} to {who.name(o['holder'])} (note "
                       f"{short(o['note'])})" for o in event.get("outputs", []))
        return f"transferred from note {short(event.get('note'))}:{paid}"
    if kind == "paid":
        return (f"paid {yuan(event['amount'])} on credential {short(event['receivable'])} "
                f"(ref {event['payment_ref']}){'; fully paid' if event.get('fully_paid') else ''}")
    if kind == "financed":
        return (f"financing {short(event['financing'])} accepted: the bank now holds note "
                f"{short(event['bank_note'])}; net proceeds {yuan(event['net_proceeds'])}")
    ids = [f"{ID_WORDS.get(k, k.replace('_', ' '))} {short(v)}" for k, v in event.items()
           if isinstance(v, str) and len(v) == 64 and k != "terms_hash"]
    amount = f" {yuan(event['amount'])}" if isinstance(event.get("amount"), int) else ""
    return f"{kind.replace('_', ' ')}:{amount} {', '.join(ids)}".rstrip()
