"""Global options anywhere: `ledger holdings --json` as well as `ledger --json holdings`.

Click reads an option only at the level that declares it, so the global
options (--json, --keystore, --node, ...) would be refused after the
subcommand.  `hoist_global_options` moves them, with their values, in
front of the command words before Click parses the line, unless the
subcommand declares an option of the same name itself (`audit --node`
names nodes to audit, so it stays with `audit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def option_names(command: Any) -> tuple[set[str], set[str]]:
    """Return a Click command's option names: (all of them, those that take a value).

    Duck-typed: Typer builds its commands on its own copy of Click.
    """
    every: set[str] = set()
    valued: set[str] = set()
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        names = {*param.opts, *param.secondary_opts}
        every |= names
        if not (param.is_flag or param.count):
            valued |= set(param.opts)
    return every, valued


def _leading_options(argv: Sequence[str], valued: set[str]) -> int:
    """Return the index of the first command word, past the options in front of it."""
    index = 0
    while index < len(argv) and argv[index].startswith("-") and argv[index] != "--":
        name = argv[index].split("=", 1)[0]
        index += 2 if name in valued and "=" not in argv[index] else 1
    return index


def hoist_global_options(argv: Sequence[str], root: Any) -> list[str]:
    """Return `argv` with the root's options that follow the subcommand moved in front of it."""
    global_every, global_valued = option_names(root)
    start = _leading_options(argv, global_valued)
    command = root
    index = start
    while getattr(command, "commands", None) is not None and index < len(argv):
        sub = command.commands.get(argv[index])
        if sub is None:
            return list(argv)  # not a command: let Click say so
        command, index = sub, index + 1
    own_every, own_valued = option_names(command)
    hoisted: list[str] = []
    rest: list[str] = []
    tokens = list(argv[index:])
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if token == "--":
            rest += tokens[position:]
            break
        name = token.split("=", 1)[0]
        takes_value = "=" not in token
        if name in global_every and name not in own_every:
            width = 2 if name in global_valued and takes_value else 1
            hoisted += tokens[position:position + width]
            position += width
            continue
        width = 2 if name in own_valued and takes_value else 1
        rest += tokens[position:position + width]
        position += width
    return [*argv[:start], *hoisted, *argv[start:index], *rest]
