"""The receivable contract: electronic payables credentials from issue to clearing.

The story: a bank grants a core enterprise a credit line; the core enterprise
issues a credential to a tier-1 supplier against invoices; the supplier signs
for it; suppliers split it and pay their own suppliers with the pieces; any
holder can have a bank buy its piece; at maturity the core enterprise pays and
every holder is cleared.  Value lives in notes (UTXO-style): every move spends
notes and creates new ones, and for each credential the live notes plus what
has been paid always equal its face.
"""

from __future__ import annotations

from collections.abc import Mapping

from contracts.receivable import credit, financing, issuance, settlement, transfer
from ledger.execution import Action

ACTIONS: Mapping[str, Action] = {
    "grant_credit_line": credit.grant_credit_line,
    "issue": issuance.issue,
    "accept": issuance.accept,
    "reject": issuance.reject,
    "withdraw": issuance.withdraw,
    "expire": issuance.expire,
    "transfer": transfer.transfer,
    "freeze": transfer.freeze,
    "unfreeze": transfer.unfreeze,
    "request_financing": financing.request_financing,
    "offer_terms": financing.offer_terms,
    "accept_terms": financing.accept_terms,
    "cancel_financing": financing.cancel_financing,
    "confirm_disbursement": financing.confirm_disbursement,
    "pay": settlement.pay,
    "mark_overdue": settlement.mark_overdue,
}
