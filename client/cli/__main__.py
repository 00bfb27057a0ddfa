"""`python -m client.cli` runs the `ledger` command line (as `python -m client` does)."""

from client.cli import main

main()
