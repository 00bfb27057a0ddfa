"""Operating a consortium from the `ledger` command line: set it up, run its nodes.

`ledger consortium init` creates a local consortium (keys, keystores, CA and
certificates, genesis, node settings); `ledger node start` runs one node in
the foreground; `ledger network up/down` starts and stops a whole local
network (etcd and four nodes).  The work is done by `client.local_consortium`
and, for a node, by `python -m node` (the client never imports the node).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from client.cli.common import Settings, err, show
from client.local_consortium.consortium import init_consortium
from ledger.errors import LedgerError
from ledger.timefmt import parse_timestamp

consortium_app = typer.Typer(help="Consortium set-up.", no_args_is_help=True)
node_app = typer.Typer(help="Run a node.", no_args_is_help=True)
network_app = typer.Typer(help="A local consortium network (etcd + four nodes).",
                          no_args_is_help=True)


@consortium_app.command("init")
def consortium_init(
    directory: Annotated[Path, typer.Argument(help="directory for keys, genesis, settings")],
    chain_id: Annotated[str, typer.Option(help="chain id")] = "receivables-local",
    port: Annotated[int, typer.Option(help="node port")] = 8600,
    cert_days: Annotated[int, typer.Option(
        min=1, help="validity of member and node certificates, in days")] = 730,
) -> None:
    """Create a local consortium: keys, keystores, CA and certificates, genesis, node.toml."""
    password = Settings.password or typer.prompt("password for the keystores", hide_input=True,
                                                 confirmation_prompt=True)
    made = init_consortium(directory, password=password, chain_id=chain_id,
                           genesis_time=datetime.now(UTC).replace(microsecond=0), port=port,
                           cert_validity=timedelta(days=cert_days))
    show({"directory": str(directory), "orgs": made.orgs},
         f"consortium {chain_id} in {directory}: {len(made.orgs)} members; start its node "
         f"with: ledger node start --config {directory / 'node.toml'}")


@node_app.command("start")
def node_start(
    config: Annotated[Path, typer.Option(help="node settings (TOML)")],
    manual_clock: Annotated[str | None, typer.Option(help="simulation only")] = None,
    clock_controller: Annotated[list[str] | None, typer.Option(
        help="simulation only: USCC of an organisation that may move the clock (repeat)")
    ] = None,
) -> None:
    """Run a node in the foreground (as `python -m node serve`)."""
    args = [sys.executable, "-m", "node", "serve", "--config", str(config)]
    if manual_clock:
        try:
            parse_timestamp(manual_clock, what="--manual-clock")
        except LedgerError as exc:
            raise typer.BadParameter(str(exc)) from exc
        args += ["--manual-clock", manual_clock]
    for uscc in clock_controller or []:
        args += ["--clock-controller", uscc]
    os.execv(sys.executable, args)


@network_app.command("up")
def network_up(
    directory: Annotated[Path, typer.Option("--dir", help="directory for the network's files")],
    simulated_clock: Annotated[str | None, typer.Option(
        metavar="START", help="simulation only: run every node on a manual clock starting at "
                              "this UTC time (e.g. 2026-01-05T09:00:00Z), moved with "
                              "POST /v1/admin/clock on each node")] = None,
) -> None:
    """Start a local network: a 3-member etcd cluster and four nodes, each with its own database."""
    from client.local_consortium.network import NetworkError
    from client.local_consortium.network import network_up as up

    password = Settings.password or typer.prompt("password for the keystores", hide_input=True,
                                                 confirmation_prompt=True)
    try:
        description = up(directory, password, simulated_clock=simulated_clock)
    except (NetworkError, RuntimeError, OSError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    show(description, _describe_network(description, directory))


def _describe_network(description: dict[str, Any], directory: Path) -> str:
    """Return in words what `network up` started: etcd members, nodes, how to stop them."""
    lines = [f"network {description['chain_id']} up in {directory}"]
    if description.get("simulated_clock"):
        lines.append(f"SIMULATION network: every node runs on a manual clock starting at "
                     f"{description['simulated_clock']} (moved with POST /v1/admin/clock on "
                     f"each node), not the system clock")
    lines += [f"  etcd {m['name']}: {m['client_url']}" for m in description["etcd"]]
    lines += [f"  node {n['node_id']}: {n['url']}  (log {n['log_path']})"
              for n in description["nodes"]]
    lines.append(f"stop it with: ledger network down --dir {directory}")
    return "\n".join(lines)


@network_app.command("down")
def network_down(
    directory: Annotated[Path, typer.Option("--dir", help="the directory given to `up`")],
) -> None:
    """Stop exactly the processes `ledger network up` started from this directory."""
    from client.local_consortium.network import NetworkError
    from client.local_consortium.network import network_down as down

    try:
        stopped = down(directory)
    except NetworkError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    show({"stopped": stopped}, "\n".join(["stopped:", *(f"  {s}" for s in stopped)])
         if stopped else "nothing was running")
