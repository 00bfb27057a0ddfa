"""Business rules of the consortium, as deterministic Python contracts.

Each contract is a mapping from action name to a function that takes a
`ledger.execution.Call` and either records its effects in the call's state
overlay or raises `ContractViolation` with the text of the rule that failed.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts import governance, receivable, registry
from ledger.execution import Action

CONTRACTS: Mapping[str, Mapping[str, Action]] = {
    "registry": registry.ACTIONS,
    "receivable": receivable.ACTIONS,
    "governance": governance.ACTIONS,
}
