"""What a credential's page shows beyond its record: the split tree drawn, its history, clearing.

The tree is what the node lets this organisation see (the issuer and
auditors all of it, a holder the branch leading to its own notes), laid
out by client/audit/lineage_svg.py's tidy layout and drawn by the
`tree.svg` template in the visitor's language, with this organisation's
notes marked in words as well as by their frame.  The history is the same
tree's edges in order: which transaction split, transferred, financed or
settled which note, and on which block date (for transactions this
organisation may read; others are inferred from the notes and undated).
Committed transactions' facts come from the console's cache after the
first view (client/console/tx_facts.py).
The clearing is the settled notes: who was paid how much at maturity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from client.audit.lineage import LineageTree, lineage_tree_from_receivable
from client.audit.lineage_svg import BOX_H, BOX_W, Layout, fit, layout_tree
from client.console.services import Console


@dataclass(frozen=True)
class Drawn:
    """The tree and where each of its notes and edges is drawn."""

    tree: LineageTree
    layout: Layout
    mine: frozenset[str]

    @property
    def box_w(self) -> int:
        """Return the width of a note's box."""
        return BOX_W

    @property
    def box_h(self) -> int:
        """Return the height of a note's box."""
        return BOX_H

    def holder(self, note_id: str) -> str:
        """Return the holder's name of a note, shortened to fit its box."""
        note = next(n for n in self.tree.notes if n.id == note_id)
        return fit(note.holder_label, 24)

    def edges(self) -> list[dict[str, Any]]:
        """Return each edge as its path and label position, parents before children."""
        drawn = []
        for edge in self.tree.edges:
            top, bottom = self.layout.box(edge.child), self.layout.box(edge.parent)
            knee = bottom.y + BOX_H + 18
            drawn.append({"edge": edge, "x": top.centre_x, "y": top.y - 10,
                          "path": f"M{bottom.centre_x:.0f} {bottom.y + BOX_H:.0f} V{knee:.0f} "
                                  f"H{top.centre_x:.0f} V{top.y - 2:.0f}"})
        return drawn


def credential_extras(console: Console, answer: dict[str, Any]) -> dict[str, Any]:
    """Return the drawn tree, the history and the clearing of a `receivable(id)` answer."""
    me = console.signer.participant()
    facts = console.tx_facts.facts(me.node, (str(n.get("created_tx", "")) for n in answer["notes"]))
    names = {uscc: str(m["name"]) for uscc, m in console.directory.members().items()}
    tree = lineage_tree_from_receivable(answer, names=names, transactions=facts)
    mine = frozenset(n.id for n in tree.notes if n.holder == console.org_uscc)
    history = [{"edge": e, "child": next(n for n in tree.notes if n.id == e.child)}
               for e in tree.edges]
    cleared = [n for n in answer["notes"] if n["status"] == "settled"]
    return {"drawn": Drawn(tree, layout_tree(tree), mine), "history": history,
            "cleared": cleared}
