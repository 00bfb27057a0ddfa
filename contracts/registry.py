"""The registry contract: who is in the consortium, and the policies in force.

Genesis writes the founding members (with roles and keys), the list of
member ids (`members`, so governance can count the active members), the
policy parameters and, optionally, the hash of the contract code every node
must run.  Each policy (and the code pin) is kept as a list of versions, each
with the height from which it applies, so a later governance change never
rewrites what was decided under an earlier version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from contracts import base
from contracts.base import exact_args, fail, require
from contracts.code import PIN_KEY
from ledger.attestation import NodeInfo, node_state_key
from ledger.errors import SchemaError
from ledger.execution import Action, Call, StateReader, decoded, member_of
from ledger.membership import Member, Role, member_state_key

POLICY_PREFIX = "policy/"
MEMBER_INDEX_KEY = "members"


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _uscc_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _percent(value: Any) -> bool:
    # 100 is refused: approvals x 100 > 100 x active can never hold, so no change
    # (not even lowering the percent again) could ever pass.
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 99


def _basis_points(value: Any) -> bool:
    # 1 bp to 1,000 % a year: a ceiling, not a rate, so it is never zero
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100_000


POLICY_CHECKS: Mapping[str, Callable[[Any], bool]] = {
    "min_split_amount": _non_negative_int,
    "max_split_depth": _non_negative_int,
    "max_children": _non_negative_int,
    "review_tenor_days": _non_negative_int,
    "acceptance_days": _non_negative_int,
    "grace_days": _non_negative_int,
    "block_issuance_when_overdue": lambda v: isinstance(v, bool),
    "freeze_authorities": _uscc_list,
    "governance_approval_percent": _percent,
    "max_annual_rate_bp": _basis_points,
}

DEFAULT_POLICIES: Mapping[str, Any] = {
    "min_split_amount": 10_000,  # 100.00 yuan
    "max_split_depth": 8,
    "max_children": 20,
    "review_tenor_days": 183,
    "acceptance_days": 7,
    "grace_days": 3,
    "block_issuance_when_overdue": True,
    "freeze_authorities": [],
    # a change passes when approvals x 100 > this x the number of active members
    "governance_approval_percent": 50,
    # the highest yearly financing rate a bank may offer, in basis points (2400 = 24.00 %)
    "max_annual_rate_bp": 2400,
}


def policy(call: Call, name: str) -> Any:
    """Return the value of policy `name` in force at the call's block height."""
    versions = policy_versions(call.state, name)
    if not versions:
        fail(f"policy {name} is defined on chain", "no version of it is recorded")
    if any(v["from_height"] > call.block.height for v in versions):
        call.depends_on_height()
    current = version_in_force(versions, call.block.height)
    if current is None:
        fail(f"policy {name} applies at height {call.block.height}",
             "its first version applies from height {}", versions[0]["from_height"])
    return current["value"]


def policy_versions(state: StateReader, name: str) -> tuple[Any, ...]:
    """Return the recorded versions of policy `name` ({from_height, value}), in order.

    The order is by `from_height` (`with_version` keeps it so); none is an
    empty tuple.  The versions are the state cache's own objects: read only.
    """
    versions = decoded(state, POLICY_PREFIX + name, tuple)
    return () if versions is None else tuple(versions)


def version_in_force(versions: Sequence[Mapping[str, Any]], height: int) -> Any:
    """Return the version of `versions` that applies at block `height`, or None if none does yet.

    That is the last one from a height at most `height`: of two from the
    same height, the later decision.
    """
    applicable = [v for v in versions if v["from_height"] <= height]
    return applicable[-1] if applicable else None


def policies_at(state: StateReader, height: int) -> dict[str, Any]:
    """Return every policy as `state` holds it at block `height`: in force, and scheduled.

    The one read of "the policies in force" outside a contract (the node's
    `GET /v1/policies`): `{"height", "policies": {name: {"value",
    "from_height"}}, "scheduled": [{"name", "value", "from_height"}]}`, the
    scheduled versions (from a later height) in the order they take effect.
    A policy no version of which applies yet is only in `scheduled`.
    """
    in_force: dict[str, Any] = {}
    scheduled: list[dict[str, Any]] = []
    for name in sorted(POLICY_CHECKS):
        versions = policy_versions(state, name)
        current = version_in_force(versions, height)
        if current is not None:
            in_force[name] = {"value": current["value"], "from_height": current["from_height"]}
        scheduled += [{"name": name, "value": v["value"], "from_height": v["from_height"]}
                      for v in versions if v["from_height"] > height]
    scheduled.sort(key=lambda v: int(v["from_height"]))  # stable: a name's own order is kept
    return {"height": height, "policies": in_force, "scheduled": scheduled}


def member_index(call: Call) -> tuple[str, ...]:
    """Return the ids of every member, active or suspended, in the order they joined."""
    index = decoded(call.state, MEMBER_INDEX_KEY, tuple)
    require(index is not None, "the list of members is recorded on chain")
    return tuple(index)


def with_version(versions: Any, entry: dict[str, Any]) -> list[Any]:
    """Return `versions` (sorted by from_height) with `entry` inserted in order.

    A version scheduled for a height that already has one is placed after it,
    so the newer decision wins from that height on.
    """
    existing = list(versions or ())
    before = [v for v in existing if v["from_height"] <= entry["from_height"]]
    after = [v for v in existing if v["from_height"] > entry["from_height"]]
    return [*before, entry, *after]


def active_member(call: Call, uscc: str, role: Role, rule: str, who: str = "member") -> Member:
    """Return the member `uscc` if it is active and holds `role`; else fail with `rule`.

    The refusal says what `who` (its part in the action: "the receiver") lacks.
    """
    member = member_of(call.state, uscc)
    if member is None or not member.is_active or not member.has_role(role):
        fail(rule, f"{who} {uscc} {lacks(member, role)}")
    return member


def lacks(member: Member | None, role: Role | None = None) -> str:
    """Return what keeps `member` from acting (in `role`): "is not a member", "is suspended", ..."""
    if member is None:
        return "is not a member"
    if not member.is_active:
        return "is suspended"
    if role is not None and not member.has_role(role):
        roles = ", ".join(sorted(r.value for r in member.roles)) or "none"
        return f"does not have the {role.value} role (its roles: {roles})"
    return "is an active member"


def genesis(call: Call) -> None:
    """Found the consortium: write the members, the initial policies and the code pin.

    Only the genesis block (height 0) may run this; every founding member signs.
    """
    exact_args(call, {"members", "policies"}, frozenset({"nodes", "contracts_hash"}))
    require(call.block.height == 0, "the consortium is founded only in the genesis block",
            "this block is at height {}", call.block.height)
    members = [Member.from_json(m) for m in _member_list(call.args["members"])]
    usccs = [m.uscc for m in members]
    require(len(set(usccs)) == len(usccs), "each founding member is listed once",
            "{} is listed more than once", _first_repeated(usccs))
    for member in members:
        call.authorise(member.uscc, "every founding member signs the genesis")
        call.state.put(member_state_key(member.uscc), member.to_json())
    call.state.put(MEMBER_INDEX_KEY, [m.uscc for m in members])
    _write_policies(call, call.args["policies"])
    event: dict[str, Any] = {"type": "genesis", "members": [m.uscc for m in members]}
    if "contracts_hash" in call.args:
        pinned = base.hex_id(call.args["contracts_hash"], "contracts_hash")
        call.state.put(PIN_KEY, [{"from_height": 0, "hash": pinned}])
        event["contracts_hash"] = pinned
    if "nodes" in call.args:
        event["nodes"] = _register_nodes(call, call.args["nodes"], {m.uscc for m in members})
    call.emit(event)


def _register_nodes(call: Call, value: Any, members: set[str]) -> list[str]:
    """Record the consortium's nodes (id, organisation, attestation key)."""
    if not isinstance(value, list):
        raise SchemaError("nodes must be a list of node records")
    nodes = [NodeInfo.from_json(n) for n in value]
    ids = [n.id for n in nodes]
    require(len(set(ids)) == len(ids), "each node id is registered once",
            "node id {!r} is listed more than once", _first_repeated(ids))
    for node in nodes:
        require(node.org in members, "a node is run by a member organisation",
                "node {!r} is run by {}, not a founding member", node.id, node.org)
        call.state.put(node_state_key(node.id), node.to_json())
    return [n.id for n in nodes]


def _first_repeated(values: list[str]) -> str | None:
    """Return the first value that occurs twice in `values` (None if there is none)."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


def _member_list(value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise SchemaError("genesis needs a non-empty list of members")
    return value


def _write_policies(call: Call, policies: Any) -> None:
    if not isinstance(policies, dict):
        raise SchemaError("policies must be an object of name to value")
    unknown = sorted(set(policies) - set(POLICY_CHECKS))
    if unknown:
        raise SchemaError(f"unknown policy parameter(s): {', '.join(unknown)}")
    merged = {**DEFAULT_POLICIES, **policies}
    for name, value in sorted(merged.items()):
        if not POLICY_CHECKS[name](value):
            raise SchemaError(f"policy {name} has a value of the wrong type")
        call.state.put(POLICY_PREFIX + name, [{"from_height": call.block.height, "value": value}])


ACTIONS: Mapping[str, Action] = {"genesis": genesis}
