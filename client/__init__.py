"""The client side of the consortium, by audience.

- `client.sdk`: what a participant's program imports (the participant, the
  signed HTTP connection, keystores, TLS, the light client, proofs).  A
  third-party integrator needs nothing else, and it imports none of the rest.
- `client.cli`: the `ledger` command line, one module per command group.
- `client.audit`: the independent auditor, with its chain file, HTML report
  and lineage picture.
- `client.trace`: a note's provenance back to its issuance, checkable offline.
- `client.local_consortium`: running a consortium on this machine, and its
  tooling (consortium init and CA, node launcher, etcd cluster, network,
  demo, benchmarks, browser screenshots).

Everything here talks to nodes over HTTP (or runs them as processes) and
verifies what it is given with `ledger/` alone; it never imports the node.
"""
