"""Operating a consortium from the `ledger` command line: set it up, run its nodes.

`ledger consortium init` creates a local consortium (keys, keystores, CA and
certificates, genesis, node settings); `ledger node start` runs one node in
the foreground; `ledger network up/down` starts and stops a whole local
network (etcd and four nodes).  The work is done by `client.local_consortium`
and, for a node, by `python -m node` (the client never imports the node).
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.text import Text

from client.cli.common import Settings, err, error, show
from client.local_consortium.consortium import (
    Consortium,
    init_consortium,
    node_id_of,
    require_new_folder,
)
from client.local_consortium.spec import SpecError, example_spec, example_spec_text, load_spec
from ledger.errors import LedgerError
from ledger.timefmt import parse_timestamp

CHAIN_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")  # it names the CA and the checkpoint origin
consortium_app = typer.Typer(help="Consortium set-up.", no_args_is_help=True)
node_app = typer.Typer(help="Run a node.", no_args_is_help=True)
network_app = typer.Typer(help="A local consortium network (etcd + four nodes).",
                          no_args_is_help=True)


@consortium_app.command("init")
def consortium_init(
    directory: Annotated[Path, typer.Argument(
        help="a new (or empty) folder for keys, genesis, settings")],
    spec: Annotated[Path | None, typer.Option(
        help="TOML file naming the organisations (see `ledger consortium example-spec`); "
             "default: the example consortium")] = None,
    chain_id: Annotated[str, typer.Option(help="chain id")] = "receivables-local",
    port: Annotated[int, typer.Option(min=1, max=65535, help="node port")] = 8600,
    cert_days: Annotated[int, typer.Option(
        min=1, max=36500, help="validity of member and node certificates, in days")] = 730,
) -> None:
    """Create a local consortium: keys, keystores, CA and certificates, genesis, node.toml."""
    if not CHAIN_ID.fullmatch(chain_id):
        raise typer.BadParameter("1 to 40 of letters, digits, '.', '_' and '-'",
                                 param_hint="--chain-id")
    try:
        founders = example_spec() if spec is None else load_spec(spec)
        require_new_folder(directory.resolve())
    except (SpecError, FileExistsError) as exc:
        _refuse(exc)
    password = Settings.password or typer.prompt("password for the keystores", hide_input=True,
                                                 confirmation_prompt=True)
    try:
        made = init_consortium(directory, password=password, chain_id=chain_id,
                               genesis_time=datetime.now(UTC).replace(microsecond=0), port=port,
                               cast=founders.organisations, node_orgs=founders.node_aliases,
                               cert_validity=timedelta(days=cert_days))
    except OSError as exc:
        _refuse(exc)
    nodes = [node_id_of(alias) for alias in founders.node_aliases]
    show({"directory": str(directory), "orgs": made.orgs, "nodes": nodes},
         _describe_consortium(made, directory, nodes))


@consortium_app.command("example-spec")
def consortium_example_spec() -> None:
    """Print the example consortium spec (TOML), to copy and edit for `init --spec`."""
    sys.stdout.write(example_spec_text())


def _refuse(problem: Exception) -> NoReturn:
    """Print why the consortium cannot be created, and exit with status 2."""
    error(problem)
    raise typer.Exit(2)


def _describe_consortium(made: Consortium, directory: Path, nodes: list[str]) -> str:
    """Return in words what `consortium init` created and how to start its node."""
    lines = [f"consortium {made.chain_id} in {directory}: {len(made.orgs)} members"]
    lines += [f"  {alias}: {org['name']}  {org['uscc']}  {', '.join(org['roles'])}"
              for alias, org in made.orgs.items()]
    if nodes:
        lines.append(f"nodes registered in the genesis: {', '.join(nodes)} "
                     f"(keys and certificates in {directory / 'nodes'})")
        lines.append(f"node.toml runs {nodes[0]} on this machine alone (embedded log)")
    lines.append(f"start it with: ledger node start --config {directory / 'node.toml'}")
    return "\n".join(lines)


class LogLevel(StrEnum):
    """The levels a node logs at."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"


class LogFormat(StrEnum):
    """How a node writes its log lines."""

    text = "text"
    json = "json"


@node_app.command("start")
def node_start(
    config: Annotated[Path, typer.Option(help="node settings (TOML)")],
    manual_clock: Annotated[str | None, typer.Option(help="simulation only")] = None,
    clock_controller: Annotated[list[str] | None, typer.Option(
        help="simulation only: USCC of an organisation that may move the clock (repeat)")
    ] = None,
    log_level: Annotated[LogLevel | None, typer.Option(
        help="log lines at this level and above (default: info, or the settings' level)")] = None,
    log_format: Annotated[LogFormat | None, typer.Option(
        help="text, or json: one JSON object a line (default: text, or the settings')")
    ] = None,
    log_file: Annotated[Path | None, typer.Option(
        help="where the log is appended too, besides stderr (default: node.log beside "
             "the settings file, unless they name one)")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        min=0, max=65535, help="serve Prometheus metrics on this loopback port (0: any free "
                               "one; the ready line says which)")] = None,
) -> None:
    """Run a node in the foreground (as `python -m node serve`).

    It logs a banner (URL, chain, node id, height) and a ready line, then its
    work, to stderr and to its log file.
    """
    args = [sys.executable, "-m", "node", "serve", "--config", str(config)]
    log_file = log_file or _default_log_file(config)
    for flag, value in (("--log-level", log_level and log_level.value),
                        ("--log-format", log_format and log_format.value),
                        ("--log-file", log_file), ("--metrics-port", metrics_port)):
        if value is not None:
            args += [flag, str(value)]
    if manual_clock:
        try:
            parse_timestamp(manual_clock, what="--manual-clock")
        except LedgerError as exc:
            raise typer.BadParameter(str(exc)) from exc
        args += ["--manual-clock", manual_clock]
    for uscc in clock_controller or []:
        args += ["--clock-controller", uscc]
    os.execv(sys.executable, args)


def _default_log_file(config: Path) -> Path | None:
    """Return node.log beside the settings file, unless they (or LEDGER_LOG_FILE) name one."""
    if os.environ.get("LEDGER_LOG_FILE"):
        return None
    try:
        settings = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None  # the node says what is wrong with the file
    return None if "log_file" in settings else config.parent / "node.log"


@network_app.command("up")
def network_up(
    directory: Annotated[Path, typer.Option("--dir", help="directory for the network's files")],
    simulated_clock: Annotated[str | None, typer.Option(
        metavar="START", help="simulation only: run every node on a manual clock starting at "
                              "this UTC time (e.g. 2026-01-05T09:00:00Z), moved with "
                              "POST /v1/admin/clock on each node")] = None,
    log_level: Annotated[LogLevel, typer.Option(
        help="the nodes' log level (their node.log)")] = LogLevel.info,
) -> None:
    """Start a local network: a 3-member etcd cluster and four nodes, each with its own database.

    Each step is reported on stderr as it happens; the summary goes to stdout.
    """
    from client.local_consortium.network import NetworkError
    from client.local_consortium.network import network_up as up

    password = Settings.password or typer.prompt("password for the keystores", hide_input=True,
                                                 confirmation_prompt=True)
    try:
        description = up(directory, password, simulated_clock=simulated_clock,
                         progress=_progress, log_level=log_level.value)
    except (NetworkError, RuntimeError, OSError) as exc:
        error(exc)
        raise typer.Exit(2) from exc
    show(description, _describe_network(description, directory))


def _progress(message: str) -> None:
    """Report one step of `network up` or `down` on stderr (stdout stays the result)."""
    err.print(Text.assemble((datetime.now().strftime("%H:%M:%S"), "dim"), " ", message),
              highlight=False)


def _describe_network(description: dict[str, Any], directory: Path) -> str:
    """Return in words what `network up` started: etcd members, nodes, how to stop them."""
    lines = [f"network {description['chain_id']} up in {directory}"]
    if description.get("simulated_clock"):
        lines.append(f"SIMULATION network: every node runs on a manual clock starting at "
                     f"{description['simulated_clock']} (moved with POST /v1/admin/clock on "
                     f"each node), not the system clock")
    lines += [f"  etcd {m['name']}: {m['client_url']}" for m in description["etcd"]]
    lines += [f"  node {n['node_id']}: {n['url']}  (log {n['log_path']}, "
              f"metrics {n['metrics_url']})" for n in description["nodes"]]
    lines.append(f"stop it with: ledger network down --dir {directory}")
    return "\n".join(lines)


@network_app.command("down")
def network_down(
    directory: Annotated[Path, typer.Option("--dir", help="the directory given to `up`")],
) -> None:
    """Stop exactly the processes `ledger network up` started from this directory.

    Each step is reported on stderr as it happens; what was stopped goes to stdout.
    """
    from client.local_consortium.network import NetworkError
    from client.local_consortium.network import network_down as down

    try:
        stopped = down(directory, progress=_progress)
    except NetworkError as exc:
        error(exc)
        raise typer.Exit(2) from exc
    show({"stopped": stopped}, "\n".join(["stopped:", *(f"  {s}" for s in stopped)])
         if stopped else "nothing was running")
