"""Snapshots: the state at a final height taken from a node, and a node restored from one."""
