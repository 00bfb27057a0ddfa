"""Running a consortium on this machine, and its tooling.

None of this is needed to take part in a consortium (that is `client.sdk`);
it is what sets one up and exercises it locally:

- `consortium`: `ledger consortium init`, the members' keys, keystores,
  genesis and node settings; `spec`: the organisations it founds, from a
  TOML spec (the example one by default); `pki`: the consortium CA and the
  certificates it issues.
- `launcher`: a node process; `etcd_cluster`: a local etcd cluster;
  `network`: `ledger network up/down`, both together over mutual TLS.
- `demo`: `ledger demo`, one credential's whole life, then the audit.
- `bench`, `bench_network`: `ledger bench`, on one node or a network.
- `browser`: screenshots of the HTML report in headless Chromium.

It imports the SDK and the audit; the SDK imports none of it.
"""
