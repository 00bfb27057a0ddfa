"""`ledger console`: set up and run an organisation's web console, and manage its accounts.

- `init --out console.toml` writes the settings from the global options
  (`--consortium DIR --as ALIAS`, or `--keystore`, `--node` and the TLS files)
  and creates the console's database;
- `start --config console.toml` unlocks the keystore (LEDGER_PASSWORD or a
  prompt) and serves the console until Ctrl+C or SIGTERM;
- `user add|list|reset-password|unlock --config console.toml` manages the
  accounts on the console's database (passwords from a prompt or
  LEDGER_CONSOLE_USER_PASSWORD), for the first admin and for recovery.

The console itself is client/console/ (imported on use: `ledger` starts no
slower for it); the CLI only reads options and words failures (one line on
stderr, exit status 2).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from client.cli.common import Settings, err, error, node_urls, show
from client.cli.render import table
from client.sdk.keystore import KeystoreError
from client.sdk.tls import CertificateError, TlsFiles

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from client.console.config import ConsoleConfig

console_app = typer.Typer(help="The web console of one organisation.", no_args_is_help=True)
user_app = typer.Typer(help="The console's user accounts.", no_args_is_help=True)
console_app.add_typer(user_app, name="user")
USER_PASSWORD = "LEDGER_CONSOLE_USER_PASSWORD"
CLI_USER = "console-cli"  # who the audit trail says acted from this command line
ConfigOption = Annotated[Path, typer.Option("--config", help="the console's settings (TOML)")]


def _refuse(problem: object) -> NoReturn:
    error(problem)
    raise typer.Exit(2)


def _config(path: Path) -> ConsoleConfig:
    from client.console.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        _refuse(exc)


@console_app.command("init")
def init(
    out: Annotated[Path, typer.Option(help="the settings file to write")] = Path("console.toml"),
    port: Annotated[int, typer.Option(min=0, max=65535, help="port (0: any free one)")] = 8700,
    language: Annotated[str, typer.Option(help="zh or en: the default language")] = "zh",
    totp: Annotated[bool, typer.Option(help="require TOTP of checkers and admins")] = False,
    database_url: Annotated[str | None, typer.Option(
        help="postgresql://... (default: console.db beside the settings)")] = None,
) -> None:
    """Write console settings for the organisation given by --as (or --keystore, --node)."""
    from sqlalchemy.exc import SQLAlchemyError

    from client.console.config import config_text
    from client.console.store import open_database

    if Settings.keystore is None:
        _refuse("give --consortium DIR --as ALIAS (or --keystore FILE and --node URL): the "
                "organisation whose console this is")
    if out.exists():
        _refuse(f"{out} exists already: choose another --out, or remove it first")
    if language not in ("zh", "en"):
        _refuse("--language is zh or en")
    tls = None
    if Settings.tls_cert and Settings.tls_key and Settings.tls_ca:
        tls = TlsFiles(*(p.resolve() for p in (Settings.tls_cert, Settings.tls_key,
                                                Settings.tls_ca)))
    database = database_url or f"sqlite:///{out.resolve().parent / 'console.db'}"
    text = config_text(keystore=Settings.keystore.resolve(), nodes=node_urls(), tls=tls,
                       database_url=database, port=port, language=language, totp=totp)
    try:
        out.write_text(text, encoding="utf-8")
        open_database(_config(out).database_url).dispose()
    except (OSError, SQLAlchemyError) as exc:
        _refuse(exc)
    show({"config": str(out), "database": database},
         f"console settings written to {out}\n"
         f"add its first admin:  ledger console user add --config {out} --name NAME "
         f"--role admin\n"
         f"then start it:        ledger console start --config {out}")


@console_app.command("start")
def start(config: ConfigOption) -> None:
    """Serve the console until Ctrl+C or SIGTERM (the banner and ready line say where)."""
    from sqlalchemy.exc import SQLAlchemyError

    from client.console import users
    from client.console.server import prepare, serve

    settings = _config(config)
    password = Settings.password or typer.prompt("keystore password", hide_input=True)
    try:
        console = prepare(settings, password)
    except (KeystoreError, CertificateError, OSError, SQLAlchemyError) as exc:
        _refuse(f"the console cannot start: {exc}")
    if not users.all_users(console.engine):
        err.print(f"no users yet: add an admin with `ledger console user add --config {config} "
                  f"--name NAME --role admin`", highlight=False, markup=False)
    try:
        serve(settings, console, say=lambda line: err.print(
            line, highlight=False, markup=False, soft_wrap=True))
    except OSError as exc:
        _refuse(f"the console cannot listen on {settings.host}:{settings.port}: {exc}")


def _engine(config: Path) -> Engine:
    from sqlalchemy.exc import SQLAlchemyError

    from client.console.store import open_database

    try:
        return open_database(_config(config).database_url)
    except SQLAlchemyError as exc:
        _refuse(f"cannot open the console's database: {exc}")


def _new_password(name: str) -> str:
    return os.environ.get(USER_PASSWORD) or typer.prompt(
        f"password for {name}", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(
    config: ConfigOption,
    name: Annotated[str, typer.Option(help="the user's login name")],
    role: Annotated[str, typer.Option(help="maker, checker, viewer or admin")],
) -> None:
    """Add an account (password from a prompt or LEDGER_CONSOLE_USER_PASSWORD)."""
    from client.console import users

    engine = _engine(config)
    try:
        made = users.add_user(engine, name=name, role=role, password=_new_password(name),
                              by=CLI_USER)
    except users.UserError as exc:
        _refuse(exc)
    show({"name": made.name, "role": made.role}, f"added {made.name} as {made.role}")


@user_app.command("list")
def user_list(config: ConfigOption) -> None:
    """List the accounts: name, role, lockout, TOTP."""
    from client.console import users
    from client.console.clock import now_s

    people = users.all_users(_engine(config))
    now = now_s()
    rows = [(u.name, u.role, "locked" if u.locked(now) else "active",
             "yes" if u.totp_enrolled else "no") for u in people]
    show([{"name": u.name, "role": u.role, "locked": u.locked(now),
           "totp_enrolled": u.totp_enrolled} for u in people],
         table(None, ("name", "role", "state", "totp"), rows) if rows else "no users yet",
         [u.name for u in people])


@user_app.command("reset-password")
def user_reset_password(config: ConfigOption,
                        name: Annotated[str, typer.Option(help="the user's login name")]) -> None:
    """Give an account a new password (it is unlocked, its sessions end)."""
    from client.console import users
    from client.console.sessions import close_all

    engine = _engine(config)
    try:
        target = users.by_name(engine, name)
        users.set_password(engine, target.id, _new_password(name), by=CLI_USER)
    except users.UserError as exc:
        _refuse(exc)
    close_all(engine, target.id)
    show({"name": name, "reset": True}, f"new password set for {name}")


@user_app.command("unlock")
def user_unlock(config: ConfigOption,
                name: Annotated[str, typer.Option(help="the user's login name")]) -> None:
    """Lift an account's lockout."""
    from client.console import users

    engine = _engine(config)
    try:
        users.unlock(engine, users.by_name(engine, name).id, by=CLI_USER)
    except users.UserError as exc:
        _refuse(exc)
    show({"name": name, "unlocked": True}, f"{name} unlocked")
