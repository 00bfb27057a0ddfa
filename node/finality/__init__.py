"""Finality: nodes sign the headers they computed; a quorum of organisations makes a block final.

`attestor` signs and publishes this node's attestations and counts everyone's
(a block is final once nodes of more than half of the organisations signed
its header hash; a node a quorum contradicts stops), `checkpoints` serves the
signed tree head of each final block with the nodes' cosignatures,
`state_notes` each block's state digest with theirs, and
`catch_up` fetches certified blocks from peers for a node that was away past
the compaction of the ordering log.
"""
