"""The auditor's commands: `ledger audit`, `ledger export` and `ledger trace`.

`audit` re-derives a chain (from nodes or a chain file) trusting nothing
stored, optionally writing the HTML report; `export` writes the chain file
it audits offline; `trace` follows a note back to its issuance with the
proofs to check it offline, or checks a saved trace with no node at all.
The work is done by `client.audit` and `client.trace`, imported when the
command runs so the other commands start without them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from client.cli.common import (
    Settings,
    console,
    err,
    error,
    identity_and_tls,
    node_urls,
    participant,
    show,
)
from client.sdk.http import NodeClient
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from client.audit import AuditReport
    from client.audit.run import Rebuilt


def _auditor_nodes(urls: list[str]) -> list[NodeClient]:
    """Return signed connections to `urls` as the keystore's organisation (the auditor)."""
    identity, tls = identity_and_tls()
    try:
        return [NodeClient(url, identity, tls=tls) for url in urls]
    except ValueError as exc:  # an https node without TLS files
        raise typer.BadParameter(str(exc)) from exc


def _require_auditor(node: NodeClient) -> None:
    """Refuse, before any check runs, to audit a node as an organisation that is no auditor.

    A node serves block transactions and full state to auditors only, so
    anyone else would see every check fail for what is a permission.
    """
    me = node.identity.uscc
    members = {m["uscc"]: m for m in node.get("/v1/members")["members"]}
    roles = members.get(me, {}).get("roles", [])
    if "auditor" not in roles:
        name = members.get(me, {}).get("name", me)
        raise typer.BadParameter(
            f"only an auditor may audit a node, and you act as {name} ({me}, roles: "
            f"{', '.join(roles) or 'none'}): give an auditor's keystore, or audit a chain "
            "file with --chain (an auditor exports it with `ledger export`)")


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
    if verify_file is not None:
        if note_id is not None or out is not None:
            raise typer.BadParameter("--verify takes a bundle file, and no NOTE_ID or --out")
        _verify_saved_trace(verify_file, genesis)
    if note_id is None:
        raise typer.BadParameter("give a NOTE_ID to trace, or --verify FILE")
    _trace_note(note_id, out)


def _verify_saved_trace(verify_file: Path, genesis: Path | None) -> NoReturn:
    """Check a saved bundle with no node (cosigners pinned by `genesis` if given), then exit."""
    from client.trace.check import verify_bundle
    from client.trace.story import tell_checked

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


def _trace_note(note_id: str, out: Path | None) -> NoReturn:
    """Build a note's trace from the node, check it, tell it (and save it to `out`), then exit."""
    from client.trace.bundle import build_trace
    from client.trace.check import verify_bundle
    from client.trace.story import tell_trace

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
    snapshot: Annotated[list[Path] | None, typer.Option(
        "--snapshot", help="snapshot file (`python -m node snapshot`) to check against the "
                           "replay: headers, leaves, state digest, cosigned note; repeat")] = None,
) -> None:
    """Audit a chain, trusting nothing stored: re-derive every block, check every signature.

    Hash links, RFC 9162 roots, batch, transaction and attestation signatures,
    re-execution through the pinned contracts, stored rows and state,
    conservation of every receivable, several nodes against each other, and
    snapshots against the replay.  Exit status 1 on any finding.
    """
    from client.audit.render import print_audit

    if receivable and html is None:
        raise typer.BadParameter("--receivable draws a lineage in the --html report: give --html")
    urls = node if node else ([] if chain is not None else node_urls())
    states: list[Any] = []
    nodes = _auditor_nodes(urls) if urls else []
    if nodes:
        _require_auditor(nodes[0])
    for path in snapshot or []:
        if not path.is_file():
            raise typer.BadParameter(f"no snapshot file at {path}")
    report = _audited(chain, nodes, parallel, states.append, snapshot or [])
    if Settings.as_json:
        show(report.to_json())
    else:
        print_audit(console, report)
    if html is not None:
        _write_audit_html(html, report.to_json(), states[0], receivable or [], chain, nodes)
    raise typer.Exit(0 if report.passed else 1)


def _audited(chain: Path | None, nodes: list[NodeClient], parallel: bool | None,
             rebuilt: Rebuilt, snapshots: list[Path]) -> AuditReport:
    """Audit `chain` (compared with `nodes`), or else the first of `nodes`, showing progress.

    Raises BadParameter if `chain` is given but is not a file.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from client.audit import audit_chain_file, audit_nodes

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("re-executing transactions", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        if chain is not None:
            if not chain.is_file():
                raise typer.BadParameter(f"no chain file at {chain}")
            return audit_chain_file(chain, nodes=nodes, progress=advance, parallel=parallel,
                                    rebuilt=rebuilt, snapshots=snapshots)
        return audit_nodes(nodes, progress=advance, parallel=parallel, rebuilt=rebuilt,
                           snapshots=snapshots)


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
            error(exc)
            raise typer.Exit(2) from exc
    else:
        with err.status("exporting") as status:
            done = export_from_node(participant().node,
                                    out, lambda n: status.update(f"exported {n} blocks"))
    show({"out": str(done.path), "lines": done.lines, "blocks": done.blocks,
          "bytes": done.bytes},
         f"wrote {done.path}: {done.blocks} blocks, {done.lines} lines, {done.bytes:,} bytes")
