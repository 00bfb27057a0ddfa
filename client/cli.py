"""The `ledger` command line, built on the SDK.

Amounts are typed in yuan ("1,000,000.00") and sent as integer fen.  Every
command that talks to a node signs its requests with the keystore given by
--keystore (password from --password or LEDGER_PASSWORD); `--json` prints
machine-readable output.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from client.local_consortium.consortium import init_consortium
from client.sdk.http import NodeClient, NodeError
from client.sdk.keystore import Identity, KeystoreError, generate_key, load_keystore, save_keystore
from client.sdk.participant import Participant, PreparedTx, TransactionFailed
from client.sdk.tls import TlsFiles, client_context
from ledger.errors import LedgerError
from ledger.money import format_fen, parse_yuan
from ledger.timefmt import parse_timestamp
from ledger.tx import parse_envelope

app = typer.Typer(help="Permissioned ledger for supply-chain receivables.", no_args_is_help=True)
keys_app = typer.Typer(help="Organisation keys.", no_args_is_help=True)
consortium_app = typer.Typer(help="Consortium set-up.", no_args_is_help=True)
node_app = typer.Typer(help="Run a node.", no_args_is_help=True)
finance_app = typer.Typer(help="Financing (discount / factoring).", no_args_is_help=True)
network_app = typer.Typer(help="A local consortium network (etcd + four nodes).",
                          no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(consortium_app, name="consortium")
app.add_typer(node_app, name="node")
app.add_typer(finance_app, name="finance")
app.add_typer(network_app, name="network")
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


@app.callback()
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


# -- demo, keys, consortium, node ----------------------------------------------------


@app.command()
def demo(
    keep: Annotated[Path | None, typer.Option(help="keep the demo's files here")] = None,
    network: Annotated[Path | None, typer.Option(
        help="play on the local network of this directory (a simulation network is started "
             "there if none runs)")] = None,
    keep_network: Annotated[bool, typer.Option(
        help="with --network: leave a network the demo started running")] = False,
) -> None:
    """Run the demo consortium end to end (embedded, or on a local network), then audit."""
    from client.local_consortium.demo import run_demo, run_network_demo
    from client.local_consortium.network import NetworkError, running_network

    if network is None:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
        raise typer.Exit(0 if run_demo(keep, console) else 1)
    password = Settings.password
    running = running_network(network)
    if running is not None and running.get("simulated_clock") and password is None:
        password = typer.prompt("the network's keystore password", hide_input=True)
    try:
        passed = run_network_demo(network, console, password=password,
                                  keep_network=keep_network)
    except (NetworkError, RuntimeError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    raise typer.Exit(0 if passed else 1)


@keys_app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option(help="keystore file to write")],
    name: Annotated[str, typer.Option(help="organisation name")],
    uscc: Annotated[str, typer.Option(help="organisation USCC")],
) -> None:
    """Generate a signing key into a password-encrypted keystore."""
    password = Settings.password or typer.prompt("new password", hide_input=True,
                                                 confirmation_prompt=True)
    identity = Identity(uscc, name, generate_key())
    save_keystore(out, identity, password)
    show({"keystore": str(out), "public_key": identity.key.public_key.hex()},
         f"wrote {out}; public key {identity.key.public_key.hex()}")


@consortium_app.command("init")
def consortium_init(
    directory: Annotated[Path, typer.Argument(help="directory for keys, genesis, settings")],
    chain_id: Annotated[str, typer.Option(help="chain id")] = "receivables-local",
    port: Annotated[int, typer.Option(help="node port")] = 8600,
    cert_days: Annotated[int, typer.Option(
        min=1, help="validity of member and node certificates, in days")] = 730,
) -> None:
    """Create a local consortium: keys, keystores, CA and certificates, genesis, node.toml."""
    password = Settings.password or typer.prompt("password for the keystores", hide_input=True,
                                                 confirmation_prompt=True)
    made = init_consortium(directory, password=password, chain_id=chain_id,
                           genesis_time=datetime.now(UTC).replace(microsecond=0), port=port,
                           cert_validity=timedelta(days=cert_days))
    show({"directory": str(directory), "orgs": made.orgs},
         f"consortium {chain_id} in {directory}: {len(made.orgs)} members; start its node "
         f"with: ledger node start --config {directory / 'node.toml'}")


@node_app.command("start")
def node_start(
    config: Annotated[Path, typer.Option(help="node settings (TOML)")],
    manual_clock: Annotated[str | None, typer.Option(help="simulation only")] = None,
    clock_controller: Annotated[list[str] | None, typer.Option(
        help="simulation only: USCC of an organisation that may move the clock (repeat)")
    ] = None,
) -> None:
    """Run a node in the foreground (as `python -m node serve`)."""
    args = [sys.executable, "-m", "node", "serve", "--config", str(config)]
    if manual_clock:
        try:
            parse_timestamp(manual_clock, what="--manual-clock")
        except LedgerError as exc:
            raise typer.BadParameter(str(exc)) from exc
        args += ["--manual-clock", manual_clock]
    for uscc in clock_controller or []:
        args += ["--clock-controller", uscc]
    os.execv(sys.executable, args)


@network_app.command("up")
def network_up(
    directory: Annotated[Path, typer.Option("--dir", help="directory for the network's files")],
    simulated_clock: Annotated[str | None, typer.Option(
        metavar="START", help="simulation only: run every node on a manual clock starting at "
                              "this UTC time (e.g. 2026-01-05T09:00:00Z), moved with "
                              "POST /v1/admin/clock on each node")] = None,
) -> None:
    """Start a local network: a 3-member etcd cluster and four nodes, each with its own database."""
    from client.local_consortium.network import NetworkError
    from client.local_consortium.network import network_up as up

    password = Settings.password or typer.prompt("password for the keystores", hide_input=True,
                                                 confirmation_prompt=True)
    try:
        description = up(directory, password, simulated_clock=simulated_clock)
    except (NetworkError, RuntimeError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    lines = [f"network {description['chain_id']} up in {directory}"]
    if description.get("simulated_clock"):
        lines.append(f"SIMULATION network: every node runs on a manual clock starting at "
                     f"{description['simulated_clock']} (moved with POST /v1/admin/clock on "
                     f"each node), not the system clock")
    lines += [f"  etcd {m['name']}: {m['client_url']}" for m in description["etcd"]]
    lines += [f"  node {n['node_id']}: {n['url']}  (log {n['log_path']})"
              for n in description["nodes"]]
    lines.append(f"stop it with: ledger network down --dir {directory}")
    show(description, "\n".join(lines))


@network_app.command("down")
def network_down(
    directory: Annotated[Path, typer.Option("--dir", help="the directory given to `up`")],
) -> None:
    """Stop exactly the processes `ledger network up` started from this directory."""
    from client.local_consortium.network import NetworkError
    from client.local_consortium.network import network_down as down

    try:
        stopped = down(directory)
    except NetworkError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    show({"stopped": stopped}, "\n".join(["stopped:", *(f"  {s}" for s in stopped)])
         if stopped else "nothing was running")


# -- business actions ----------------------------------------------------------------


@app.command("credit-line")
def credit_line(
    core: Annotated[str, typer.Option(help="core enterprise USCC")],
    limit: Annotated[str, typer.Option(help="limit in yuan")],
    expiry: Annotated[str, typer.Option(help="expiry date YYYY-MM-DD")],
    out: Annotated[Path, typer.Option(help="file for the core enterprise to co-sign")],
    currency: str = "CNY",
) -> None:
    """As a bank, propose a credit line; the core enterprise co-signs and submits it."""
    prepared = participant().propose_credit_line(core=core, limit=fen(limit), currency=currency,
                                                 expiry_date=expiry)
    out.write_text(json.dumps(prepared.envelope().to_json()), encoding="utf-8")
    show({"prepared": str(out)}, f"wrote {out}: run `ledger cosign {out}` as the core enterprise")


@app.command()
def cosign(
    prepared: Annotated[Path, typer.Argument(help="prepared transaction file")],
    submit: Annotated[bool, typer.Option(help="submit once signed")] = True,
) -> None:
    """Add your signature to a prepared transaction (and submit it)."""
    envelope = parse_envelope(json.loads(prepared.read_text(encoding="utf-8")))
    me = participant()
    signed = me.cosign(PreparedTx(envelope.body, envelope.body_bytes, envelope.signatures))
    prepared.write_text(json.dumps(signed.envelope().to_json()), encoding="utf-8")
    if submit:
        status = me.submit([signed.envelope()])[0]
        committed(me.transaction(status["tx_id"]), "co-signed transaction")


@app.command()
def issue(
    credit_line_id: Annotated[str, typer.Option("--credit-line")],
    to: Annotated[str, typer.Option(help="supplier USCC")],
    amount: Annotated[str, typer.Option(help="face in yuan")],
    maturity: Annotated[str, typer.Option(help="maturity date YYYY-MM-DD")],
    contract_no: Annotated[str, typer.Option(help="trade contract number")],
    invoice: Annotated[list[str], typer.Option(help="NUMBER:AMOUNT[:ALLOCATED] in yuan")],
    currency: str = "CNY",
) -> None:
    """Issue a credential to a supplier against its invoices."""
    me = participant()
    invoices = []
    for spec in invoice:
        number, total, *rest = spec.split(":")
        invoices.append({"seller": to, "number": number, "amount": fen(total),
                         "allocated": fen(rest[0] if rest else total)})
    status = me.issue(credit_line=credit_line_id, to=to, amount=fen(amount), currency=currency,
                      maturity_date=maturity, contract_no=contract_no, invoices=invoices)
    show(status, f"issued credential {status['events'][0]['receivable']}")


def _simple(action: str, argument: str, what: str) -> None:
    me = participant()
    committed(getattr(me, action)(argument), what)


@app.command()
def accept(receivable: str) -> None:
    """Sign for a credential issued to you."""
    _simple("accept", receivable, "acceptance")


@app.command()
def reject(receivable: str) -> None:
    """Refuse a credential issued to you."""
    _simple("reject", receivable, "rejection")


@app.command()
def withdraw(receivable: str) -> None:
    """Withdraw a credential you issued that is not yet accepted."""
    _simple("withdraw", receivable, "withdrawal")


@app.command()
def expire(receivable: str) -> None:
    """Record that a credential's acceptance window passed."""
    _simple("expire", receivable, "expiry")


@app.command("mark-overdue")
def mark_overdue(receivable: str) -> None:
    """Record that a credential is unpaid past maturity plus grace."""
    _simple("mark_overdue", receivable, "overdue mark")


@app.command()
def transfer(
    note: str,
    pay: Annotated[list[str], typer.Option(help="USCC:AMOUNT in yuan (repeat)")],
) -> None:
    """Pay one or more suppliers from a note you hold; you keep the remainder."""
    payments = [(p.split(":")[0], fen(p.split(":")[1])) for p in pay]
    status = participant().transfer(note, payments)
    outputs = status["events"][0]["outputs"]
    show(status, "\n".join(f"{o['note']}  {o['holder']}  {format_fen(o['amount'])}"
                           for o in outputs))


@app.command()
def pay(receivable: str, amount: Annotated[str, typer.Option()],
        reference: Annotated[str, typer.Option()]) -> None:
    """As the issuer, record a maturity payment (full or partial)."""
    committed(participant().pay(receivable, fen(amount), reference), "payment")


@app.command()
def freeze(note: str, reason: Annotated[str, typer.Option()]) -> None:
    """As a freeze authority, freeze a note."""
    committed(participant().freeze(note, reason), "freeze")


@app.command()
def unfreeze(note: str, reason: Annotated[str, typer.Option()]) -> None:
    """As a freeze authority, lift a freeze."""
    committed(participant().unfreeze(note, reason), "unfreeze")


@finance_app.command("request")
def finance_request(note: str, bank: Annotated[str, typer.Option()]) -> None:
    """Ask a bank to finance a note you hold."""
    status = participant().request_financing(note, bank)
    show(status, f"financing request {status['events'][0]['financing']}")


@finance_app.command("offer")
def finance_offer(
    financing: str,
    rate_percent: Annotated[str, typer.Option(
        "--rate-percent", help="annual rate IN PERCENT: 2.50 means 2.50 % a year")],
    funding_date: Annotated[str, typer.Option()], fees: str = "0",
    fee_payer: str = "seller", recourse: bool = False, registry_no: str | None = None,
    tenor_reviewed: bool = False,
) -> None:
    """As the bank, offer priced terms (the rate is in percent a year)."""
    status = participant().offer_terms(
        financing, annual_rate_percent=rate_percent, funding_date=funding_date,
        fees=fen(fees), fee_payer=fee_payer, recourse=recourse, registry_no=registry_no,
        tenor_reviewed=tenor_reviewed)
    event = status["events"][0]
    show(status, f"offered: {describe_terms(event['terms'])}\nterms hash {event['terms_hash']}")


def describe_terms(terms: dict[str, Any]) -> str:
    """Return the priced terms in words: rate in percent, days, interest, fees, net proceeds."""
    return (f"{format_fen(terms['face'])} at {terms['annual_rate_percent']} % a year for "
            f"{terms['days']} days from {terms['funding_date']}: interest "
            f"{format_fen(terms['interest'])}, fees {format_fen(terms['fees'])} "
            f"({terms['fee_payer']} pays), net proceeds {format_fen(terms['net_proceeds'])}, "
            f"{'with' if terms['recourse'] else 'without'} recourse")


@finance_app.command("show")
def finance_show(financing: str) -> None:
    """Show a financing request and the terms on offer, with the hash that accepts them."""
    record = participant().financing(financing)
    terms = record.get("terms")
    text = f"financing {record['id']}: {record['status']}"
    if terms:
        text += f"\n{describe_terms(terms)}\nterms hash {record['terms_hash']}"
    show(record, text)


@finance_app.command("accept")
def finance_accept(
    financing: str,
    terms_hash: Annotated[str | None, typer.Option(
        help="accept exactly these terms (from `finance show`); without it, the terms on "
             "offer are shown and you are asked")] = None,
) -> None:
    """Agree to the bank's terms; the note passes to the bank."""
    me = participant()
    if terms_hash is None:
        record = me.financing(financing)
        if not record.get("terms"):
            raise typer.BadParameter(f"financing {financing} has no terms on offer yet")
        if Settings.as_json or not sys.stdin.isatty():
            raise typer.BadParameter("give --terms-hash (shown by `ledger finance show`) to "
                                     "accept without being asked")
        console.print(describe_terms(record["terms"]))
        typer.confirm("Accept these terms?", abort=True)
        terms_hash = str(record["terms_hash"])
    committed(me.accept_terms(financing, terms_hash), "financing")


@finance_app.command("cancel")
def finance_cancel(financing: str) -> None:
    """Withdraw from an open financing request."""
    committed(participant().cancel_financing(financing), "cancellation")


@finance_app.command("confirm")
def finance_confirm(financing: str, payment_ref: Annotated[str, typer.Option()]) -> None:
    """As the bank, confirm the disbursement."""
    committed(participant().confirm_disbursement(financing, payment_ref), "disbursement")


# -- queries -------------------------------------------------------------------------


@app.command()
def status() -> None:
    """Show the node's chain status."""
    show(participant().status())


@app.command()
def holdings() -> None:
    """List the notes you hold (active, pending acceptance or under a financing request)."""
    live = ("active", "pending", "financing")
    notes = [n for n in participant().holdings(status=None) if n["status"] in live]
    show(notes, "\n".join(f"{n['id']}  {format_fen(n['amount'])} {n['currency']}  "
                          f"{n['status']}, matures {n['maturity_date']}" for n in notes)
         or "no notes")


@app.command()
def note(note_id: str) -> None:
    """Show one note."""
    show(participant().note(note_id))


@app.command()
def receivable(root_id: str) -> None:
    """Show a credential and its split tree."""
    show(participant().receivable(root_id))


@app.command()
def lineage(note_id: str) -> None:
    """Show a note's ancestors up to issuance."""
    show(participant().lineage(note_id))


@app.command()
def tx(tx_id: str) -> None:
    """Show a transaction's status, envelope and events."""
    show(participant().transaction(tx_id))


@app.command()
def verify(tx_id: str) -> None:
    """Verify locally that a transaction is in the node's log (RFC 9162 proof)."""
    participant().verify_inclusion(tx_id)
    show({"tx_id": tx_id, "included": True}, f"[green]verified[/]: {tx_id} is in the log")


def _auditor_nodes(urls: list[str]) -> list[NodeClient]:
    """Return signed connections to `urls` as the keystore's organisation (the auditor)."""
    identity, tls = identity_and_tls()
    try:
        return [NodeClient(url, identity, tls=tls) for url in urls]
    except ValueError as exc:  # an https node without TLS files
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def trace(
    note_id: Annotated[str | None, typer.Argument(
        help="the note to trace back to its issuance")] = None,
    out: Annotated[Path | None, typer.Option(help="write the bundle (JSON) to this file")] = None,
    verify_file: Annotated[Path | None, typer.Option(
        "--verify", help="verify a saved bundle offline: no node, no keystore")] = None,
    genesis: Annotated[Path | None, typer.Option(
        help="with --verify: take the cosigning nodes from this genesis file, not the bundle")]
        = None,
) -> None:
    """Trace a note back to its issuance, with the proofs to check it offline (or --verify one).

    Exits 1 if a check fails; `--verify` also exits 1 if the bundle does not
    reach the issuance (a transaction of the path was not visible to its maker).
    """
    from client.trace.bundle import build_trace
    from client.trace.check import verify_bundle
    from client.trace.story import tell_checked, tell_trace

    if verify_file is not None:
        if note_id is not None or out is not None:
            raise typer.BadParameter("--verify takes a bundle file, and no NOTE_ID or --out")
        try:
            bundle = json.loads(verify_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise typer.BadParameter(f"cannot read {verify_file}: {exc}") from exc
        from client.sdk.lightclient import nodes_from_genesis

        try:
            pinned = None if genesis is None else nodes_from_genesis(genesis)
        except (OSError, ValueError, LedgerError) as exc:
            raise typer.BadParameter(f"cannot read the genesis {genesis}: {exc}") from exc
        verdict = verify_bundle(bundle, pinned)
        if Settings.as_json:
            show(verdict.to_json())
        else:
            tell_checked(console, bundle, verdict)
        raise typer.Exit(0 if verdict.passed else 1)
    if note_id is None:
        raise typer.BadParameter("give a NOTE_ID to trace, or --verify FILE")
    bundle = build_trace(participant().node, note_id)
    verdict = verify_bundle(bundle)
    if out is not None:
        out.write_text(json.dumps(bundle, ensure_ascii=False, indent=1), encoding="utf-8")
    if Settings.as_json:
        show(bundle)
    else:
        tell_trace(console, bundle, verdict)
        if out is not None:
            console.print(f"bundle written to {out}: check it anywhere with "
                          f"`ledger trace --verify {out}`")
    raise typer.Exit(1 if verdict.failures else 0)


@app.command()
def audit(
    node: Annotated[list[str] | None, typer.Option(
        "--node", help="node to audit (the first) and compare (every one); repeat")] = None,
    chain: Annotated[Path | None, typer.Option(
        help="chain file to audit (from `ledger export`); nodes given are compared with it")
    ] = None,
    parallel: Annotated[bool | None, typer.Option(
        "--parallel/--no-parallel",
        help="verify signatures in a second process (default: on long chains)")] = None,
    html: Annotated[Path | None, typer.Option(
        help="also write the report as an HTML page: findings, statistics, lineage pictures")]
        = None,
    receivable: Annotated[list[str] | None, typer.Option(
        "--receivable", help="with --html: draw this credential's split tree; repeat")] = None,
) -> None:
    """Audit a chain, trusting nothing stored: re-derive every block, check every signature.

    Hash links, RFC 9162 roots, batch, transaction and attestation signatures,
    re-execution through the pinned contracts, stored rows and state,
    conservation of every receivable, and several nodes against each other.
    Exit status 1 on any finding.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from client.audit import audit_chain_file, audit_nodes
    from client.audit.render import print_audit

    if receivable and html is None:
        raise typer.BadParameter("--receivable draws a lineage in the --html report: give --html")
    urls = node if node else ([] if chain is not None else [Settings.node])
    states: list[Any] = []
    nodes = _auditor_nodes(urls) if urls else []
    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("re-executing transactions", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        if chain is not None:
            if not chain.is_file():
                raise typer.BadParameter(f"no chain file at {chain}")
            report = audit_chain_file(chain, nodes=nodes, progress=advance, parallel=parallel,
                                      rebuilt=states.append)
        else:
            report = audit_nodes(nodes, progress=advance, parallel=parallel,
                                 rebuilt=states.append)
    if Settings.as_json:
        show(report.to_json())
    else:
        print_audit(console, report)
    if html is not None:
        _write_audit_html(html, report.to_json(), states[0], receivable or [], chain, nodes)
    raise typer.Exit(0 if report.passed else 1)


def _write_audit_html(path: Path, report: dict[str, Any], state: Any, roots: list[str],
                      chain: Path | None, nodes: list[NodeClient]) -> None:
    """Write the HTML report; lineages come from the rebuilt state, edge facts from the source."""
    from client.audit.html_report import (
        UnknownReceivable,
        file_tx_facts,
        lineages_from_state,
        write_audit_html,
    )
    from client.audit.lineage import TxFact, fetch_tx_facts

    def facts_of(tx_ids: Iterable[str]) -> dict[str, TxFact]:
        return file_tx_facts(chain, tx_ids) if chain is not None else fetch_tx_facts(
            nodes[0], tx_ids)

    try:
        lineages = lineages_from_state(state, roots, facts_of)
    except UnknownReceivable as exc:
        raise typer.BadParameter(str(exc)) from exc
    write_audit_html(path, report, lineages)
    err.print(f"wrote the HTML report to {path}")


@app.command("export")
def export_chain(
    out: Annotated[Path, typer.Option(help="chain file to write")],
    database: Annotated[str | None, typer.Option(
        help="export this node database directly (offline, via `python -m node export`) "
             "instead of asking the node")] = None,
) -> None:
    """Write a self-contained chain file (auditor role), to audit with `ledger audit --chain`."""
    from client.audit.chain_file import ExportFailed, export_from_database, export_from_node

    if database is not None:
        try:
            done = export_from_database(database, out)
        except ExportFailed as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2) from exc
    else:
        with err.status("exporting") as status:
            done = export_from_node(participant().node,
                                    out, lambda n: status.update(f"exported {n} blocks"))
    show({"out": str(done.path), "lines": done.lines, "blocks": done.blocks,
          "bytes": done.bytes},
         f"wrote {done.path}: {done.blocks} blocks, {done.lines} lines, {done.bytes:,} bytes")


@app.command()
def bench(
    seconds: Annotated[float, typer.Option(help="how long to drive load")] = 20.0,
    batch: Annotated[int, typer.Option(help="transactions per HTTP request")] = 400,
    clients: Annotated[int, typer.Option(help="concurrent submitting clients")] = 4,
    network: Annotated[Path | None, typer.Option(
        help="benchmark the network running from this directory (started and stopped "
             "here if none runs): final tx/s and submit-to-final latency")] = None,
    rate: Annotated[float | None, typer.Option(
        help="with --network: pace submissions to this many tx/s across clients "
             "(default: unpaced)")] = None,
) -> None:
    """Benchmark one embedded node (or a --network) over HTTP and print tx/s and latency."""
    if network is not None:
        from client.local_consortium.bench_network import run_network_bench

        result = run_network_bench(directory=network, seconds=seconds, batch=batch,
                                   clients=clients, rate=rate, password=Settings.password,
                                   console=console)
    else:
        if rate is not None:
            raise typer.BadParameter("--rate applies to --network only")
        from client.local_consortium.bench import run_bench

        result = run_bench(seconds=seconds, batch=batch, clients=clients, console=console)
    if Settings.as_json:
        show(result)


def main() -> None:
    """Run the CLI, turning SDK errors into a one-line message and exit status 1."""
    try:
        app()
    except (NodeError, TransactionFailed, KeystoreError, LedgerError) as exc:
        err.print(f"[red]error:[/] {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
