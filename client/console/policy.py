"""The policies a page warns by: those the node holds now, as a transaction sent now meets them.

Pages warn early (a split piece under the minimum, a tenor past the review
threshold) by the node's answer to `GET /v1/policies` (the SDK's
`Participant.policies()`): the versions in force in its state, so a
governance change counts from the height it applies at, and every member
reads them, founder or not.  A page takes each value as it stands in the
node's next block, the first a transaction prepared now could run in; the
node checks every rule again, with the version in force where the
transaction lands, when a checker's approval submits it.

The answer is not cached per block as the inbox is (client/console/services.py):
it is about 1 KB, and learning the node's height to key a cache would take a
request of its own, as much as asking for the policies.
"""

from __future__ import annotations

from client.sdk.participant import Participant
from client.sdk.policies import PolicyValue

HARD_TENOR_DAYS = 365  # maturity - issue <= 365 days, whatever the policy


def policies(participant: Participant) -> dict[str, PolicyValue]:
    """Return every policy's value in the node's next block (raises NodeError if it cannot say)."""
    return participant.policies().next_block()


def policy_number(participant: Participant, name: str) -> int:
    """Return integer policy `name` in the node's next block.

    Raises NodeError if the node cannot say, KeyError if it holds no such
    policy, SchemaError if the policy is not a number.
    """
    return participant.policies().number(name)
