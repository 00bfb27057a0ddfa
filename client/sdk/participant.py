"""The participant SDK: one method per business action, plus queries and proofs.

Each action builds the transaction body, signs it with the participant's key,
submits it and (by default) waits until it commits, returning the committed
status with its events.

A submission ends one of two ways, and the SDK says which.  Accepted: the
node recorded the transactions durably before it answered and will order
them even if it crashes meanwhile; one that has not committed when the wait
ends comes back with status `pending` (wait with `wait_committed`, or
resubmit: a node that knows it says so).  Not accepted: the node refused
(`NotAccepted`, a 503: it cannot order now, or its backlog is full) and
recorded nothing; submitting the same transactions again later is safe.

Actions that need a second party's signature (a credit line) are prepared,
co-signed by the other party, then submitted.
"""

from __future__ import annotations

import secrets
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from client.sdk.http import NodeClient, NodeError, NotAccepted
from client.sdk.keystore import Identity
from client.sdk.lightclient import ForkDetected, LightClient, TrustedCheckpoint, read_genesis
from client.sdk.node_clock import Now
from client.sdk.policies import Policies
from client.sdk.proofs import verify_tx_inclusion
from ledger.attestation import NodeInfo
from ledger.canonical import canonical_bytes
from ledger.crypto import Domain
from ledger.timefmt import format_timestamp
from ledger.tx import Envelope, Signature, TxBody

VALIDITY = timedelta(days=1)
CLOCK_SLACK = timedelta(minutes=5)
POLL_S = 0.1  # how often wait_committed asks again
DateParam = str | date | None  # an ISO date, YYYY-MM-DD


class TransactionFailed(Exception):
    """Raised when a submitted transaction committed as invalid, with the rule that failed."""

    def __init__(self, status: Mapping[str, Any]) -> None:
        super().__init__(f"{status.get('code')}: {status.get('reason')}")
        self.status = status


@dataclass(frozen=True)
class PreparedTx:
    """A transaction body with the signatures gathered so far."""

    body: TxBody
    body_bytes: bytes
    signatures: tuple[Signature, ...]

    def envelope(self) -> Envelope:
        """Return the envelope (all listed signers must have signed)."""
        return Envelope(self.body_bytes, self.body, self.signatures)


class Participant:
    """A consortium member acting through one node, or any of several (fail-over).

    Checkpoints it trusts (the light client, client/sdk/lightclient.py) are kept
    in `trust_file` if given; `cosigners` are the registered nodes (e.g.
    `nodes_from_genesis`), else fetched from the node at first use and pinned.
    With `genesis_file` (best) the nodes come from the genesis and block 0's
    checkpoint is derived from it, so a chain still at height 0 is trusted too.
    """

    def __init__(
        self, node_url: str | Sequence[str], identity: Identity, *, chain_id: str | None = None,
        now: Now | None = None, timeout: float = 60.0, transport: Any = None,
        tls: ssl.SSLContext | None = None, trust_file: Path | None = None,
        cosigners: Mapping[str, NodeInfo] | None = None, accept_unsigned: bool = False,
        genesis_file: Path | None = None, follow_ahead: bool | None = None,
    ) -> None:
        """Act as `identity` through the node(s) at `node_url`.

        With `now` it signs and dates transactions by that clock; without,
        by the system clock or a simulation node's (`follow_ahead`: even one
        ahead of the system clock; client/sdk/node_clock.py).
        """
        self.identity = identity
        self.node = NodeClient(node_url, identity, chain_id=chain_id, now=now, timeout=timeout,
                               transport=transport, tls=tls, follow_ahead=follow_ahead)
        self._trust = (trust_file, cosigners, accept_unsigned, genesis_file)
        self._light: LightClient | None = None

    @property
    def light(self) -> LightClient:
        """Return this participant's light client (created, and its state read, at first use)."""
        if self._light is None:
            path, cosigners, accept_unsigned, genesis_file = self._trust
            genesis = None if genesis_file is None else read_genesis(genesis_file)
            self._light = LightClient(self.node, nodes=cosigners, genesis=genesis,
                                      state_path=path, accept_unsigned=accept_unsigned)
        return self._light

    @property
    def uscc(self) -> str:
        """Return this participant's organisation id."""
        return self.identity.uscc

    def close(self) -> None:
        """Close the connection to the node."""
        self.node.close()

    # -- building and submitting -------------------------------------------------

    def prepare(
        self, contract: str, action: str, args: Mapping[str, Any],
        signers: Sequence[str] | None = None,
    ) -> PreparedTx:
        """Build a body (signers default to this participant) and sign it ourselves."""
        moment = self.node.time()  # a simulation node's, unless given `now` (client/sdk/http.py)
        body = TxBody(
            chain_id=self.node.chain_id, contract=contract, action=action, args=dict(args),
            signers=tuple(signers or (self.uscc,)), nonce=secrets.token_hex(16),
            not_before=format_timestamp(moment - CLOCK_SLACK),
            not_after=format_timestamp(moment + VALIDITY),
        )
        return self.cosign(PreparedTx(body, canonical_bytes(body.to_json()), ()))

    def cosign(self, prepared: PreparedTx) -> PreparedTx:
        """Add this participant's signature to a prepared transaction."""
        if self.uscc not in prepared.body.signers:
            raise ValueError(f"{self.uscc} is not a listed signer of this transaction")
        signature = self.identity.key.sign(Domain.TRANSACTION, prepared.body_bytes)
        kept = tuple(s for s in prepared.signatures if s.signer != self.uscc)
        return PreparedTx(prepared.body, prepared.body_bytes,
                          (*kept, Signature(self.uscc, signature)))

    def submit(
        self, envelopes: Sequence[Envelope], *, wait: bool = True, check: bool = True,
        timeout: float = 30.0, resubmit: bool = False,
    ) -> list[dict[str, Any]]:
        """Submit envelopes as one all-or-nothing batch; return their statuses.

        With `wait`, block until each commits (at most `timeout` seconds);
        with `check`, raise TransactionFailed if any committed as invalid.
        A status `pending` (every one without `wait`, and those not
        committed within `timeout`) means accepted: the node recorded the
        transaction durably before answering and orders it even across its
        own crash; `wait_committed` waits for it, and resubmitting it is
        recognised.  A replay refusal for transactions the node already
        knows counts as success when this is a resubmission: `resubmit`, or
        the request failed over to another node after the first may have
        received it.

        Raises NotAccepted (a NodeError, status 503) when the node refused
        the submission because it cannot order now or its backlog is full:
        nothing was recorded, and submitting the same envelopes again later
        is safe.  Other NodeErrors are refusals of the transactions
        themselves (4xx), or an unreachable node (status 0: whether it
        received them is unknown; resubmit with `resubmit=True`).
        """
        payload = {"transactions": [e.to_json() for e in envelopes]}
        failovers = self.node.failovers
        try:
            answer = self.node.post("/v1/transactions", payload,
                                    params={"wait": wait, "timeout": timeout} if wait else None)
        except NodeError as exc:
            retried = resubmit or self.node.failovers != failovers
            if exc.code != "replay" or not retried or not self._all_known(
                    [e.tx_id for e in envelopes]):
                raise
            # A resubmission (after a lost answer, maybe through another node): they arrived.
            answer = {"accepted": [e.tx_id for e in envelopes]}
            if wait:
                answer["results"] = self.wait_committed(answer["accepted"], timeout=timeout)
        if not wait:
            return [{"tx_id": i, "status": "pending"} for i in answer["accepted"]]
        results: list[dict[str, Any]] = answer["results"]
        for status in results:
            if check and status.get("status") == "invalid":
                raise TransactionFailed(status)
        return results

    def act(self, action: str, contract: str = "receivable", **args: Any) -> dict[str, Any]:
        """Sign and submit one action by this participant alone; return the committed status.

        A transaction accepted but not committed within the wait comes back
        as {"tx_id", "status": "pending"} (durably accepted, see `submit`);
        a refusal raises NodeError (NotAccepted when nothing was accepted).
        """
        envelope = self.prepare(contract, action, args).envelope()
        status = self.submit([envelope])[0]
        return self.transaction(status["tx_id"]) if status.get("status") != "pending" else status

    # -- business actions ----------------------------------------------------------

    def propose_credit_line(
        self, *, core: str, limit: int, currency: str, expiry_date: str
    ) -> PreparedTx:
        """As a bank, prepare a credit line for `core` to co-sign."""
        args = {"bank": self.uscc, "core": core, "limit": limit, "currency": currency,
                "expiry_date": expiry_date}
        return self.prepare("receivable", "grant_credit_line", args, signers=(self.uscc, core))

    def issue(
        self, *, credit_line: str, to: str, amount: int, currency: str, maturity_date: str,
        contract_no: str, invoices: Sequence[Mapping[str, Any]],
        documents: Sequence[Mapping[str, str]] = (),
    ) -> dict[str, Any]:
        """Issue a credential to a supplier against invoices (pending its acceptance)."""
        trade = {"contract_no": contract_no, "invoices": [dict(i) for i in invoices],
                 "documents": [dict(d) for d in documents]}
        return self.act("issue", credit_line=credit_line, to=to, amount=amount,
                        currency=currency, maturity_date=maturity_date, trade=trade)

    def accept(self, receivable: str) -> dict[str, Any]:
        """Sign for a credential issued to us."""
        return self.act("accept", receivable=receivable)

    def reject(self, receivable: str) -> dict[str, Any]:
        """Refuse a credential issued to us."""
        return self.act("reject", receivable=receivable)

    def withdraw(self, receivable: str) -> dict[str, Any]:
        """Take back a credential we issued that is not yet accepted."""
        return self.act("withdraw", receivable=receivable)

    def expire(self, receivable: str) -> dict[str, Any]:
        """Record that a credential's acceptance window passed."""
        return self.act("expire", receivable=receivable)

    def transfer(self, note: str, payments: Sequence[tuple[str, int]]) -> dict[str, Any]:
        """Pay recipients from a note we hold: [(uscc, fen), ...]; we keep the rest."""
        return self.act("transfer", note=note,
                        payments=[{"to": to, "amount": amount} for to, amount in payments])

    def request_financing(self, note: str, bank: str) -> dict[str, Any]:
        """Ask `bank` to finance a note we hold."""
        return self.act("request_financing", note=note, bank=bank)

    def offer_terms(
        self, financing: str, *, annual_rate_percent: str, funding_date: str, fees: int = 0,
        fee_payer: str = "seller", recourse: bool = False, registry_no: str | None = None,
        tenor_reviewed: bool = False,
    ) -> dict[str, Any]:
        """As the bank asked, offer priced terms on a financing request.

        `annual_rate_percent` is the yearly rate in percent, as a decimal
        string: "2.50" is 2.50 % a year (never a fraction).  The committed
        status's `financing_offered` event carries the priced terms (days,
        interest, net proceeds) and their `terms_hash`.
        """
        if not isinstance(annual_rate_percent, str):
            raise TypeError("annual_rate_percent is a decimal string in percent, e.g. '2.50'")
        args: dict[str, Any] = {
            "financing": financing, "annual_rate_percent": annual_rate_percent,
            "funding_date": funding_date, "fees": fees, "fee_payer": fee_payer,
            "recourse": recourse, "tenor_reviewed": tenor_reviewed,
        }
        if registry_no is not None:
            args["registry_no"] = registry_no
        return self.act("offer_terms", **args)

    def accept_terms(self, financing: str, terms_hash: str) -> dict[str, Any]:
        """Agree to exactly the terms whose hash is `terms_hash`; our note passes to the bank.

        Take the hash from the terms you looked at (`financing(id)["terms_hash"]`,
        or the `financing_offered` event): if the bank has changed its terms
        since, the acceptance fails instead of agreeing to the new ones.
        """
        return self.act("accept_terms", financing=financing, terms_hash=terms_hash)

    def financing(self, financing: str) -> dict[str, Any]:
        """Return a financing request with the terms on offer and their `terms_hash`."""
        return self.record("financing", financing)

    def cancel_financing(self, financing: str) -> dict[str, Any]:
        """Withdraw from an open financing request."""
        return self.act("cancel_financing", financing=financing)

    def confirm_disbursement(self, financing: str, payment_ref: str) -> dict[str, Any]:
        """As the bank, confirm the seller was paid."""
        return self.act("confirm_disbursement", financing=financing, payment_ref=payment_ref)

    def pay(self, receivable: str, amount: int, payment_ref: str) -> dict[str, Any]:
        """As the issuer, record a maturity payment (full or partial)."""
        return self.act("pay", receivable=receivable, amount=amount, payment_ref=payment_ref)

    def mark_overdue(self, receivable: str) -> dict[str, Any]:
        """Record that a credential is unpaid past maturity plus grace."""
        return self.act("mark_overdue", receivable=receivable)

    def freeze(self, note: str, reason: str) -> dict[str, Any]:
        """As a freeze authority, freeze a note."""
        return self.act("freeze", note=note, reason=reason)

    def unfreeze(self, note: str, reason: str) -> dict[str, Any]:
        """As a freeze authority, lift a freeze."""
        return self.act("unfreeze", note=note, reason=reason)

    # -- queries ---------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Return the node's chain status."""
        return dict(self.node.get("/v1/status"))

    def transaction(self, tx_id: str) -> dict[str, Any]:
        """Return a transaction's status, envelope and events."""
        return dict(self.node.get(f"/v1/transactions/{tx_id}"))

    def _all_known(self, tx_ids: Sequence[str]) -> bool:
        """Return whether the node knows every one of `tx_ids` (pending or committed)."""
        try:
            for tx_id in tx_ids:
                self.transaction(tx_id)
        except NodeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def wait_committed(self, tx_ids: Sequence[str], *, timeout: float = 30.0,
                       final: bool = False) -> list[dict[str, Any]]:
        """Poll until every transaction committed (and, with `final`, its block is final).

        Returns their statuses in order; raises TimeoutError naming the
        first transaction still waiting.
        """
        deadline = time.monotonic() + timeout
        statuses: list[dict[str, Any]] = []
        for tx_id in tx_ids:
            while True:
                status = self.transaction(tx_id)
                done = status.get("status") in ("committed", "invalid")
                if done and (status.get("final") or not final):
                    statuses.append(status)
                    break
                if time.monotonic() > deadline:
                    what = "final" if done else "committed"
                    raise TimeoutError(f"transaction {tx_id} is not {what} after {timeout:.0f} s")
                time.sleep(POLL_S)
        return statuses

    def wait_final(self, tx_ids: Sequence[str], *, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until every transaction's block is final (signed by a quorum); return statuses."""
        return self.wait_committed(tx_ids, timeout=timeout, final=True)

    def note(self, note_id: str) -> dict[str, Any]:
        """Return one note."""
        return dict(self.node.get(f"/v1/notes/{note_id}"))

    def holdings(self, status: str | None = "active") -> list[dict[str, Any]]:
        """Return the notes we hold (active ones by default)."""
        return list(self.node.get("/v1/notes", {"holder": self.uscc, "status": status})["notes"])

    def notes(
        self, *, holder: str | None = None, issuer: str | None = None, status: str | None = None,
        maturity_from: DateParam = None, maturity_to: DateParam = None, limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Return notes by holder, issuer, status and maturity (bounds inclusive).

        With neither holder nor issuer, our own holdings; a member may name
        only itself (auditors anyone).
        """
        params = {"holder": holder, "issuer": issuer, "status": status,
                  "maturity_from": maturity_from, "maturity_to": maturity_to, "limit": limit}
        return list(self.node.get("/v1/notes", params)["notes"])

    def members(self) -> list[dict[str, Any]]:
        """Return every member record of the consortium (USCC, name, roles, status, key)."""
        return list(self.node.get("/v1/members")["members"])

    def policies(self) -> Policies:
        """Return the policy parameters in force at the node's head, and those scheduled.

        As the node's state holds them (`GET /v1/policies`), with the height
        they are as of; `next_block()` gives what a transaction sent now
        meets first (client/sdk/policies.py).  Raises SchemaError if the
        answer is malformed.
        """
        return Policies.from_json(self.node.get("/v1/policies"))

    def inbox(self, within_days: int = 30) -> dict[str, Any]:
        """Return what awaits us, and what we wait for from others, as of the node's date.

        The answer: {as_of, within_days, items, truncated}; each item has
        kind, id, counterparty, amount (fen), currency, date and record.
        Payments count as due when they mature within `within_days` (1-366).
        """
        return dict(self.node.get("/v1/inbox", {"within_days": within_days}))

    def receivables(
        self, *, role: str | None = None, status: str | None = None,
        counterparty: str | None = None, maturity_from: DateParam = None,
        maturity_to: DateParam = None, limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Return credentials we issued (role `issued`) and/or hold or held (`held`).

        By maturity, then id.  `counterparty` is the first holder of what we
        issued, the issuer of what we hold.  Auditors list every credential.
        """
        params = {"role": role, "status": status, "counterparty": counterparty,
                  "maturity_from": maturity_from, "maturity_to": maturity_to, "limit": limit}
        return list(self.node.get("/v1/receivables", params)["receivables"])

    def financings(
        self, *, status: str | None = None, counterparty: str | None = None,
        maturity_from: DateParam = None, maturity_to: DateParam = None, limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Return the financings we are the seller or the bank of, each with its `note`.

        By the note's maturity, then id; `counterparty` is the other party.
        """
        return self._listed("financing", status, counterparty, maturity_from, maturity_to, limit)

    def credit_lines(
        self, *, status: str | None = None, counterparty: str | None = None,
        maturity_from: DateParam = None, maturity_to: DateParam = None, limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Return the credit lines we granted or drew on, by expiry then id.

        `status` is `open` or `expired` as of the node's date; the maturity
        bounds bound the expiry date.
        """
        return self._listed("credit_line", status, counterparty, maturity_from, maturity_to,
                            limit)

    def _listed(self, kind: str, status: str | None, counterparty: str | None,
                maturity_from: DateParam, maturity_to: DateParam,
                limit: int) -> list[dict[str, Any]]:
        params = {"status": status, "counterparty": counterparty,
                  "maturity_from": maturity_from, "maturity_to": maturity_to, "limit": limit}
        return list(self.node.get(f"/v1/records/{kind}", params)["records"])

    def resolve_ids(self, prefix: str, kinds: Sequence[str] = ()) -> list[dict[str, str]]:
        """Return [{kind, id}] of the ids we may read that start with `prefix` (8-64 hex digits).

        `kinds` narrows the search to note, receivable, financing,
        credit_line or tx; at most 20 ids per kind come back.
        """
        query = "&".join(f"kind={quote(k, safe='')}" for k in kinds)
        path = f"/v1/ids/{quote(prefix, safe='')}" + (f"?{query}" if query else "")
        return list(self.node.get(path)["matches"])

    def receivable(self, root_id: str) -> dict[str, Any]:
        """Return a credential and the visible part of its split tree."""
        return dict(self.node.get(f"/v1/receivables/{root_id}"))

    def lineage(self, note_id: str) -> list[dict[str, Any]]:
        """Return a note and its ancestors up to issuance."""
        return list(self.node.get(f"/v1/notes/{note_id}/lineage")["lineage"])

    def record(self, kind: str, record_id: str) -> dict[str, Any]:
        """Return a credit line, financing, clearing or issuer book record."""
        return dict(self.node.get(f"/v1/records/{kind}/{record_id}"))

    def events(self, after: int = -1, limit: int = 100) -> list[dict[str, Any]]:
        """Return committed transactions we are party to after log index `after`."""
        return list(self.node.get("/v1/events", {"after": after, "limit": limit})["events"])

    def checkpoint(self, height: int | None = None) -> dict[str, Any]:
        """Return the node's signed checkpoint of its final block, or of final block `height`.

        Raises NodeError: 404 if block `height` is not final on the node (yet),
        400 for a negative `height`.
        """
        params = None if height is None else {"height": height}
        return dict(self.node.get("/v1/log/checkpoint", params))

    def verify_inclusion(self, tx_id: str, checkpoint: Mapping[str, Any] | None = None) -> None:
        """Fetch the tx and its inclusion proof and verify both locally against a tree head.

        Raises ProofError if the node's answer does not prove inclusion.
        """
        head = dict(checkpoint or self.checkpoint())
        tx = self.transaction(tx_id)
        proof = self.node.get(f"/v1/log/inclusion/{tx_id}", {"size": head["size"]})
        verify_tx_inclusion(tx["envelope"], tx_id, proof, head)

    # -- the light client: reads proven against a cosigned checkpoint ------------------

    def refresh_checkpoint(self) -> TrustedCheckpoint:
        """Fetch, check (quorum, consistency) and trust the node's checkpoint; return it.

        Raises ForkDetected, with both checkpoints, if the node's log does not
        extend the one trusted before.
        """
        return self.light.refresh()

    def proven_transaction(self, tx_id: str) -> dict[str, Any]:
        """Return a transaction proven (inclusion) in the trusted log; raise ProofError if not."""
        return self.light.prove_transaction(tx_id)

    def proven_note(self, note_id: str) -> dict[str, Any]:
        """Return a note whose creating transaction is proven in the trusted log."""
        return self.light.prove_note(note_id)


__all__ = ["ForkDetected", "NodeError", "NotAccepted", "Participant", "Policies", "PreparedTx",
           "TransactionFailed"]
