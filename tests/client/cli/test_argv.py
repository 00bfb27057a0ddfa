"""Global options may follow the subcommand: they are moved in front of it before parsing."""

from __future__ import annotations

import typer.main

from client.cli import app
from client.cli.argv import hoist_global_options

ROOT = typer.main.get_group(app)


def hoist(line: str) -> list[str]:
    return hoist_global_options(line.split(), ROOT)


def test_options_after_the_subcommand_move_in_front_of_it() -> None:
    assert hoist("holdings --json") == ["--json", "holdings"]
    assert hoist("audit --chain c.jsonl --json") == ["--json", "audit", "--chain", "c.jsonl"]
    assert hoist("finance accept 1234abcd --keystore k.json --yes") == [
        "--keystore", "k.json", "finance", "accept", "1234abcd", "--yes"]
    assert hoist("note 1234abcd --keystore=k.json") == ["--keystore=k.json", "note", "1234abcd"]


def test_options_already_in_front_stay_and_the_rest_is_untouched() -> None:
    assert hoist("--json --node http://x status") == ["--json", "--node", "http://x", "status"]
    assert hoist("transfer 1234abcd --pay a:1 --pay b:2") == [
        "transfer", "1234abcd", "--pay", "a:1", "--pay", "b:2"]


def test_a_subcommand_option_of_the_same_name_stays_with_the_subcommand() -> None:
    assert hoist("audit --node http://a --node http://b --json") == [
        "--json", "audit", "--node", "http://a", "--node", "http://b"]


def test_a_value_that_looks_like_an_option_is_left_where_it_is() -> None:
    assert hoist("freeze 1234abcd --reason --json") == ["freeze", "1234abcd", "--reason",
                                                        "--json"]
    assert hoist("issue -- --json") == ["issue", "--", "--json"]


def test_an_unknown_command_is_left_for_click_to_refuse() -> None:
    assert hoist("frobnicate --json") == ["frobnicate", "--json"]
