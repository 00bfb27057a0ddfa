"""What an operator sees of a running node: logs, request ids, metrics, the start banner."""
