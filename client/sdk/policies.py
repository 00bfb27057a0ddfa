"""The consortium's policies as a node's state holds them: typed, and as of a block height.

Policies (the smallest split piece, the tenor past which a bank must review a
credential before financing it, ...) are recorded on chain as versions, each
applying from a block height; the genesis sets the first ones and only
governance schedules new ones, always from a later height.  A node answers
`GET /v1/policies` with the version of each in force at its head and the
versions scheduled after it; `Policies` holds that answer, checked, and
`at(height)` says what applies at a later height.  A transaction submitted
now runs at the height of the block it lands in, `height + 1` at the
earliest: `next_block()` is what it would meet first.  The node checks every
rule again when the transaction runs, so these serve to warn, not to decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ledger.errors import SchemaError

PolicyValue = int | bool | tuple[str, ...]
"""A policy's value: an integer (fen, days, a count, basis points, percent), a switch, or USCCs."""


@dataclass(frozen=True)
class PolicyVersion:
    """One version of one policy: its value, applying from block `from_height` on."""

    name: str
    value: PolicyValue
    from_height: int

    def to_json(self) -> dict[str, Any]:
        """Return the version as the node writes it, without its name."""
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return {"value": value, "from_height": self.from_height}


@dataclass(frozen=True)
class Policies:
    """The policies in force at block `height`, and the versions scheduled after it."""

    height: int
    in_force: Mapping[str, PolicyVersion]
    scheduled: tuple[PolicyVersion, ...]

    def __getitem__(self, name: str) -> PolicyValue:
        """Return the value of policy `name` in force at `height`; raise KeyError if none is."""
        return self.in_force[name].value

    def at(self, height: int) -> dict[str, PolicyValue]:
        """Return every policy's value at block `height`, counting the scheduled versions.

        Raises ValueError for a height before `self.height`: the answer does
        not say what applied then.
        """
        if height < self.height:
            raise ValueError(f"these policies are as of block {self.height}; they do not say "
                             f"what applied at block {height}")
        values = {name: version.value for name, version in self.in_force.items()}
        for version in self.scheduled:  # in the order they take effect: the later decision wins
            if version.from_height <= height:
                values[version.name] = version.value
        return values

    def next_block(self) -> dict[str, PolicyValue]:
        """Return every policy's value in the next block, the first a transaction sent now meets."""
        return self.at(self.height + 1)

    def number(self, name: str, height: int | None = None) -> int:
        """Return integer policy `name` at `height` (default: the next block).

        Raises KeyError if no version of it applies there, SchemaError if it
        is not an integer (a switch or a list).
        """
        value = self.at(self.height + 1 if height is None else height)[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(f"policy {name} is not a number: {value!r}")
        return value

    def to_json(self) -> dict[str, Any]:
        """Return the answer as the node gave it (`GET /v1/policies`)."""
        return {"height": self.height,
                "policies": {n: v.to_json() for n, v in self.in_force.items()},
                "scheduled": [{"name": v.name, **v.to_json()} for v in self.scheduled]}

    @classmethod
    def from_json(cls, answer: Any) -> Policies:
        """Read a node's `GET /v1/policies` answer; raise SchemaError naming what is malformed.

        Heights are non-negative integers; a value is an integer, a boolean
        or a list of strings, never a float.
        """
        if not isinstance(answer, dict) or not isinstance(answer.get("policies"), dict) or \
                not isinstance(answer.get("scheduled"), list):
            raise SchemaError("the node's policies answer is not {height, policies, scheduled}")
        in_force = {name: _version(name, v, f"policies.{name}")
                    for name, v in answer["policies"].items()}
        scheduled = tuple(_version(v.get("name") if isinstance(v, dict) else None, v,
                                   f"scheduled[{i}]") for i, v in enumerate(answer["scheduled"]))
        return cls(_height(answer.get("height"), "height"), MappingProxyType(in_force),
                   scheduled)


def _version(name: Any, entry: Any, where: str) -> PolicyVersion:
    """Return one version of the answer; raise SchemaError naming `where` if it is malformed."""
    if not isinstance(name, str) or not isinstance(entry, dict) or "value" not in entry:
        raise SchemaError(f"the node's policies answer: {where} is not a named version")
    return PolicyVersion(name, _value(entry["value"], where),
                         _height(entry.get("from_height"), f"{where}.from_height"))


def _value(value: Any, where: str) -> PolicyValue:
    if isinstance(value, bool | int):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise SchemaError(f"the node's policies answer: {where}.value is {type(value).__name__}, "
                      "not an integer, a boolean or a list of USCCs")


def _height(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SchemaError(f"the node's policies answer: {where} is not a block height")
    return value
