"""Client SDK and CLI for consortium participants and auditors.

Everything here talks to nodes over HTTP and verifies what it is given with
`ledger/` alone; it never imports the node.
"""
