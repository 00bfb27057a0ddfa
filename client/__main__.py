"""`python -m client` runs the `ledger` command line."""

from client.cli import main

main()
