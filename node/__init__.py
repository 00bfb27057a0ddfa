"""The node: stores, orders and serves the ledger over HTTP (FastAPI + SQLModel)."""
