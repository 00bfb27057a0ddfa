"""Pure core of the receivables ledger: encoding, crypto, transactions, blocks, proofs.

Nothing in this package performs I/O, reads a clock or the environment; time,
state and configuration arrive as arguments.
"""
