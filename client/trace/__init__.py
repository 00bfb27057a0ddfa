"""`ledger trace`: a note's provenance back to its issuance, checkable with no node.

- `bundle`: build a trace bundle from a node (the note's lineage, every
  transaction that made it, inclusion proofs against one checkpoint, keys).
- `check`: verify a bundle offline, with `ledger/` alone, and say what was
  proven and what was taken on trust.
- `story`: tell a bundle and its verdict in words.
"""
