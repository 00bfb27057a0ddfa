"""The node's pipeline, admission -> commit -> queries.

`admission` checks a submission completely (shape, signatures, replay,
window, a simulation of the contract), records what it accepts and hands it
to the `mempool`, which batches it for the orderer; `signature_pool` verifies
signatures in worker processes.  `chain` turns each ordered batch into the
next block (by ledger/derivation.py) and commits it durably, driven by the
`committer` thread.  `queries` answers every read the API serves.
"""
