"""Durable storage of blocks, transactions, world state and query indexes."""
