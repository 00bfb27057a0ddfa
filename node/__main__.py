"""`python -m node serve ...`: run one node with uvicorn; `export`, `snapshot`, `restore`.

This is what `ledger node start` and the demo launch as a separate process,
so the client never imports the node.  `export` writes the chain file of a
node's database (node/storage/chain_lines.py), for `ledger export --database`;
`snapshot` writes its state at the final head and `restore` fills an empty
database from one, checked (node/snapshot/).
"""

from __future__ import annotations

import argparse
import gc
import ssl
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import LedgerError
from ledger.timefmt import parse_timestamp
from node.app import create_app
from node.clock import Clock, ManualClock, SystemClock
from node.config import NodeConfig
from node.observability.logs import FORMATS, LEVELS, check_settings, configure_logging
from node.observability.startup import AnnouncingServer, log_banner
from node.service import NodeService
from node.transport import tls

GC_THRESHOLD = 100_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m node", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a node")
    serve.add_argument("--config", type=Path, help="TOML file of node settings")
    serve.add_argument("--genesis", type=Path, dest="genesis_path")
    serve.add_argument("--database", dest="database_url")
    serve.add_argument("--orderer", type=Path, dest="orderer_path")
    serve.add_argument("--etcd", dest="etcd_endpoints",
                       help="comma-separated etcd client URLs: order through the network")
    serve.add_argument("--node-id", dest="node_id")
    serve.add_argument("--node-key", type=Path, dest="node_key_path",
                       help="file holding this node's attestation key (hex seed)")
    serve.add_argument("--tls-cert", type=Path, dest="tls_cert_path",
                       help="node certificate (PEM): serve HTTPS and require client certificates")
    serve.add_argument("--tls-key", type=Path, dest="tls_key_path",
                       help="the node certificate's private key (PEM)")
    serve.add_argument("--tls-ca", type=Path, dest="tls_ca_path",
                       help="consortium CA certificate (PEM): clients must present one it issued")
    serve.add_argument("--peers",
                       help="comma-separated URLs of other nodes (catch-up after compaction)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--manual-clock", metavar="TIMESTAMP",
                       help="simulation only: start a manual clock at this UTC time")
    serve.add_argument("--clock-controller", metavar="USCC", action="append",
                       dest="clock_controllers",
                       help="simulation only: an organisation that may move the manual clock "
                            "(repeat for several; at least one with --manual-clock)")
    serve.add_argument("--log-level", choices=LEVELS, type=str.lower,
                       help="log lines at this level and above (default: info)")
    serve.add_argument("--log-format", choices=FORMATS, type=str.lower,
                       help="text (default) or json: one JSON object a line")
    serve.add_argument("--log-file", type=Path,
                       help="also append the log to this file (it always goes to stderr)")
    serve.add_argument("--metrics-port", type=int,
                       help="serve Prometheus metrics on this port (0: any free one), "
                            "on --metrics-host")
    serve.add_argument("--metrics-host", help="the metrics listener's address "
                                              "(default: 127.0.0.1, this machine only)")
    sub.add_parser("export", help="write a node database's chain file "
                                  "(python -m node export --database URL --out FILE)",
                   add_help=False)
    sub.add_parser("snapshot", help="write a snapshot at the final head "
                                    "(python -m node snapshot --database URL --out FILE)",
                   add_help=False)
    sub.add_parser("restore", help="fill an empty database from a checked snapshot (python -m "
                                   "node restore --database URL --genesis FILE --snapshot FILE)",
                   add_help=False)
    return parser


def _offline(command: str, argv: list[str]) -> int:
    """Run one of the commands on a database that need no running node."""
    if command == "export":
        from node.storage.chain_lines import export_main

        return export_main(argv)
    if command == "snapshot":
        from node.snapshot.take import snapshot_main

        return snapshot_main(argv)
    from node.snapshot.restore import restore_main

    return restore_main(argv)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve until interrupted (or export a database)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["export"], ["snapshot"], ["restore"]):
        return _offline(argv[0], argv[1:])
    args = _parser().parse_args(argv)
    overrides = {k: getattr(args, k) for k in
                 ("genesis_path", "database_url", "orderer_path", "etcd_endpoints", "node_id",
                  "node_key_path", "peers", "tls_cert_path", "tls_key_path", "tls_ca_path", "host",
                  "port", "log_level", "log_format", "log_file", "metrics_port", "metrics_host")}
    if args.clock_controllers:
        overrides["clock_controllers"] = ",".join(args.clock_controllers)
    try:
        config = NodeConfig.load(args.config, **overrides)
        check_settings(config.log_level, config.log_format)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    clock: Clock = SystemClock()
    if args.manual_clock:
        if not config.clock_controllers:
            print("error: a simulated clock needs --clock-controller USCC (an organisation "
                  "that may move it)", file=sys.stderr)
            return 2
        try:
            clock = ManualClock(parse_timestamp(args.manual_clock, what="--manual-clock"))
        except LedgerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        configure_logging(config.log_level, config.log_format, config.log_file)
    except OSError as exc:
        print(f"error: the node cannot write its log: {exc}", file=sys.stderr)
        return 2
    # The node keeps many long-lived records (state cache, Merkle log); with the
    # default thresholds the cyclic collector re-scans them ever more often as
    # the chain grows.  Collect young objects less eagerly.
    gc.set_threshold(GC_THRESHOLD, 50, 100)
    try:
        tls.enabled(config)  # a half-configured TLS setup fails before anything starts
        service = NodeService(config, clock=clock)
        app = create_app(config, service=service)
        # uvicorn's own lines (its start-up chatter) only when debugging: the node says
        # what matters itself; log_config=None keeps the handlers set up above
        served = tls.uvicorn_config(
            app, config, log_config=None, access_log=False,
            log_level="debug" if config.log_level.lower() == "debug" else "warning")
    except (OSError, ValueError, ssl.SSLError, LedgerError, SQLAlchemyError) as exc:
        print(f"error: the node cannot start: {exc}", file=sys.stderr)
        return 2
    log_banner(service)
    try:
        AnnouncingServer(served, service).run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C once it has stopped the node
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
