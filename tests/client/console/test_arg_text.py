"""The approvals queue shows a prepared transaction's arguments as a checker reads them."""

from __future__ import annotations

from client.console.arg_text import arg_lines
from client.sdk.names import Directory

MEMBERS = [{"uscc": "91310000MA00000038", "name": "Wuxi Castings"}]


def _directory() -> Directory:
    return Directory(lambda: MEMBERS)


def test_payments_are_one_line_each_with_names_and_yuan() -> None:
    # Seen on the queue: a transfer's payments showed as a raw list of dicts in fen.
    payments = [{"to": "91310000MA00000038", "amount": 20_000_000},
                {"to": "91310000MA0000004X", "amount": 150_050}]
    assert arg_lines(_directory(), "payments", payments) == [
        "Wuxi Castings · 91310000MA00000038: 200,000.00 CNY",
        "91310000MA0000004X: 1,500.50 CNY"]


def test_invoices_amounts_organisations_and_flags_read_as_words() -> None:
    directory = _directory()
    assert arg_lines(directory, "invoices", [{"number": "INV-7", "amount": 100}]) == [
        "INV-7: 1.00 CNY"]
    assert arg_lines(directory, "amount", 123_456_789) == ["1,234,567.89 CNY"]
    assert arg_lines(directory, "limit", 5_000_000_000) == ["50,000,000.00 CNY"]  # a credit line
    assert arg_lines(directory, "bank", "91310000MA00000038") == [
        "Wuxi Castings · 91310000MA00000038"]
    assert arg_lines(directory, "recourse", True) == ["✓"]
    assert arg_lines(directory, "registry_no", None) == ["-"]
    assert arg_lines(directory, "note", "ab" * 32) == ["ab" * 32]
    assert arg_lines(directory, "payments", ["odd"]) == ["odd"]  # shown, never a 500
