"""`ledger keys`: an organisation's signing key, sealed in a password-encrypted keystore."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from client.cli.common import Settings, show
from client.sdk.keystore import Identity, generate_key, save_keystore

app = typer.Typer(help="Organisation keys.", no_args_is_help=True)


@app.command("generate")
def keys_generate(
    out: Annotated[Path, typer.Option(help="keystore file to write")],
    name: Annotated[str, typer.Option(help="organisation name")],
    uscc: Annotated[str, typer.Option(help="organisation USCC")],
) -> None:
    """Generate a signing key into a password-encrypted keystore."""
    password = Settings.password or typer.prompt("new password", hide_input=True,
                                                 confirmation_prompt=True)
    identity = Identity(uscc, name, generate_key())
    save_keystore(out, identity, password)
    show({"keystore": str(out), "public_key": identity.key.public_key.hex()},
         f"wrote {out}; public key {identity.key.public_key.hex()}")
