"""Entry points and benchmark fixtures run from the repository (not installed with the package)."""
