"""The node's HTTP API (FastAPI), versioned under /v1."""
