"""`ledger demo` and `ledger bench`: the consortium shown and measured on this machine.

Both run on `client.local_consortium`: an embedded node by default, or the
local network of a directory (`--network`); `demo --console` also leaves web
consoles running on a simulation network (in a new temporary folder if no
`--network` is given).  Imported when the command
runs, so the other commands start without them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer

from client.cli.common import Settings, console, error, show


def demo(
    keep: Annotated[Path | None, typer.Option(help="keep the demo's files here")] = None,
    network: Annotated[Path | None, typer.Option(
        help="play on the local network of this directory (a simulation network is started "
             "there if none runs)")] = None,
    keep_network: Annotated[bool, typer.Option(
        help="with --network: leave a network the demo started running")] = False,
    with_consoles: Annotated[bool, typer.Option(
        "--console",
        help="then leave web consoles for the core enterprise, a supplier, a bank and the "
             "auditor running beside the nodes, with demo logins (printed), and keep the "
             "network running until `ledger network down --dir DIR`; without --network, "
             "on a simulation network in a new folder under the system's temporary folder "
             "(its path is printed)")] = False,
) -> None:
    """Run the demo consortium end to end (embedded, or on a local network), then audit."""
    from client.local_consortium.demo import run_demo

    if with_consoles and network is None:
        network = Path(tempfile.mkdtemp(prefix="ledger-demo-"))
        console.print(f"the consoles' simulation network goes in {network}")
    if network is None:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
        raise typer.Exit(0 if run_demo(keep, console) else 1)
    raise typer.Exit(0 if _network_demo(network, keep_network, with_consoles) else 1)


def _network_demo(network: Path, keep_network: bool, with_consoles: bool = False) -> bool:
    """Play the demo on the network of `network` (asking its password if needed); True if passed.

    Exits with status 2 if the network cannot be started or used.
    """
    from client.local_consortium.demo import run_network_demo
    from client.local_consortium.network import NetworkError, running_network

    if network.exists() and not network.is_dir():
        error(f"--network {network} is a file: give the folder of a network (or a new one)")
        raise typer.Exit(2)
    password = Settings.password
    running = running_network(network)
    if running is not None and running.get("simulated_clock") and password is None:
        password = typer.prompt("the network's keystore password", hide_input=True)
    try:
        return run_network_demo(network, console, password=password, keep_network=keep_network,
                                consoles=with_consoles)
    except (NetworkError, RuntimeError, OSError) as exc:
        error(exc)
        raise typer.Exit(2) from exc


def bench(
    seconds: Annotated[float, typer.Option(min=1.0, max=3600.0,
                                           help="how long to drive load")] = 20.0,
    batch: Annotated[int, typer.Option(min=1, max=5000,
                                       help="transactions per HTTP request")] = 400,
    clients: Annotated[int, typer.Option(min=1, max=64,
                                         help="concurrent submitting clients")] = 4,
    network: Annotated[Path | None, typer.Option(
        help="benchmark the network running from this directory (started and stopped "
             "here if none runs): final tx/s and submit-to-final latency")] = None,
    rate: Annotated[float | None, typer.Option(
        min=1.0, help="with --network: pace submissions to this many tx/s across clients "
             "(default: unpaced)")] = None,
) -> None:
    """Benchmark one embedded node (or a --network) over HTTP and print tx/s and latency."""
    if network is not None:
        from client.local_consortium.bench_network import run_network_bench

        result = run_network_bench(directory=network, seconds=seconds, batch=batch,
                                   clients=clients, rate=rate, password=Settings.password,
                                   console=console)
    else:
        if rate is not None:
            raise typer.BadParameter("--rate applies to --network only")
        from client.local_consortium.bench import run_bench

        result = run_bench(seconds=seconds, batch=batch, clients=clients, console=console)
    if Settings.as_json:
        show(result)
