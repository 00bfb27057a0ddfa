"""The HTML audit report and its lineage picture, without a node: shape, escaping, layout.

Trees are built from answers shaped exactly like `GET /v1/receivables/{id}`;
the picture is parsed as XML, so a malformed SVG fails here before a browser
would quietly repair it.
"""

from __future__ import annotations

import hashlib
import itertools
import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from client.audit.html_page import label, render_report
from client.audit.lineage import (
    LineageNote,
    LineageTree,
    TxFact,
    lineage_tree_from_receivable,
)
from client.audit.lineage_svg import BOX_H, layout_tree, render_lineage_svg

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>'


def _id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _note(name: str, parent: str | None, holder: str, amount: int, status: str,
          tx: str, depth: int, financed: bool = False) -> dict[str, Any]:
    return {"id": _id(name), "root_id": _id("root"), "parent_id": parent and _id(parent),
            "holder": holder, "amount": amount, "currency": "CNY", "issuer": "CORE",
            "maturity_date": "2026-04-05", "depth": depth, "status": status,
            "financed": financed, "frozen": False, "created_tx": _id(tx), "financing": None}


def story_answer() -> dict[str, Any]:
    """Return a receivable answer: a split into three, a transfer, a financing, a settlement."""
    record = {"id": _id("root"), "issuer": "CORE", "first_holder": "S1", "face": 100_000_000,
              "currency": "CNY", "issue_date": "2026-01-05", "maturity_date": "2026-04-05",
              "status": "overdue", "trade": {}, "live": []}
    notes = [
        _note("root", None, "S1", 100_000_000, "spent", "issue", 0),
        _note("b", "root", "S3", 25_000_000, "settled", "split", 1),
        _note("a", "root", "S2", 40_000_000, "spent", "split", 1),
        _note("c", "root", "S1", 35_000_000, "spent", "split", 1),
        _note("d", "a", "S4", 40_000_000, "active", "move", 2),
        _note("e", "c", "B1", 35_000_000, "settled", "finance", 2, financed=True),
        _note("f", "e", "B1", 17_500_000, "active", "pay", 3, financed=True),
    ]
    return {"receivable": record, "notes": notes}


FACTS = {
    _id("split"): TxFact(_id("split"), "transfer", "2026-01-05", (_id("a"), _id("b"), _id("c"))),
    _id("move"): TxFact(_id("move"), "transfer", "2026-01-07", (_id("d"),)),
    _id("finance"): TxFact(_id("finance"), "accept_terms", "2026-01-10", (_id("e"),)),
    _id("pay"): TxFact(_id("pay"), "pay", "2026-04-05", (_id("f"),)),
}
NAMES = {"S1": "Suzhou Precision", "S2": "Wuxi Castings", "B1": "Bank A"}


def _tree() -> LineageTree:
    return lineage_tree_from_receivable(story_answer(), names=NAMES, transactions=FACTS)


def test_edges_carry_the_action_and_block_date_of_the_creating_transaction() -> None:
    tree = _tree()
    edges = {(e.parent, e.child): (e.action, e.date) for e in tree.edges}
    assert edges == {
        (_id("root"), _id("a")): ("split", "2026-01-05"),
        (_id("root"), _id("b")): ("split", "2026-01-05"),
        (_id("root"), _id("c")): ("split", "2026-01-05"),
        (_id("a"), _id("d")): ("transfer", "2026-01-07"),
        (_id("c"), _id("e")): ("finance", "2026-01-10"),
        (_id("e"), _id("f")): ("settle", "2026-04-05"),
    }
    # siblings in the order their transaction created them, not the order served
    assert [n.id for n in tree.children(_id("root"))] == [_id("a"), _id("b"), _id("c")]
    assert [n.holder_label for n in tree.notes][:2] == ["Suzhou Precision", "Wuxi Castings"]


def test_without_transactions_the_actions_are_inferred_and_undated() -> None:
    tree = lineage_tree_from_receivable(story_answer())
    edges = {e.child: (e.action, e.date) for e in tree.edges}
    assert edges[_id("a")] == ("split", None)
    assert edges[_id("d")] == ("transfer", None)
    assert edges[_id("e")] == ("finance", None)
    assert edges[_id("f")] == ("settle", None)
    assert tree.notes[0].holder_label == "S1"  # no name known: the USCC


def test_the_picture_shows_every_note_and_every_edge() -> None:
    tree = _tree()
    svg = ET.fromstring(render_lineage_svg(tree))
    groups = svg.findall(f"{SVG}g")
    notes = {g.get("data-note"): g for g in groups if g.get("class") == "note"}
    edges = {(g.get("data-parent"), g.get("data-child")): g for g in groups
             if g.get("class") == "edge"}
    assert set(notes) == {n.id for n in tree.notes}
    for note in tree.notes:  # the full id in the tooltip, the short one drawn
        group = notes[note.id]
        assert note.id in group.findtext(f"{SVG}title", "")
        drawn = [t.text for t in group.findall(f"{SVG}text")]
        assert drawn[0] == note.id[:12] + "…"
    assert set(edges) == {(e.parent, e.child) for e in tree.edges}
    labels = {k: g.findtext(f"{SVG}text") for k, g in edges.items()}
    assert labels[(_id("c"), _id("e"))] == "finance · 2026-01-10"
    texts = [t.text for g in notes.values() for t in g.findall(f"{SVG}text")]
    assert "350,000.00 CNY" in texts and "Bank A" in texts and "active · financed" in texts


def test_every_text_from_the_chain_is_escaped() -> None:
    answer = story_answer()
    answer["notes"][1]["holder"] = HOSTILE
    answer["notes"][2]["id"] = '" onmouseover="alert(1)'
    answer["notes"][4]["parent_id"] = '" onmouseover="alert(1)'
    answer["receivable"]["status"] = HOSTILE
    tree = lineage_tree_from_receivable(answer, names={"S1": HOSTILE})
    report = {"passed": False, "title": HOSTILE,
              "findings": [{"block": HOSTILE, "tx": HOSTILE * 2, "note": None,
                            "check": HOSTILE, "message": f"reason: {HOSTILE}"}, HOSTILE],
              "statistics": {HOSTILE: HOSTILE},
              "checkpoints": [{"root": HOSTILE, "checkpoint": f"origin\n{HOSTILE}\n"}]}
    page = render_report(report, {HOSTILE: tree})
    assert "<script" not in page.lower()
    assert 'onmouseover="' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    ET.fromstring(render_lineage_svg(tree))  # still well-formed


def test_the_report_shows_verdict_findings_statistics_and_checkpoints() -> None:
    finding = {"block": 7, "tx": _id("bad"), "note": None, "check": "signature",
               "message": "signature of S2 does not verify"}
    page = render_report(
        {"passed": False, "findings": [finding],
         "statistics": {"blocks": 12, "tx_per_s": 10_512.5, "signatures": 1_234_567},
         "checkpoints": [{"chain_id": "c", "size": 40, "root": _id("r"), "height": 12,
                          "block_hash": _id("h"), "checkpoint": "c\n40\nroot=\n\n— n1 sig\n"}]},
        {_id("root"): _tree()})
    assert 'class="banner fail"' in page and "FAILED" in page and "1 finding<" in page
    assert "signature of S2 does not verify" in page and f'title="{_id("bad")}"' in page
    assert "Transactions per second" in page and "10,512.50" in page and "1,234,567" in page
    assert "Checkpoints compared" in page and "— n1 sig" in page
    assert page.count("<svg") == 1 and _id("root") in page
    for banned in ("<script", "<link", "src=", "@import", "url(http"):
        assert banned not in page  # self-contained: nothing fetched, nothing run


def test_older_reports_and_missing_keys_are_tolerated() -> None:
    old = {"passed": True, "blocks": 3, "transactions": 9, "log_root": "ab" * 32,
           "seconds": 0.25, "findings": []}
    page = render_report(old, {})
    assert 'class="banner pass"' in page and "PASSED" in page
    assert "Log root" in page and "0.25" in page and "Lineage" not in page
    bare = render_report({"findings": ["block 2: served hash does not match the header"]}, {})
    assert "FAILED" in bare and "served hash does not match" in bare
    assert "No statistics were reported" in bare
    assert "PASSED" in render_report({}, {}) and "Checkpoints" not in render_report({}, {})


def test_statistic_labels_are_readable() -> None:
    assert label("tx_per_s") == "Transactions per second"
    assert label("invalid") == "Invalid transactions"
    assert label("cross_node_heads") == "Cross node heads"


# -- layout ---------------------------------------------------------------------------------


@st.composite
def trees(draw: st.DrawFn) -> LineageTree:
    """Draw a random tree: each new note hangs under a random earlier one."""
    size = draw(st.integers(1, 40))
    parents = [None] + [draw(st.integers(0, i - 1)) for i in range(1, size)]
    depth: list[int] = []
    notes = []
    for index, parent in enumerate(parents):
        depth.append(0 if parent is None else depth[parent] + 1)
        notes.append(LineageNote(
            id=f"{index:064x}", parent_id=None if parent is None else f"{parent:064x}",
            holder="S", holder_name=None, amount=100, currency="CNY", status="active",
            depth=depth[-1], financed=False, frozen=False, created_tx=f"tx{parent}"))
    notes.sort(key=lambda n: (n.depth, n.id))
    answer = {"receivable": {"id": notes[0].id, "issuer": "C", "face": 100, "currency": "CNY",
                             "issue_date": "2026-01-05", "maturity_date": "2026-04-05",
                             "status": "active"},
              "notes": [n.__dict__ for n in notes]}
    return lineage_tree_from_receivable(answer)


@settings(max_examples=150, deadline=None)
@given(trees())
def test_layout_is_deterministic_and_boxes_never_overlap(tree: LineageTree) -> None:
    layout = layout_tree(tree)
    assert layout == layout_tree(tree)
    assert render_lineage_svg(tree) == render_lineage_svg(tree)
    assert {b.note_id for b in layout.boxes} == {n.id for n in tree.notes}
    for first, second in itertools.combinations(layout.boxes, 2):
        assert not first.overlaps(second), (first, second)
    for box in layout.boxes:
        assert 0 <= box.x and box.x + box.width <= layout.width
        assert 0 <= box.y and box.y + box.height <= layout.height
    for note in tree.notes:
        kids = tree.children(note.id)
        if kids:
            box = layout.box(note.id)
            first, last = layout.box(kids[0].id), layout.box(kids[-1].id)
            assert box.centre_x == (first.centre_x + last.centre_x) / 2
            assert all(layout.box(k.id).y >= box.y + BOX_H for k in kids)
