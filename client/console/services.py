"""The console's parts, made once at start and handed to every page: the `Console`.

It holds the settings, the database, the `Signer` (the organisation's key
and its participant, client/console/approvals.py), the member directory
that puts names beside USCCs, the cookie secret, the templates, the
committed transactions' facts read so far (client/console/tx_facts.py: this
organisation's alone, as its node showed them) and the audits it runs in
the background (client/console/audit_jobs.py).  Made by
`open_console` and stored on the FastAPI app; nothing here is module-global.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine

from client.console import audit_jobs, store
from client.console.approvals import Signer, settle_interrupted
from client.console.arg_text import arg_lines
from client.console.clock import moment
from client.console.config import ConsoleConfig
from client.console.tx_facts import CommittedTxFacts
from client.sdk.keystore import Identity
from client.sdk.names import Directory, short, yuan
from client.sdk.participant import Participant
from client.sdk.tls import client_context
from ledger.timefmt import format_timestamp


@dataclass
class Console:
    """Everything a page may use; the signing key is inside `signer`, never shown."""

    config: ConsoleConfig
    engine: Engine
    signer: Signer
    directory: Directory
    secret: bytes
    org_name: str
    org_uscc: str
    templates: Environment
    tx_facts: CommittedTxFacts  # committed transactions as this organisation's node showed them
    audits: audit_jobs.AuditJobs  # an auditor's audits of its node, in the background
    _inbox: tuple[tuple[object, ...], dict[str, Any]] | None = field(default=None, repr=False)

    def inbox(self, me: Participant, status: Mapping[str, Any]) -> dict[str, Any]:
        """Return `me.inbox()`, reused while the node's height and date are those of `status`.

        A node's inbox changes only when a block commits or its date turns, and a
        core enterprise's, on a long chain, is up to a thousand records a kind
        (~1 MB, ~165 ms on the 100,000-transaction sample): fetched once per block,
        not once per page (docs/PERFORMANCE.md).
        """
        key = (me.node.base_url, status.get("height"), str(status.get("time", ""))[:10])
        cached = self._inbox
        if cached is not None and cached[0] == key:
            return cached[1]
        answer = me.inbox()
        self._inbox = (key, answer)
        return answer

    def org(self, uscc: str | None) -> str:
        """Return "name · USCC" of a member (the bare USCC if the node cannot say)."""
        try:
            return self.directory.org(uscc)
        except Exception:  # the node is down: the USCC alone still identifies it
            return uscc or "-"

    def roles(self) -> frozenset[str]:
        """Return this organisation's roles on the ledger (none while the node cannot say)."""
        try:
            member = self.directory.members().get(self.org_uscc) or {}
        except Exception:  # the node is down: pages that need a role say so
            return frozenset()
        return frozenset(str(r) for r in member.get("roles", ()))


def when(value: int | str | date | None) -> str:
    """Return a time (epoch seconds) or date as ISO 8601, UTC ("-" for none)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, int):
        return format_timestamp(moment(value)).replace("T", " ").removesuffix("Z") + " UTC"
    return str(value)


def templates() -> Environment:
    """Return the template environment: autoescaped, with the formatting filters."""
    env = Environment(loader=PackageLoader("client.console", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(yuan=yuan, short=short, when=when)
    return env


def open_console(config: ConsoleConfig, identity: Identity, password: str,
                 connect: Callable[[], Participant] | None = None) -> Console:
    """Open the database and bind the key to the nodes; `password` opens the TLS key."""
    engine = store.open_database(config.database_url)
    settle_interrupted(engine)  # approvals a stopped console was signing
    audit_jobs.settle_interrupted(engine)  # and audits it was running
    tls = None if config.tls is None else client_context(config.tls, password)

    def participant() -> Participant:
        nodes = list(config.nodes)
        return Participant(nodes if len(nodes) > 1 else nodes[0], identity, tls=tls)

    signer = Signer(connect or participant)
    directory = Directory(lambda: signer.participant().members())
    console = Console(config, engine, signer, directory, store.cookie_secret(engine),
                      identity.name, identity.uscc, templates(),
                      CommittedTxFacts(config.tx_cache_size),
                      audit_jobs.AuditJobs(engine, audit_jobs.node_audit(
                          lambda: signer.participant().node)))
    console.templates.globals["org_roles"] = console.roles  # the menu shows what the org does
    console.templates.globals["arg_lines"] = partial(arg_lines, directory)
    return console
