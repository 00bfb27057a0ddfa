"""Governance: the consortium changes itself by proposal and approval.

Any active member may propose a change: admit a new member, suspend or
reinstate one, give one a new key, schedule a new version of a policy, or pin
a new version of the contract code from a future height.  The proposer's own
approval counts.  Other active members approve, each once; the transaction
whose approval makes the quorum applies the change at once and marks the
proposal executed.  The quorum is the `governance_approval_percent` policy: a
change passes when approvals x 100 > percent x the number of active members
(only approvals of members still active count).  The proposer may withdraw
an open proposal; an executed or withdrawn proposal is closed for good.

A proposal is kept under `proposal/<id>`, its id being the id of the
transaction that proposed it.  The preconditions of a change are checked
when it is proposed and again when it executes, since other changes may have
been made in between.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from contracts import base
from contracts.base import fail, require
from contracts.code import PIN_KEY, pin_versions
from contracts.registry import (
    MEMBER_INDEX_KEY,
    POLICY_CHECKS,
    POLICY_PREFIX,
    lacks,
    member_index,
    policy,
    with_version,
)
from ledger.canonical import MAX_SAFE_INTEGER
from ledger.crypto import PublicKey
from ledger.errors import SchemaError, SignatureError
from ledger.execution import Action, Call, member_of
from ledger.membership import Member, MemberStatus, member_state_key

PROPOSAL_PREFIX = "proposal/"
QUORUM_POLICY = "governance_approval_percent"

CHANGE_FIELDS: Mapping[str, frozenset[str]] = {
    "add_member": frozenset({"member"}),
    "suspend_member": frozenset({"uscc"}),
    "reinstate_member": frozenset({"uscc"}),
    "rekey_member": frozenset({"uscc", "public_key"}),
    "set_policy": frozenset({"name", "value", "from_height"}),
    "pin_contracts": frozenset({"code_hash", "from_height"}),
}


def quorum_reached(approvals: int, active: int, percent: int) -> bool:
    """Return whether `approvals` of `active` members pass a change at `percent`."""
    return approvals * 100 > percent * active


def approvals_needed(active: int, percent: int) -> int:
    """Return the least number of approvals that passes a change."""
    return percent * active // 100 + 1


# -- commands -----------------------------------------------------------------


@dataclass(frozen=True)
class Propose:
    """A proposed change, in its normal form (see `parse_change`)."""

    change: Mapping[str, Any]

    @classmethod
    def parse(cls, call: Call) -> Propose:
        """Read the single `change` argument; raise SchemaError naming what is wrong."""
        return cls(parse_change(base.arguments(call, {"change"})["change"]))


@dataclass(frozen=True)
class OnProposal:
    """Approve or withdraw: an action naming one proposal."""

    proposal: str

    @classmethod
    def parse(cls, call: Call) -> OnProposal:
        """Read the single `proposal` argument."""
        return cls(base.hex_id(base.arguments(call, {"proposal"})["proposal"], "proposal"))


# -- actions ------------------------------------------------------------------


def propose(call: Call) -> None:
    """An active member proposes a change; its own approval counts."""
    change = dict(Propose.parse(call).change)
    proposer = _sole_signer(call, "a proposal is signed by its proposer alone")
    _require_active(call, proposer, "the proposer is an active member")
    CHECKS[change["kind"]](call, change)
    proposal = {"id": call.tx_id, "kind": change["kind"], "change": change,
                "proposer": proposer, "approvals": [proposer], "status": "open",
                "proposed_at": call.block.height}
    _decide(call, proposal, {"type": "governance_proposed"})


def approve(call: Call) -> None:
    """Another active member approves an open proposal; at the quorum it executes."""
    proposal = _existing(call, OnProposal.parse(call).proposal)
    approver = _sole_signer(call, "an approval is signed by the approving member alone")
    _require_active(call, approver, "the approver is an active member")
    require(proposal["status"] == "open", "only an open proposal can be approved",
            "proposal {:id} is {}", proposal["id"], proposal["status"])
    require(approver not in proposal["approvals"], "a member approves a proposal once",
            "{} has already approved proposal {:id}", approver, proposal["id"])
    approved = {**proposal, "approvals": [*proposal["approvals"], approver]}
    _decide(call, approved, {"type": "governance_approved", "approver": approver})


def withdraw(call: Call) -> None:
    """The proposer withdraws its proposal while it is open."""
    proposal = _existing(call, OnProposal.parse(call).proposal)
    call.authorise(proposal["proposer"], "only the proposer withdraws a proposal")
    require(proposal["status"] == "open", "only an open proposal can be withdrawn",
            "proposal {:id} is {}", proposal["id"], proposal["status"])
    closed = {**proposal, "status": "withdrawn"}
    call.state.put(PROPOSAL_PREFIX + proposal["id"], closed)
    call.emit({"type": "governance_withdrawn", "proposal": proposal["id"],
               "kind": proposal["kind"], "parties": _parties(closed)})


def _decide(call: Call, proposal: dict[str, Any], event: dict[str, Any]) -> None:
    """Record `proposal`; if its approvals make the quorum, apply the change now."""
    active = _active_members(call)
    percent = policy(call, QUORUM_POLICY)
    votes = sum(1 for uscc in proposal["approvals"] if uscc in active)
    if quorum_reached(votes, len(active), percent):
        change = proposal["change"]
        CHECKS[change["kind"]](call, change)
        APPLY[change["kind"]](call, change)
        proposal = {**proposal, "status": "executed", "executed_at": call.block.height}
    call.state.put(PROPOSAL_PREFIX + proposal["id"], proposal)
    call.emit({
        **event, "proposal": proposal["id"], "kind": proposal["kind"],
        "change": proposal["change"], "proposer": proposal["proposer"],
        "approvals": votes, "approvals_needed": approvals_needed(len(active), percent),
        "status": proposal["status"], "executed": proposal["status"] == "executed",
        "parties": _parties(proposal),
    })


def _sole_signer(call: Call, rule: str) -> str:
    require(len(call.signers) == 1, rule, "it has {} signers", len(call.signers))
    signer = call.signers[0]
    call.authorise(signer, rule)
    return signer


def _require_active(call: Call, uscc: str, rule: str) -> Member:
    member = member_of(call.state, uscc)
    if member is None or not member.is_active:
        fail(rule, f"{uscc} {lacks(member)}")
    return member


def _active_members(call: Call) -> frozenset[str]:
    return frozenset(
        uscc for uscc in member_index(call)
        if (member := member_of(call.state, uscc)) is not None and member.is_active
    )


def _existing(call: Call, proposal_id: str) -> dict[str, Any]:
    proposal = call.state.get(PROPOSAL_PREFIX + proposal_id)
    require(isinstance(proposal, dict), "the proposal exists",
            "proposal {:id} not found", proposal_id)
    assert isinstance(proposal, dict)  # for the type checker
    return proposal


def _parties(proposal: Mapping[str, Any]) -> list[str]:
    """The proposer, the approvers and the member the change is about."""
    change = proposal["change"]
    subject = change["member"]["uscc"] if "member" in change else change.get("uscc")
    return sorted({proposal["proposer"], *proposal["approvals"], *([subject] if subject else [])})


# -- the shape of a change ----------------------------------------------------


def parse_change(value: Any) -> dict[str, Any]:
    """Return the change in its normal form; raise SchemaError if it is malformed."""
    kind = value.get("kind") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in CHANGE_FIELDS:
        raise SchemaError(f"change.kind must be one of {', '.join(CHANGE_FIELDS)}")
    fields = CHANGE_FIELDS[kind]
    if set(value) != {"kind", *fields}:
        raise SchemaError(f"a {kind} change has exactly kind, {', '.join(sorted(fields))}")
    if kind == "add_member":
        return {"kind": kind, "member": Member.from_json(value["member"]).to_json()}
    if kind in {"suspend_member", "reinstate_member"}:
        return {"kind": kind, "uscc": base.uscc(value["uscc"], "change.uscc")}
    if kind == "rekey_member":
        return {"kind": kind, "uscc": base.uscc(value["uscc"], "change.uscc"),
                "public_key": _public_key(value["public_key"]).hex()}
    if kind == "set_policy":
        return {"kind": kind, **_policy_version(value),
                "from_height": _height(value["from_height"])}
    return {"kind": kind, "code_hash": base.hex_id(value["code_hash"], "change.code_hash"),
            "from_height": _height(value["from_height"])}


def _public_key(value: Any) -> PublicKey:
    try:
        return PublicKey.from_hex(value)
    except SignatureError as exc:
        raise SchemaError(f"change.public_key: {exc}") from exc


def _policy_version(value: Mapping[str, Any]) -> dict[str, Any]:
    name = value["name"]
    if not isinstance(name, str) or name not in POLICY_CHECKS:
        raise SchemaError(f"change.name must be one of {', '.join(sorted(POLICY_CHECKS))}")
    if not POLICY_CHECKS[name](value["value"]):
        raise SchemaError(f"policy {name} has a value of the wrong type")
    return {"name": name, "value": value["value"]}


def _height(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise SchemaError("change.from_height must be a non-negative integer block height")
    return value


# -- the rules of each change, and its effect ---------------------------------

ChangeStep = Callable[[Call, Mapping[str, Any]], None]


def _check_add(call: Call, change: Mapping[str, Any]) -> None:
    member = Member.from_json(change["member"])
    require(member_of(call.state, member.uscc) is None, "the new member is not yet a member",
            "{} is already a member", member.uscc)
    require(member.is_active, "a new member joins as active",
            "{} would join as {}", member.uscc, member.status.value)


def _check_suspend(call: Call, change: Mapping[str, Any]) -> None:
    member = member_of(call.state, change["uscc"])
    if member is None or not member.is_active:
        fail("the member to suspend is active", f"{change['uscc']} {lacks(member)}")
    require(len(_active_members(call)) > 1, "the last active member is never suspended",
            "{} is the only active member", change["uscc"])


def _check_reinstate(call: Call, change: Mapping[str, Any]) -> None:
    member = member_of(call.state, change["uscc"])
    require(member is not None and not member.is_active, "the member to reinstate is suspended",
            "{} {}", change["uscc"], lacks(member))


def _check_rekey(call: Call, change: Mapping[str, Any]) -> None:
    member = member_of(call.state, change["uscc"])
    require(member is not None, "the member to re-key is a member",
            "{} is not a member", change["uscc"])
    assert member is not None
    require(member.public_key.hex() != change["public_key"],
            "the new key differs from the member's current key",
            "the new key is the current key of {}", change["uscc"])


def _check_scheduled(call: Call, change: Mapping[str, Any]) -> None:
    call.depends_on_height()
    require(change["from_height"] > call.block.height,
            "the change takes effect at a height after the current block",
            "from_height {} is not after this block's height, {}", change["from_height"],
            call.block.height)


def _apply_add(call: Call, change: Mapping[str, Any]) -> None:
    member = Member.from_json(change["member"])
    call.state.put(member_state_key(member.uscc), member.to_json())
    call.state.put(MEMBER_INDEX_KEY, [*member_index(call), member.uscc])


def _set_status(status: MemberStatus) -> ChangeStep:
    def apply(call: Call, change: Mapping[str, Any]) -> None:
        member = member_of(call.state, change["uscc"])
        assert member is not None  # checked just before
        call.state.put(member_state_key(member.uscc), replace(member, status=status).to_json())
    return apply


def _apply_rekey(call: Call, change: Mapping[str, Any]) -> None:
    member = member_of(call.state, change["uscc"])
    assert member is not None  # checked just before
    new_key = PublicKey.from_hex(change["public_key"])
    call.state.put(member_state_key(member.uscc), replace(member, public_key=new_key).to_json())


def _apply_policy(call: Call, change: Mapping[str, Any]) -> None:
    key = POLICY_PREFIX + change["name"]
    version = {"from_height": change["from_height"], "value": change["value"]}
    call.state.put(key, with_version(call.state.get(key), version))


def _apply_pin(call: Call, change: Mapping[str, Any]) -> None:
    version = {"from_height": change["from_height"], "hash": change["code_hash"]}
    call.state.put(PIN_KEY, with_version(pin_versions(call.state), version))


CHECKS: Mapping[str, ChangeStep] = {
    "add_member": _check_add,
    "suspend_member": _check_suspend,
    "reinstate_member": _check_reinstate,
    "rekey_member": _check_rekey,
    "set_policy": _check_scheduled,
    "pin_contracts": _check_scheduled,
}

APPLY: Mapping[str, ChangeStep] = {
    "add_member": _apply_add,
    "suspend_member": _set_status(MemberStatus.SUSPENDED),
    "reinstate_member": _set_status(MemberStatus.ACTIVE),
    "rekey_member": _apply_rekey,
    "set_policy": _apply_policy,
    "pin_contracts": _apply_pin,
}

ACTIONS: Mapping[str, Action] = {"propose": propose, "approve": approve, "withdraw": withdraw}
