"""The console's settings: one TOML file, read once at start into a frozen `ConsoleConfig`.

The file names the organisation's keystore (its signing key stays in the
console's process), the node URLs it talks to (the first that answers;
fail-over in order) with the member's TLS files for https nodes, the
console's own database, where it listens and the controls over its users.
Relative paths are read from the file's folder, so a folder can be moved
whole.  `config_text` writes such a file (`ledger console init`).

    keystore = "keys/s1.json"
    nodes = ["https://127.0.0.1:8601", "https://127.0.0.1:8602"]
    tls_cert = "certs/s1.crt"      # with tls_key and tls_ca: for https nodes
    tls_key = "keys/s1.tls.pem"
    tls_ca = "ca/ca.crt"
    database_url = "sqlite:///console.db"   # or postgresql://user@host:port/db
    host = "127.0.0.1"             # loopback by default
    port = 8700                    # 0: any free port (the ready line says which)
    language = "zh"                # or "en": the default until a person chooses
    totp = false                   # true: checkers and admins need a second factor
    lockout_attempts = 5
    lockout_minutes = 15
    session_minutes = 60           # idle time before a session ends
    serve_cert = "console.crt"     # optional, with serve_key: serve https (Secure cookies)
    serve_key = "console.key"
    genesis = "genesis.json"       # optional: the consortium genesis file (the verify page)
    tx_cache_size = 4096           # committed transactions' facts kept for credential pages
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from client.sdk.tls import TlsFiles

LANGUAGES = ("zh", "en")
DEFAULT_PORT = 8700
DEFAULT_TX_CACHE = 4096
KNOWN = frozenset({
    "keystore", "nodes", "tls_cert", "tls_key", "tls_ca", "database_url", "host", "port",
    "language", "totp", "lockout_attempts", "lockout_minutes", "session_minutes",
    "serve_cert", "serve_key", "genesis", "tx_cache_size",
})


class ConfigError(ValueError):
    """Raised when the console's settings file is missing, unreadable or says something wrong."""


@dataclass(frozen=True)
class ConsoleConfig:
    """Everything the console reads from its settings, checked."""

    keystore: Path
    nodes: tuple[str, ...]
    database_url: str
    tls: TlsFiles | None = None
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    language: str = "zh"
    totp: bool = False
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    session_minutes: int = 60
    serve_cert: Path | None = None
    serve_key: Path | None = None
    genesis: Path | None = None  # the consortium's genesis file (the verify page trusts its keys)
    tx_cache_size: int = DEFAULT_TX_CACHE  # committed txs kept (client/console/tx_facts.py)

    @property
    def https(self) -> bool:
        """Return whether the console itself serves https (then its cookies are Secure)."""
        return self.serve_cert is not None


def load_config(path: Path) -> ConsoleConfig:
    """Read and check the settings file at `path`; raise ConfigError naming what is wrong."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the console settings {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - KNOWN)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(KNOWN))}")
    return _checked(raw, path.resolve().parent, path)


def _checked(raw: dict[str, Any], folder: Path, path: Path) -> ConsoleConfig:
    def need(key: str, kind: type, default: Any = None) -> Any:
        value = raw.get(key, default)
        if value is None or (kind is int and isinstance(value, bool)) or not isinstance(
                value, kind):
            raise ConfigError(f"{path}: {key} must be a {kind.__name__}"
                              + ("" if key in raw else " (it is missing)"))
        return value

    nodes = need("nodes", list)
    if not nodes or not all(isinstance(u, str) and u.startswith(("http://", "https://"))
                            for u in nodes):
        raise ConfigError(f"{path}: nodes must list one or more http:// or https:// URLs")
    config = ConsoleConfig(
        keystore=folder / need("keystore", str), nodes=tuple(nodes),
        database_url=_database(need("database_url", str, "sqlite:///console.db"), folder),
        tls=_tls(raw, folder, path), host=need("host", str, "127.0.0.1"),
        port=need("port", int, DEFAULT_PORT), language=need("language", str, "zh"),
        totp=need("totp", bool, False), lockout_attempts=need("lockout_attempts", int, 5),
        lockout_minutes=need("lockout_minutes", int, 15),
        session_minutes=need("session_minutes", int, 60),
        serve_cert=_path(raw.get("serve_cert"), folder),
        serve_key=_path(raw.get("serve_key"), folder),
        genesis=_path(raw.get("genesis"), folder),
        tx_cache_size=need("tx_cache_size", int, DEFAULT_TX_CACHE))
    _check_ranges(config, path)
    return config


def _check_ranges(config: ConsoleConfig, path: Path) -> None:
    if config.language not in LANGUAGES:
        raise ConfigError(f"{path}: language must be one of {', '.join(LANGUAGES)}")
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"{path}: port must be 0 to 65535 (0: any free port)")
    for key in ("lockout_attempts", "lockout_minutes", "session_minutes"):
        if not 1 <= getattr(config, key) <= 100_000:
            raise ConfigError(f"{path}: {key} must be 1 to 100000")
    if not 1 <= config.tx_cache_size <= 1_000_000:
        raise ConfigError(f"{path}: tx_cache_size must be 1 to 1000000")
    if (config.serve_cert is None) != (config.serve_key is None):
        raise ConfigError(f"{path}: give serve_cert and serve_key together (or neither)")
    if any(u.startswith("https://") for u in config.nodes) and config.tls is None:
        raise ConfigError(f"{path}: an https node needs tls_cert, tls_key and tls_ca (the "
                          f"member certificate, its key and the consortium CA)")


def _path(value: Any, folder: Path) -> Path | None:
    return None if value is None else folder / str(value)


def _tls(raw: dict[str, Any], folder: Path, path: Path) -> TlsFiles | None:
    given = [raw.get(k) for k in ("tls_cert", "tls_key", "tls_ca")]
    if not any(given):
        return None
    if not all(isinstance(v, str) and v for v in given):
        raise ConfigError(f"{path}: give tls_cert, tls_key and tls_ca together")
    cert, key, ca = (folder / str(v) for v in given)
    return TlsFiles(cert, key, ca)


def _database(url: str, folder: Path) -> str:
    """Return the database URL, a relative SQLite file read from the settings' folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(folder / url.removeprefix(prefix))
    if not url.startswith((prefix, "postgresql://", "postgresql+psycopg://")):
        raise ConfigError(f"database_url {url!r} must start sqlite:/// or postgresql://")
    return url


def config_text(*, keystore: Path, nodes: list[str], tls: TlsFiles | None,
                database_url: str = "sqlite:///console.db", port: int = DEFAULT_PORT,
                language: str = "zh", totp: bool = False, genesis: Path | None = None) -> str:
    """Return a settings file for `ledger console init` (paths written as given)."""
    def q(value: object) -> str:
        return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string

    lines = ["# The web console of one organisation: `ledger console start --config THIS_FILE`",
             f"keystore = {q(keystore)}",
             f"nodes = [{', '.join(q(u) for u in nodes)}]"]
    if tls is not None:
        lines += [f"tls_cert = {q(tls.cert)}", f"tls_key = {q(tls.key)}", f"tls_ca = {q(tls.ca)}"]
    lines += [f"database_url = {q(database_url)}", 'host = "127.0.0.1"', f"port = {port}",
              f"language = {q(language)}", f"totp = {'true' if totp else 'false'}",
              "lockout_attempts = 5", "lockout_minutes = 15", "session_minutes = 60"]
    if genesis is not None:
        lines.append(f"genesis = {q(genesis)}")
    return "\n".join(lines) + "\n"
