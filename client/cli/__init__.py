"""The `ledger` command line, built on the SDK: one module per command group.

Amounts are typed in yuan ("1,000,000.00") and sent as integer fen.  Every
command that talks to a node signs its requests with the keystore given by
--keystore (password from --password or LEDGER_PASSWORD); `--json` prints
machine-readable output.

- `common`: the global options and what every command shares;
- `actions`: the business actions (credit line, issue, transfer, pay, ...);
- `finance`: `ledger finance`;
- `queries`: what the node shows (status, holdings, note, tx, verify, ...);
- `keys`: `ledger keys`;
- `operate`: `ledger consortium`, `ledger node`, `ledger network`;
- `clock`: `ledger clock advance`, a simulation's clock;
- `auditing`: `ledger audit`, `ledger export`, `ledger trace`;
- `tools`: `ledger demo`, `ledger bench`.

The commands are registered here, in the order `ledger --help` lists them.
"""

from __future__ import annotations

import sys

import typer

from client.cli import actions, auditing, clock, common, finance, keys, operate, queries, tools
from client.sdk.http import NodeError
from client.sdk.keystore import KeystoreError
from client.sdk.participant import TransactionFailed
from ledger.errors import LedgerError

app = typer.Typer(help="Permissioned ledger for supply-chain receivables.", no_args_is_help=True)
app.callback()(common.main_options)

COMMANDS = (
    ("demo", tools.demo),
    ("credit-line", actions.credit_line), ("cosign", actions.cosign), ("issue", actions.issue),
    ("accept", actions.accept), ("reject", actions.reject), ("withdraw", actions.withdraw),
    ("expire", actions.expire), ("mark-overdue", actions.mark_overdue),
    ("transfer", actions.transfer), ("pay", actions.pay), ("freeze", actions.freeze),
    ("unfreeze", actions.unfreeze),
    ("status", queries.status), ("holdings", queries.holdings), ("note", queries.note),
    ("receivable", queries.receivable), ("lineage", queries.lineage), ("tx", queries.tx),
    ("verify", queries.verify),
    ("trace", auditing.trace), ("audit", auditing.audit), ("export", auditing.export_chain),
    ("bench", tools.bench),
)
GROUPS = (
    ("keys", keys.app), ("consortium", operate.consortium_app), ("node", operate.node_app),
    ("finance", finance.app), ("network", operate.network_app),
    ("clock", clock.app),
)
for name, command in COMMANDS:
    app.command(name)(command)
for name, group in GROUPS:
    app.add_typer(group, name=name)


def main() -> None:
    """Run the CLI, turning SDK errors into a one-line message and exit status 1."""
    try:
        app()
    except (NodeError, TransactionFailed, KeystoreError, LedgerError) as exc:
        common.err.print(f"[red]error:[/] {exc}")
        sys.exit(1)
