"""A credential's split tree drawn as an inline SVG picture, laid out in Python.

The layout is a simple tidy tree, computed deterministically: depth gives
the row, leaves take columns left to right in display order, and every
parent sits centred over its first and last child.  Two notes of one row
have disjoint sets of leaves, and each lies between its own leftmost and
rightmost leaf, so boxes of one row are at least a column apart and never
overlap.  Every text comes from the chain, so all of it is escaped.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from client.audit.lineage import LineageNote, LineageTree
from ledger.money import format_fen

BOX_W = 200
BOX_H = 78
GAP_X = 26
GAP_Y = 66
MARGIN = 20
HEADER_H = 44
COLUMN = BOX_W + GAP_X
ROW = BOX_H + GAP_Y
ID_CHARS = 12
HEADING_CHAR_W = 8.6  # px per narrow character of the 14px heading

STATUS_COLOURS = {  # status -> (fill, stroke)
    "active": ("#e6f4ea", "#1e8e3e"),
    "spent": ("#f1f3f4", "#80868b"),
    "settled": ("#e8f0fe", "#1a73e8"),
    "financing": ("#fef7e0", "#e37400"),
    "pending": ("#fff8e1", "#b06000"),
    "void": ("#fce8e6", "#d93025"),
}
DEFAULT_COLOURS = ("#ffffff", "#5f6368")


@dataclass(frozen=True)
class Box:
    """Where one note's box is drawn (top-left corner and size, in SVG pixels)."""

    note_id: str
    x: float
    y: float
    width: float = BOX_W
    height: float = BOX_H

    @property
    def centre_x(self) -> float:
        """Return the horizontal centre of the box."""
        return self.x + self.width / 2

    def overlaps(self, other: Box) -> bool:
        """Return whether the two boxes share any interior point."""
        return (self.x < other.x + other.width and other.x < self.x + self.width
                and self.y < other.y + other.height and other.y < self.y + self.height)


@dataclass(frozen=True)
class Layout:
    """Every note's box, in the tree's display order, and the picture's size."""

    boxes: tuple[Box, ...]
    width: float
    height: float

    def box(self, note_id: str) -> Box:
        """Return the box of `note_id`; raise KeyError if it is not in the layout."""
        return self._by_id[note_id]

    @cached_property
    def _by_id(self) -> dict[str, Box]:
        return {box.note_id: box for box in self.boxes}


def layout_tree(tree: LineageTree) -> Layout:
    """Lay the tree out: depth -> row, leaves left to right, parents centred over children."""
    centres: dict[str, float] = {}
    rows: dict[str, int] = {}
    next_leaf = 0
    for root in tree.roots():
        stack: list[tuple[LineageNote, int, bool]] = [(root, 0, False)]
        while stack:
            note, row, expanded = stack.pop()
            kids = tree.children(note.id)
            rows[note.id] = row
            if not kids:
                centres[note.id] = MARGIN + next_leaf * COLUMN + BOX_W / 2
                next_leaf += 1
            elif expanded:
                centres[note.id] = (centres[kids[0].id] + centres[kids[-1].id]) / 2
            else:
                stack.append((note, row, True))
                stack.extend((kid, row + 1, False) for kid in reversed(kids))
    boxes = tuple(Box(n.id, centres[n.id] - BOX_W / 2, HEADER_H + rows[n.id] * ROW)
                  for n in tree.notes if n.id in centres)
    depth = max(rows.values(), default=0)
    return Layout(boxes, MARGIN * 2 + max(next_leaf, 1) * COLUMN - GAP_X,
                  HEADER_H + depth * ROW + BOX_H + MARGIN)


def _width(text: str) -> int:
    """Estimate the drawn width of `text` in units of a narrow character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def fit(text: str, limit: int) -> str:
    """Shorten `text` to about `limit` narrow characters, ending with an ellipsis if cut."""
    if _width(text) <= limit:
        return text
    out = ""
    for char in text:
        if _width(out + char) > limit - 1:
            break
        out += char
    return out + "…"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _n(value: float) -> str:
    """Write a coordinate with at most one decimal, the same way every time."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _status_line(note: LineageNote) -> str:
    flags = [f for f, on in (("financed", note.financed), ("frozen", note.frozen)) if on]
    return " · ".join([note.status, *flags])


def _note_svg(note: LineageNote, box: Box) -> str:
    fill, stroke = STATUS_COLOURS.get(note.status, DEFAULT_COLOURS)
    dash = ' stroke-dasharray="5 3"' if note.frozen else ""
    tip = (f"note {note.id}\nholder {note.holder_label} ({note.holder})\n"
           f"{format_fen(note.amount)} {note.currency}\n{_status_line(note)}\n"
           f"created by transaction {note.created_tx}")
    x, y, cx = box.x + 10, box.y, box.centre_x
    lines = [
        (18, "note-id", f"{note.id[:ID_CHARS]}…" if len(note.id) > ID_CHARS else note.id),
        (36, "holder", fit(note.holder_label, 24)),
        (54, "amount", f"{format_fen(note.amount)} {note.currency}"),
        (70, "status", _status_line(note)),
    ]
    texts = "".join(f'<text class="{cls}" x="{_n(x)}" y="{_n(y + dy)}">{_e(t)}</text>'
                    for dy, cls, t in lines)
    return (f'<g class="note" data-note="{_e(note.id)}"><title>{_e(tip)}</title>'
            f'<rect x="{_n(box.x)}" y="{_n(y)}" width="{BOX_W}" height="{BOX_H}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash}/>'
            f'<circle cx="{_n(cx + BOX_W / 2 - 12)}" cy="{_n(y + 12)}" r="4" fill="{stroke}"/>'
            f"{texts}</g>")


def _edge_svg(tree: LineageTree, layout: Layout, child: LineageNote, marker: str) -> str:
    edge = tree.edge_to(child.id)
    if edge is None:
        return ""
    top, bottom = layout.box(edge.child), layout.box(edge.parent)
    knee = bottom.y + BOX_H + 18
    path = (f"M{_n(bottom.centre_x)} {_n(bottom.y + BOX_H)} V{_n(knee)} "
            f"H{_n(top.centre_x)} V{_n(top.y - 2)}")
    label = " · ".join(p for p in (edge.action, edge.date) if p)
    tip = f"{edge.action} by transaction {edge.tx_id}" + (f" on {edge.date}" if edge.date else "")
    return (f'<g class="edge" data-parent="{_e(edge.parent)}" data-child="{_e(edge.child)}">'
            f"<title>{_e(tip)}</title>"
            f'<path d="{path}" fill="none" stroke="#5f6368" stroke-width="1.4" '
            f'marker-end="url(#{marker})"/>'
            f'<text class="edge-label" x="{_n(top.centre_x)}" y="{_n(top.y - 12)}" '
            f'text-anchor="middle">{_e(label)}</text></g>')


STYLE = (".note-id{font:12px ui-monospace,Menlo,Consolas,monospace;fill:#202124}"
         ".holder{font:600 12px system-ui,sans-serif;fill:#202124}"
         ".amount{font:12px system-ui,sans-serif;fill:#202124}"
         ".status{font:11px system-ui,sans-serif;fill:#5f6368}"
         ".edge-label{font:11px system-ui,sans-serif;fill:#3c4043;stroke:#fff;"
         "stroke-width:3px;paint-order:stroke}"
         ".heading{font:600 14px system-ui,sans-serif;fill:#202124}")


def render_lineage_svg(tree: LineageTree) -> str:
    """Return the tree as one `<svg>` element: credential heading, note boxes, labelled edges."""
    layout = layout_tree(tree)
    marker = "arrow-" + re.sub(r"[^0-9A-Za-z]", "", tree.root_id)[:16]
    issuer = tree.issuer_name or tree.issuer
    heading = (f"credential {tree.root_id[:ID_CHARS]}… issued by {issuer} on {tree.issue_date}: "
               f"{format_fen(tree.face)} {tree.currency}, matures {tree.maturity_date}, "
               f"{tree.status}")
    edges = "".join(_edge_svg(tree, layout, n, marker) for n in tree.notes)
    notes = "".join(_note_svg(n, layout.box(n.id)) for n in tree.notes)
    width = _n(max(layout.width, MARGIN * 2 + _width(heading) * HEADING_CHAR_W))
    height = _n(layout.height)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f"<title>{_e(f'lineage of credential {tree.root_id}')}</title>"
            f"<style>{STYLE}</style>"
            f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0 0L10 5L0 10z" fill="#5f6368"/></marker></defs>'
            f'<text class="heading" x="{MARGIN}" y="24">{_e(heading)}</text>'
            f"{edges}{notes}</svg>")
