"""`ledger clock advance`: move a simulation's clock forward from the command line.

A simulation node runs on a manual clock (`--manual-clock`; every node of
`ledger network up --simulated-clock`) that moves only when one of its
clock controllers says so (`POST /v1/admin/clock`), so a simulation reaches
a maturity only by moving it.  The command moves every node of the network
started from a directory (`--network DIR`, as the network's auditor, whom
`network up` names the controller), or the one node of the global `--node`
(as the global `--keystore`), and prints the new time.  The nodes of a
network all end at the same time, the latest node's plus the step, so a node
restarted at the network's start is caught up.  A node on the system clock
is refused before anything moves.  The other commands follow a simulation
node's clock by themselves (client/sdk/http.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from client.cli.common import Settings, error, identity_and_tls, node_urls, show
from client.sdk.http import NodeClient, NodeError
from client.sdk.keystore import KeystoreError

app = typer.Typer(help="The simulated clock of a simulation network or node.",
                  no_args_is_help=True)
MAX_DAYS = 3660  # what a node moves in one request (node/api/admin.py)


class ClockRefused(Exception):
    """Raised when a clock cannot be moved as asked (saying which nodes moved before)."""


@app.command("advance")
def advance(
    days: Annotated[int, typer.Option(min=0, max=MAX_DAYS, help="days to move forward")] = 0,
    seconds: Annotated[int, typer.Option(min=0, max=86_399, help="and seconds")] = 0,
    network: Annotated[Path | None, typer.Option(
        help="the directory of a simulation network (`ledger network up --dir DIR "
             "--simulated-clock START`): move every node of it, as its auditor")] = None,
) -> None:
    """Move a simulation's clock forward (every node of --network, else --node); print the time."""
    if days == 0 and seconds == 0:
        raise typer.BadParameter("give a step forward: --days, --seconds or both",
                                 param_hint="--days")
    try:
        clients = _network_clients(network) if network is not None else _node_clients()
    except (ClockRefused, KeystoreError, ValueError, OSError) as exc:
        error(exc)
        raise typer.Exit(2) from exc
    try:
        moved = move_clocks(clients, timedelta(days=days, seconds=seconds))
    except (ClockRefused, NodeError) as exc:
        error(exc)
        raise typer.Exit(1) from exc
    finally:
        for client in clients:
            client.close()
    times = sorted(set(moved.values()))
    show({"time": times[-1], "nodes": moved},
         f"simulated clock at {', '.join(times)} on {len(moved)} node(s): "
         f"{', '.join(sorted(moved))}")


def move_clocks(clients: list[NodeClient], step: timedelta) -> dict[str, str]:
    """Move each node's manual clock to the latest one's time plus `step`; return node id -> time.

    Raises ClockRefused, before anything moves, if a node runs on the
    system clock; NodeError (naming what moved) if a node refuses the move.
    """
    times: dict[str, datetime] = {}
    for client in clients:
        moment = client.simulated_time()
        if moment is None:
            raise ClockRefused(f"{client.base_url} runs on the system clock: only a simulation "
                               f"node's clock moves (a node started with --manual-clock, or "
                               f"`ledger network up --simulated-clock START`)")
        times[client.base_url] = moment
    target = max(times.values()) + step
    moved: dict[str, str] = {}
    for client in clients:
        gap = target - times[client.base_url]
        try:
            answer = client.post("/v1/admin/clock", {"days": gap.days, "seconds": gap.seconds})
        except NodeError as exc:
            raise ClockRefused(_refusal(client, exc, moved)) from exc
        moved[client.node_id(client.base_url)] = str(answer["time"])
    return moved


def _refusal(client: NodeClient, exc: NodeError, moved: dict[str, str]) -> str:
    """Return why `client`'s node did not move, and which nodes did before it."""
    why = f"{client.base_url} did not move its clock: {exc}"
    if moved:
        why += f"; moved before it: {', '.join(f'{n} to {t}' for n, t in moved.items())}"
    return why


def _node_clients() -> list[NodeClient]:
    """Return connections to each --node (all of a network's with --as), as the keystore's owner."""
    identity, tls = identity_and_tls()
    try:
        return [NodeClient(url, identity, tls=tls) for url in node_urls()]
    except ValueError as exc:  # an https node without TLS files
        raise typer.BadParameter(str(exc)) from exc


def _network_clients(directory: Path) -> list[NodeClient]:
    """Return connections to every node of the simulation network of `directory`, as its auditor.

    Raises ClockRefused if no network runs from there, or if it is not a
    simulation network.
    """
    from client.local_consortium.consortium import Consortium

    description = _simulation_network(directory)
    consortium = Consortium.open(Path(description["consortium"]))
    password = Settings.password or typer.prompt("the network's keystore password",
                                                 hide_input=True)
    identity = consortium.identity("auditor", password)
    tls = consortium.tls_context("auditor", password)
    return [NodeClient(node["url"], identity, chain_id=consortium.chain_id, tls=tls)
            for node in description["nodes"]]


def _simulation_network(directory: Path) -> dict[str, Any]:
    """Return the description of the simulation network running from `directory`."""
    from client.local_consortium.network import NETWORK_FILE, running_network

    if not (directory / NETWORK_FILE).exists():
        raise ClockRefused(f"no network was started from {directory} (no {NETWORK_FILE})")
    description = running_network(directory)
    if description is None:
        raise ClockRefused(f"the network of {directory} is not running (start it with: "
                           f"ledger network up --dir {directory})")
    if not description.get("simulated_clock"):
        raise ClockRefused(f"the network running from {directory} uses the system clock: "
                           f"only a simulation network's clock moves (start one with `ledger "
                           f"network up --dir NEW_DIR --simulated-clock START`)")
    return description
