"""The audit's HTML page: one self-contained file an auditor can keep or mail.

`render_report` takes the audit's report as a plain dict, so any audit
engine can feed it: `passed`, `findings` (records {block, tx, note, check,
message}, any of the first three null; a bare string is read as a message),
`statistics` (name -> number) and optionally `checkpoints` (the tree heads
compared, each copied whole, e.g. with a signed C2SP note under
`checkpoint`).  Missing keys are tolerated: without `statistics` the
report's top-level numbers are shown.  Each credential asked for is drawn
as an inline SVG split tree (`client/audit/lineage_svg.py`).  The page has inline
CSS only: no script, no font, no image from elsewhere.  Everything shown
comes from a chain or a node, so every text is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from client.audit.lineage import LineageTree
from client.audit.lineage_svg import STATUS_COLOURS, render_lineage_svg

FINDING_FIELDS = ("block", "tx", "note", "check", "message")
RESERVED = frozenset({"passed", "findings", "statistics", "checkpoints", "title"})
LABELS = {
    "blocks": "Blocks", "transactions": "Transactions", "valid": "Valid transactions",
    "invalid": "Invalid transactions", "invalid_transactions": "Invalid transactions",
    "signatures": "Signatures verified", "batches": "Batch signatures verified",
    "attestations": "Attestations verified", "notes": "Notes", "receivables": "Receivables",
    "seconds": "Seconds", "tx_per_s": "Transactions per second", "log_size": "Log size",
    "log_root": "Log root", "height": "Height", "final_height": "Final height",
    "chain_id": "Chain", "nodes": "Nodes compared", "checkpoints": "Checkpoints",
}
WORDS = {"tx": "transactions", "txs": "transactions", "sigs": "signatures"}
CHECKPOINT_FIELDS = ("chain_id", "size", "height", "root", "block_hash")
SHORT_ID = 16

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#202124;margin:0;
background:#f8f9fa}
main{max-width:1240px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 8px}
h3{font-size:15px;margin:18px 0 6px;font-weight:600}
.banner{padding:14px 18px;border-radius:8px;font-size:18px;font-weight:700;color:#fff}
.banner.pass{background:#188038}.banner.fail{background:#c5221f}
.banner small{font-weight:400;font-size:14px;margin-left:10px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #dadce0;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
tr.finding td{background:#fce8e6}
.none{color:#80868b}
.stats{width:auto;min-width:420px}
pre{background:#fff;border:1px solid #dadce0;padding:8px;white-space:pre-wrap;
word-break:break-all;font-size:12px;margin:4px 0}
.picture{background:#fff;border:1px solid #dadce0;border-radius:8px;overflow-x:auto;
padding:6px}
.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:4px;
vertical-align:-2px;border:1.5px solid}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _finding(value: Any) -> dict[str, Any]:
    """Read one finding: a record, or a bare message string (older engines)."""
    if isinstance(value, Mapping):
        return {name: value.get(name) for name in FINDING_FIELDS}
    return {"block": None, "tx": None, "note": None, "check": None, "message": value}


def _cell(value: Any, *, is_id: bool = False) -> str:
    if value is None or value == "":
        return '<td class="none">—</td>'
    text = str(value)
    if is_id and len(text) > SHORT_ID:
        return f'<td class="id" title="{_e(text)}">{_e(text[:SHORT_ID])}…</td>'
    return f'<td class="id">{_e(text)}</td>' if is_id else f"<td>{_e(text)}</td>"


def _findings(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    rows = "".join(
        f'<tr class="finding"><td class="num">{i}</td>{_cell(f["block"])}'
        f'{_cell(f["tx"], is_id=True)}{_cell(f["note"], is_id=True)}{_cell(f["check"])}'
        f'{_cell(f["message"])}</tr>'
        for i, f in enumerate(findings, 1))
    return ("<table><thead><tr><th>#</th><th>block</th><th>transaction</th><th>note</th>"
            f"<th>check</th><th>message</th></tr></thead><tbody>{rows}</tbody></table>")


def label(name: str) -> str:
    """Return a readable label for a statistic's key."""
    if name in LABELS:
        return LABELS[name]
    words = [WORDS.get(w, w) for w in name.split("_") if w]
    if words[-2:] == ["per", "s"]:
        words[-1] = "second"
    return " ".join(words).capitalize() or name


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):  # rates and durations only; money is never a float
        return f"{value:,.2f}"
    return str(value)


def _statistics(report: Mapping[str, Any]) -> dict[str, Any]:
    stats = report.get("statistics")
    if isinstance(stats, Mapping):
        return dict(stats)
    return {k: v for k, v in report.items()
            if k not in RESERVED and isinstance(v, (int, float, str))}


def _statistics_table(stats: Mapping[str, Any]) -> str:
    if not stats:
        return '<p class="none">No statistics were reported.</p>'
    rows = "".join(f'<tr><th>{_e(label(k))}</th><td class="num">{_e(_number(v))}</td></tr>'
                   for k, v in stats.items())
    return f'<table class="stats"><tbody>{rows}</tbody></table>'


def _value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"<pre>{_e(json.dumps(value, ensure_ascii=False, indent=1))}</pre>"
    if isinstance(value, str) and "\n" in value:
        return f"<pre>{_e(value)}</pre>"
    return f'<span class="id">{_e(value)}</span>'


def _checkpoints(checkpoints: Any) -> str:
    if not isinstance(checkpoints, list) or not checkpoints:
        return ""
    parts = ["<h2>Checkpoints compared</h2>"]
    for index, point in enumerate(checkpoints, 1):
        if not isinstance(point, Mapping):
            parts.append(f"<h3>checkpoint {index}</h3>{_value(point)}")
            continue
        keys = [k for k in CHECKPOINT_FIELDS if k in point]
        keys += [k for k in point if k not in CHECKPOINT_FIELDS]
        rows = "".join(f"<tr><th>{_e(k)}</th><td>{_value(point[k])}</td></tr>" for k in keys)
        parts.append(f"<h3>checkpoint {index}</h3><table><tbody>{rows}</tbody></table>")
    return "".join(parts)


def _legend() -> str:
    items = "".join(f'<span><i style="background:{fill};border-color:{stroke}"></i>'
                    f"{_e(status)}</span>" for status, (fill, stroke) in STATUS_COLOURS.items())
    return f'<p class="legend">{items}<span>dashed border: frozen</span></p>'


def _lineages(lineages: Mapping[str, LineageTree]) -> str:
    if not lineages:
        return ""
    parts = ["<h2>Lineage of the credentials asked for</h2>", _legend()]
    for root_id, tree in lineages.items():
        parts.append(f'<h3>credential <span class="id">{_e(root_id)}</span></h3>'
                     f'<div class="picture">{render_lineage_svg(tree)}</div>')
    return "".join(parts)


def render_report(report: dict[str, Any], lineages: dict[str, LineageTree]) -> str:
    """Return the audit report as one self-contained HTML page.

    `report` is the audit's plain-dict report (see the module docstring);
    `lineages` maps credential ids to their split trees, drawn in that order.
    """
    findings = [_finding(f) for f in report.get("findings") or []]
    passed = bool(report.get("passed", not findings))
    verdict = "PASSED" if passed else "FAILED"
    count = f"{len(findings)} finding{'' if len(findings) == 1 else 's'}"
    title = str(report.get("title") or "Ledger audit report")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)} — {verdict}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1>"
        f'<div class="banner {"pass" if passed else "fail"}" id="verdict">{verdict}'
        f"<small>{_e(count)}</small></div>"
        f"<h2>Findings</h2>{_findings(findings)}"
        f"<h2>Chain statistics</h2>{_statistics_table(_statistics(report))}"
        f"{_checkpoints(report.get('checkpoints'))}"
        f"{_lineages(lineages)}"
        "</main></body></html>\n"
    )
