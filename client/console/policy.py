"""The policies a page warns by: the genesis's parameters over the contracts' defaults.

The node serves no policy route, so the console reads the founding
transaction (log entry 0, which every founding member signed and may read)
and lays its `policies` over `contracts.registry.DEFAULT_POLICIES`, exactly
as the genesis wrote them into the state.  Pages use them to warn early (a
split piece under the minimum, a tenor past the review threshold); the node
re-checks every rule with the version in force when the transaction runs,
so a governance change made since only means a refusal instead of a warning.
"""

from __future__ import annotations

from typing import Any

from client.sdk.http import NodeError
from client.sdk.participant import Participant
from contracts.registry import DEFAULT_POLICIES
from ledger.errors import LedgerError
from ledger.tx import parse_envelope

HARD_TENOR_DAYS = 365  # maturity - issue <= 365 days, whatever the policy


def policies(participant: Participant) -> dict[str, Any]:
    """Return the policy parameters set at the genesis (the defaults where it set none).

    An organisation that cannot read the genesis (it joined later) gets the
    defaults; the node still enforces the real ones.
    """
    try:
        genesis_id = participant.node.get("/v1/log/leaf/0")["tx_id"]
        envelope = participant.transaction(genesis_id)["envelope"]
        founded = parse_envelope(envelope).body.args.get("policies", {})
    except (NodeError, LedgerError, KeyError, TypeError, ValueError):
        founded = {}
    return {**DEFAULT_POLICIES, **(founded if isinstance(founded, dict) else {})}
