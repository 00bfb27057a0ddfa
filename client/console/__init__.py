"""The web console: each organisation's browser front end on the SDK (docs/ARCHITECTURE.md)."""
