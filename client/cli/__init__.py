"""The `ledger` command line, built on the SDK: one module per command group.

Amounts are typed in yuan ("1,000,000.00") and sent as integer fen.  Every
command that talks to a node signs its requests with the keystore given by
--keystore (password from --password or LEDGER_PASSWORD); `--json` prints
machine-readable output.

- `common`: the global options and what every command shares; `argv` lets
  them follow the subcommand; `render` draws answers for people (yuan,
  names, tables, trees); `resolve` reads ids by prefix and organisations by
  alias or name; `errors` words every failure;
- `inbox`: what awaits me; `lists`: members, credentials, notes,
  financings, credit lines;
- `actions`: the business actions (credit line, issue, transfer, pay, ...);
- `finance`: `ledger finance`;
- `queries`: what the node shows (status, policies, holdings, note, tx, verify, ...);
- `keys`: `ledger keys`;
- `operate`: `ledger consortium`, `ledger node`, `ledger network`;
- `clock`: `ledger clock advance`, a simulation's clock;
- `auditing`: `ledger audit`, `ledger export`, `ledger trace`;
- `tools`: `ledger demo`, `ledger bench`;
- `console`: `ledger console init|start|user`, an organisation's web console.

The commands are registered here, in the order `ledger --help` lists them.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.text import Text

from client.cli import (
    actions,
    auditing,
    clock,
    common,
    console,
    finance,
    inbox,
    keys,
    lists,
    operate,
    queries,
    tools,
)
from client.cli.argv import hoist_global_options
from client.cli.errors import explain

app = typer.Typer(help="Permissioned ledger for supply-chain receivables.", no_args_is_help=True)
app.callback()(common.main_options)

COMMANDS = (
    ("demo", tools.demo),
    ("inbox", inbox.inbox), ("members", lists.members), ("credentials", lists.credentials),
    ("notes", lists.notes), ("financings", lists.financings),
    ("credit-lines", lists.credit_lines),
    ("credit-line", actions.credit_line), ("cosign", actions.cosign), ("issue", actions.issue),
    ("accept", actions.accept), ("reject", actions.reject), ("withdraw", actions.withdraw),
    ("expire", actions.expire), ("mark-overdue", actions.mark_overdue),
    ("transfer", actions.transfer), ("pay", actions.pay), ("freeze", actions.freeze),
    ("unfreeze", actions.unfreeze),
    ("status", queries.status), ("policies", queries.policies), ("holdings", queries.holdings),
    ("note", queries.note),
    ("receivable", queries.receivable), ("lineage", queries.lineage), ("tx", queries.tx),
    ("verify", queries.verify),
    ("trace", auditing.trace), ("audit", auditing.audit), ("export", auditing.export_chain),
    ("bench", tools.bench),
)
GROUPS = (
    ("keys", keys.app), ("consortium", operate.consortium_app), ("node", operate.node_app),
    ("finance", finance.app), ("network", operate.network_app),
    ("clock", clock.app), ("console", console.console_app),
)
for name, command in COMMANDS:
    app.command(name)(command)
for name, group in GROUPS:
    app.add_typer(group, name=name)


def main() -> None:
    """Run the CLI: global options anywhere, every failure one line on stderr and exit status 1."""
    argv = hoist_global_options(sys.argv[1:], typer.main.get_group(app))
    try:
        app(args=argv, prog_name="ledger")
    except Exception as exc:  # a user never sees a traceback (LEDGER_DEBUG shows it)
        if os.environ.get("LEDGER_DEBUG"):
            raise
        common.err.print(Text.assemble(("error: ", "red"), explain(exc)), highlight=False)
        sys.exit(1)
