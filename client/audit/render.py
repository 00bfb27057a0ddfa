"""The audit report for a terminal: the verdict, what was checked, how fast, the findings."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from client.audit.report import AuditReport

MAX_SHOWN = 50


def print_audit(console: Console, report: AuditReport, max_findings: int = MAX_SHOWN) -> None:
    """Print the audit's verdict, figures and (up to `max_findings`) findings."""
    verdict = "[green]PASSED[/]" if report.passed else "[red]FAILED[/]"
    console.rule(f"[bold]audit {verdict}")
    s = report.stats
    console.print(
        f"  {s.blocks} blocks and {s.txs} transactions ({s.invalid_txs} recorded invalid) "
        f"re-derived from {s.batches} signed batches through contract code "
        f"{report.contract_code[:12]}…; {s.signatures} transaction signatures and "
        f"{s.attestations} attestations verified ({s.final_blocks} blocks final); "
        f"{s.state_keys} state keys, {s.notes} notes and {s.receivables} receivables "
        f"checked (conservation); global log of {report.log_size} entries, root "
        f"{report.log_root[:16]}…")
    if s.nodes_compared:
        console.print(f"  {s.nodes_compared} node(s) compared: checkpoints and block hashes")
    console.print(f"  [bold]{s.tx_per_s:,.0f} transactions verified per second[/] "
                  f"({s.seconds:.2f} s)")
    for finding in report.findings[:max_findings]:
        console.print(f"  [red]finding:[/] {escape(str(finding))}")
    hidden = len(report.findings) - max_findings
    if hidden > 0:
        console.print(f"  … and {hidden} more finding(s) (use --json for all)")
