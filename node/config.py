"""Node configuration, read once at start-up into a frozen object and passed down.

Sources, later ones winning: defaults, a TOML file, then LEDGER_* environment
variables.  Nothing else in the node reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "LEDGER_"
# 64 MiB a connection let a node's memory grow with the size of its database, to
# 496 MB at 1,000,000 transactions against 369 MB at 100,000 (bench_scale); at
# 16 MiB it was 364 against 334, committing as fast (docs/PERFORMANCE.md)
DEFAULT_SQLITE_CACHE_MIB = 16
MIN_STATE_CACHE_KEYS = 1_000
MAX_SQLITE_CACHE_MIB = 16 * 1024


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node needs to know to start."""

    genesis_path: Path
    database_url: str = "sqlite:///ledger-node.db"
    orderer_path: Path | None = None  # embedded orderer log; None: in memory
    etcd_endpoints: str = ""  # comma-separated etcd URLs: order through the network instead
    node_key_path: Path | None = None  # this node's attestation key (hex seed); network only
    peers: str = ""  # comma-separated URLs of other nodes, to catch up from after compaction
    compact_interval_s: float = 10.0  # how often a network node compacts the ordering log
    compact_retain_blocks: int = 1000  # final blocks kept in the log for nodes that are away
    node_id: str = "node-1"
    # Mutual TLS (node/transport/tls.py): all three, or none for plain HTTP (embedded, one machine)
    tls_cert_path: Path | None = None  # this node's certificate (PEM), issued by the CA
    tls_key_path: Path | None = None  # its private key (unencrypted PEM, mode 0600)
    tls_ca_path: Path | None = None  # the consortium root CA certificate (PEM)
    host: str = "127.0.0.1"
    port: int = 8600
    batch_max_txs: int = 1000
    batch_max_wait_ms: int = 10
    max_request_bytes: int = 16 * 1024 * 1024  # request body; more gets 413
    # Request head (request line and header fields, trailers included;
    # node/transport/head_limits.py): more gets 431, the connection closed before the rest is read
    max_header_bytes: int = 32 * 1024
    max_header_count: int = 100
    max_batch_txs: int = 2000
    max_pending_txs: int = 50_000  # accepted, not yet committed: more is refused with 503
    # World-state keys kept in memory (the working set; the rest is read from the database):
    # about 1.3 KB each, so the default bounds the cache near 65 MB
    state_cache_keys: int = 50_000
    # SQLite's page cache per pooled database connection, in MiB (the node's other bounded
    # memory; PostgreSQL keeps its own).  The pool keeps five connections, so the default
    # bounds SQLite's caches near 80 MiB; pages beyond them come from the OS's file cache
    sqlite_cache_mib: int = DEFAULT_SQLITE_CACHE_MIB
    request_clock_skew_s: int = 300
    clock_controllers: str = ""  # comma-separated USCCs that may move a manual (simulation) clock
    verifier_processes: int = -1  # -1: one per core beyond the first; 0: verify in-process
    # Prometheus metrics on a listener of their own (node/observability/metrics.py), plain
    # HTTP; loopback by default, as what it shows is for this node's operator only
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None  # None: no metrics listener; 0: any free port
    # Logs (node/observability/logs.py): to stderr, and to log_file if set
    log_level: str = "info"  # debug, info, warning, error or critical
    log_format: str = "text"  # text, or json (one JSON object a line)
    log_file: Path | None = None

    def __post_init__(self) -> None:
        """Refuse settings no node could run with (raises ValueError naming the setting)."""
        if self.state_cache_keys < MIN_STATE_CACHE_KEYS:
            raise ValueError(f"state_cache_keys must be at least {MIN_STATE_CACHE_KEYS:,} "
                             f"(got {self.state_cache_keys:,})")
        if not 1 <= self.sqlite_cache_mib <= MAX_SQLITE_CACHE_MIB:
            raise ValueError(f"sqlite_cache_mib must be 1 to {MAX_SQLITE_CACHE_MIB:,} "
                             f"(got {self.sqlite_cache_mib:,})")

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> NodeConfig:
        """Build a config from an optional TOML file, the environment and overrides."""
        values: dict[str, Any] = {}
        if path is not None:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        for f in fields(cls):
            env = os.environ.get(ENV_PREFIX + f.name.upper())
            if env is not None:
                values[f.name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "genesis_path" not in values:
            raise ValueError("a node needs genesis_path (the consortium's genesis file)")
        return cls(**_coerce(values))


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    types = {f.name: f.type for f in fields(NodeConfig)}
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ValueError(f"unknown node setting(s): {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind = str(types[name])
        if value is None:
            out[name] = None
        elif "Path" in kind:
            out[name] = Path(value)
        elif kind in ("int", "int | None"):
            out[name] = int(value)
        elif kind == "float":
            out[name] = float(value)
        else:
            out[name] = str(value)
    return out
