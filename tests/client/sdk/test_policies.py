"""`Policies`: a node's policies answer read strictly, and what applies at a later height.

The answers here are written as a node writes them (contracts/registry.py
`policies_at` over a state holding versions), so the SDK reads exactly what
the node serves; a malformed answer (a float, a negative height, a value of
another kind) is a SchemaError naming where, never a value taken on trust.
"""

from __future__ import annotations

from typing import Any

import pytest

from client.sdk.policies import Policies
from contracts.registry import DEFAULT_POLICIES, POLICY_PREFIX, policies_at
from ledger.canonical import JSONValue
from ledger.errors import SchemaError


class VersionedState:
    """A state holding each default policy from height 0, and some later versions."""

    def __init__(self, later: dict[str, list[dict[str, Any]]]) -> None:
        self.values: dict[str, JSONValue] = {
            POLICY_PREFIX + name: [{"from_height": 0, "value": value},
                                   *later.get(name, [])]
            for name, value in DEFAULT_POLICIES.items()}

    def get(self, key: str) -> JSONValue | None:
        return self.values.get(key)


LATER = {"review_tenor_days": [{"from_height": 5, "value": 90}, {"from_height": 9, "value": 60},
                               {"from_height": 9, "value": 30}],
         "freeze_authorities": [{"from_height": 7, "value": ["91310000MA00000012"]}]}


def test_the_versions_in_force_and_scheduled_are_read_as_the_node_writes_them() -> None:
    answer = policies_at(VersionedState(LATER), 6)
    assert answer["policies"]["review_tenor_days"] == {"value": 90, "from_height": 5}
    assert [(v["name"], v["from_height"]) for v in answer["scheduled"]] == [
        ("freeze_authorities", 7), ("review_tenor_days", 9), ("review_tenor_days", 9)]
    policies = Policies.from_json(answer)
    assert policies.to_json() == answer
    assert policies["review_tenor_days"] == 90
    assert policies.at(6)["freeze_authorities"] == ()
    assert policies.next_block()["freeze_authorities"] == ("91310000MA00000012",)
    assert policies.number("review_tenor_days", 8) == 90
    assert policies.number("review_tenor_days", 9) == 30  # the later decision at one height
    with pytest.raises(ValueError, match="as of block 6"):
        policies.at(5)
    with pytest.raises(SchemaError, match="not a number"):
        policies.number("block_issuance_when_overdue")


def test_a_version_that_applies_only_later_is_scheduled_alone() -> None:
    state = VersionedState({})
    state.values[POLICY_PREFIX + "grace_days"] = [{"from_height": 4, "value": 2}]
    policies = Policies.from_json(policies_at(state, 3))
    assert "grace_days" not in policies.in_force
    assert policies.number("grace_days") == 2
    with pytest.raises(KeyError):
        policies["grace_days"]


@pytest.mark.parametrize("change, where", [
    (lambda a: a.update(height=-1), "height"),
    (lambda a: a.update(height=True), "height"),
    (lambda a: a["policies"]["grace_days"].update(value=3.0), "policies.grace_days.value"),
    (lambda a: a["policies"]["grace_days"].update(value="3"), "policies.grace_days.value"),
    (lambda a: a["policies"]["freeze_authorities"].update(value=[1]),
     "policies.freeze_authorities.value"),
    (lambda a: a["policies"]["grace_days"].update(from_height=0.5),
     "policies.grace_days.from_height"),
    (lambda a: a["policies"].update(grace_days=3), "policies.grace_days"),
    (lambda a: a["scheduled"].append({"value": 1, "from_height": 9}), "scheduled[0]"),
    (lambda a: a.pop("scheduled"), "not {height, policies, scheduled}"),
])
def test_a_malformed_answer_is_a_schema_error_naming_where(change: Any, where: str) -> None:
    answer = policies_at(VersionedState({}), 3)
    change(answer)
    with pytest.raises(SchemaError) as raised:
        Policies.from_json(answer)
    assert where in str(raised.value)
