"""The receivable contract's commands: every action's arguments, parsed into typed values.

This module is the contract's input schema.  Each action begins with
`<Command>.parse(call)`: the argument names are checked (every required one,
nothing unknown), and each argument is read into its declared type by the
total readers of `contracts.base`, so a wrongly shaped transaction is a
`bad_schema` error naming the field before any rule looks at state.  The
rules in the action modules then read as clauses over these values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts import base
from contracts.receivable.invoices import invoice_number
from ledger.execution import Call
from ledger.money import FEE_PAYERS

MAX_INVOICES = 50
MAX_DOCUMENTS = 50
MAX_PAYMENTS = 100
REFERENCE_LENGTH = 64
_INVOICE_FIELDS = frozenset({"seller", "number", "amount", "allocated"})
_DOCUMENT_FIELDS = frozenset({"name", "sha256"})
_TRADE_FIELDS = frozenset({"contract_no", "invoices", "documents"})
_PAYMENT_FIELDS = frozenset({"to", "amount"})


@dataclass(frozen=True)
class GrantCreditLine:
    """A bank's credit line for a core enterprise (both sign)."""

    bank: str
    core: str
    limit: int
    currency: str
    expiry_date: date

    @classmethod
    def parse(cls, call: Call) -> GrantCreditLine:
        """Read the arguments of `grant_credit_line`; raise SchemaError naming a bad one."""
        args = base.arguments(call, {"bank", "core", "limit", "currency", "expiry_date"})
        return cls(bank=base.uscc(args["bank"], "bank"), core=base.uscc(args["core"], "core"),
                   limit=base.amount(args["limit"], "limit"),
                   currency=base.currency(args["currency"]),
                   expiry_date=base.day(args["expiry_date"], "expiry_date"))


@dataclass(frozen=True)
class InvoiceUse:
    """One invoice of the trade background and how much of it this credential uses."""

    seller: str
    number: str  # in the normal form (contracts.receivable.invoices.invoice_number)
    amount: int
    allocated: int

    @classmethod
    def parse(cls, value: Any) -> InvoiceUse:
        """Read one entry of trade.invoices."""
        entry = base.fields_of(value, _INVOICE_FIELDS, "each invoice")
        return cls(seller=base.uscc(entry["seller"], "invoice seller"),
                   number=invoice_number(entry["number"]),
                   amount=base.amount(entry["amount"], "invoice amount"),
                   allocated=base.amount(entry["allocated"], "invoice allocated"))

    def to_json(self) -> dict[str, Any]:
        """Return the entry as kept in the credential's trade background."""
        return {"seller": self.seller, "number": self.number, "amount": self.amount,
                "allocated": self.allocated}


@dataclass(frozen=True)
class Document:
    """A trade document, referenced by its SHA-256 (the file stays off the ledger)."""

    name: str
    sha256: str

    @classmethod
    def parse(cls, value: Any) -> Document:
        """Read one entry of trade.documents."""
        entry = base.fields_of(value, _DOCUMENT_FIELDS, "each document")
        return cls(name=base.text(entry["name"], "document name"),
                   sha256=base.hex_id(entry["sha256"], "document sha256"))


@dataclass(frozen=True)
class Trade:
    """The trade background of a credential: contract number, invoices, documents."""

    contract_no: str
    invoices: tuple[InvoiceUse, ...]
    documents: tuple[Document, ...]

    @classmethod
    def parse(cls, value: Any) -> Trade:
        """Read the `trade` argument of `issue`."""
        trade = base.fields_of(value, _TRADE_FIELDS, "trade")
        invoices = base.objects(trade["invoices"], "trade.invoices", max_items=MAX_INVOICES)
        documents = base.objects(trade["documents"], "trade.documents",
                                 max_items=MAX_DOCUMENTS, min_items=0)
        return cls(contract_no=base.text(trade["contract_no"], "trade.contract_no"),
                   invoices=tuple(InvoiceUse.parse(i) for i in invoices),
                   documents=tuple(Document.parse(d) for d in documents))

    def to_json(self) -> dict[str, Any]:
        """Return the trade background as kept with the credential (invoice numbers normalised)."""
        return {"contract_no": self.contract_no,
                "invoices": [i.to_json() for i in self.invoices],
                "documents": [{"name": d.name, "sha256": d.sha256} for d in self.documents]}


@dataclass(frozen=True)
class Issue:
    """A core enterprise's credential for a supplier, drawn on a credit line."""

    credit_line: str
    to: str
    amount: int
    currency: str
    maturity_date: date
    trade: Trade

    @classmethod
    def parse(cls, call: Call) -> Issue:
        """Read the arguments of `issue`."""
        args = base.arguments(
            call, {"credit_line", "to", "amount", "currency", "maturity_date", "trade"})
        return cls(credit_line=base.hex_id(args["credit_line"], "credit_line"),
                   to=base.uscc(args["to"], "to"), amount=base.amount(args["amount"], "amount"),
                   currency=base.currency(args["currency"]),
                   maturity_date=base.day(args["maturity_date"], "maturity_date"),
                   trade=Trade.parse(args["trade"]))


@dataclass(frozen=True)
class OnCredential:
    """Accept, reject, withdraw, expire or mark overdue: an action naming one credential."""

    receivable: str

    @classmethod
    def parse(cls, call: Call) -> OnCredential:
        """Read the single `receivable` argument."""
        args = base.arguments(call, {"receivable"})
        return cls(base.hex_id(args["receivable"], "receivable"))


@dataclass(frozen=True)
class Payment:
    """One recipient of a transfer and the fen it receives."""

    to: str
    amount: int

    @classmethod
    def parse(cls, value: Any) -> Payment:
        """Read one entry of `payments`."""
        entry = base.fields_of(value, _PAYMENT_FIELDS, "each payment")
        return cls(base.uscc(entry["to"], "payment recipient"),
                   base.amount(entry["amount"], "payment amount"))


@dataclass(frozen=True)
class Transfer:
    """A holder pays one or more recipients from a note."""

    note: str
    payments: tuple[Payment, ...]

    @classmethod
    def parse(cls, call: Call) -> Transfer:
        """Read the arguments of `transfer`."""
        args = base.arguments(call, {"note", "payments"})
        payments = base.objects(args["payments"], "payments", max_items=MAX_PAYMENTS)
        return cls(base.hex_id(args["note"], "note"), tuple(Payment.parse(p) for p in payments))


@dataclass(frozen=True)
class Freeze:
    """A freeze authority freezes or unfreezes a note, giving its reason."""

    note: str
    reason: str

    @classmethod
    def parse(cls, call: Call) -> Freeze:
        """Read the arguments of `freeze` and `unfreeze`."""
        args = base.arguments(call, {"note", "reason"})
        return cls(base.hex_id(args["note"], "note"), base.text(args["reason"], "reason"))


@dataclass(frozen=True)
class RequestFinancing:
    """A holder asks a bank to finance one note."""

    note: str
    bank: str

    @classmethod
    def parse(cls, call: Call) -> RequestFinancing:
        """Read the arguments of `request_financing`."""
        args = base.arguments(call, {"note", "bank"})
        return cls(base.hex_id(args["note"], "note"), base.uscc(args["bank"], "bank"))


@dataclass(frozen=True)
class OfferTerms:
    """A bank's priced terms for a financing request (rate in percent a year)."""

    financing: str
    annual_rate_percent: str
    funding_date: date
    fees: int
    fee_payer: str
    recourse: bool
    registry_no: str | None
    tenor_reviewed: bool

    @classmethod
    def parse(cls, call: Call) -> OfferTerms:
        """Read the arguments of `offer_terms` (`registry_no`, `tenor_reviewed` optional)."""
        args = base.arguments(
            call, {"financing", "annual_rate_percent", "funding_date", "fees", "fee_payer",
                   "recourse"}, frozenset({"registry_no", "tenor_reviewed"}))
        registry_no = args.get("registry_no")
        return cls(
            financing=base.hex_id(args["financing"], "financing"),
            annual_rate_percent=base.rate_percent(args["annual_rate_percent"]),
            funding_date=base.day(args["funding_date"], "funding_date"),
            fees=base.fen_or_zero(args["fees"], "fees"),
            fee_payer=base.one_of(args["fee_payer"], FEE_PAYERS, "fee_payer"),
            recourse=base.flag(args["recourse"], "recourse"),
            registry_no=None if registry_no is None else base.text(
                registry_no, "registry_no", max_length=REFERENCE_LENGTH),
            tenor_reviewed=base.flag(args.get("tenor_reviewed", False), "tenor_reviewed"),
        )


@dataclass(frozen=True)
class AcceptTerms:
    """The seller accepts exactly the terms it names by their hash."""

    financing: str
    terms_hash: str

    @classmethod
    def parse(cls, call: Call) -> AcceptTerms:
        """Read the arguments of `accept_terms`."""
        args = base.arguments(call, {"financing", "terms_hash"})
        return cls(base.hex_id(args["financing"], "financing"),
                   base.hex_id(args["terms_hash"], "terms_hash"))


@dataclass(frozen=True)
class OnFinancing:
    """Cancel a financing request: an action naming one request."""

    financing: str

    @classmethod
    def parse(cls, call: Call) -> OnFinancing:
        """Read the single `financing` argument."""
        args = base.arguments(call, {"financing"})
        return cls(base.hex_id(args["financing"], "financing"))


@dataclass(frozen=True)
class ConfirmDisbursement:
    """The bank confirms it paid the seller, with its payment reference."""

    financing: str
    payment_ref: str

    @classmethod
    def parse(cls, call: Call) -> ConfirmDisbursement:
        """Read the arguments of `confirm_disbursement`."""
        args = base.arguments(call, {"financing", "payment_ref"})
        return cls(base.hex_id(args["financing"], "financing"),
                   base.text(args["payment_ref"], "payment_ref", max_length=REFERENCE_LENGTH))


@dataclass(frozen=True)
class Pay:
    """The issuer records a (full or partial) maturity payment."""

    receivable: str
    amount: int
    payment_ref: str

    @classmethod
    def parse(cls, call: Call) -> Pay:
        """Read the arguments of `pay`."""
        args = base.arguments(call, {"receivable", "amount", "payment_ref"})
        return cls(base.hex_id(args["receivable"], "receivable"),
                   base.amount(args["amount"], "amount"),
                   base.text(args["payment_ref"], "payment_ref", max_length=REFERENCE_LENGTH))
