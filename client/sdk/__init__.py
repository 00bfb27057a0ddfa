"""What a participant's program imports: everything needed to take part in a consortium.

- `client.sdk.participant`: `Participant`, one method per business action,
  plus queries and proofs (the usual entry point).
- `client.sdk.http`: `NodeClient`, the signed HTTP connection to one node.
- `client.sdk.policies`: `Policies`, the consortium's policies in force, typed.
- `client.sdk.keystore`: the password-encrypted file holding an organisation's key.
- `client.sdk.tls`: the member's TLS files and the context to reach an https node.
- `client.sdk.lightclient`: trust the log only through checkpoints a quorum cosigned.
- `client.sdk.proofs`: check a node's inclusion and consistency proofs locally.

A third-party integrator needs nothing else.  The SDK imports only itself,
`ledger/` and `contracts/` (the light client derives block 0 from the
genesis through them): none of the tooling (`client.cli`, `client.audit`,
`client.trace`, `client.local_consortium`), and never `node/`.
"""
