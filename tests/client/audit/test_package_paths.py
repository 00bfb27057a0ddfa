"""The processes the auditor starts run the code beside it, wherever the package moved.

`ledger export --database` runs `python -m node export`, and the parallel
audit starts its verifier with `python -c "from client.audit.verifier ...`;
both put this checkout first on PYTHONPATH, found from their own file's
place in it.  An
editable install hides a wrong path (the installed packages are found
anyway), so the path itself is checked.
"""

from __future__ import annotations

import os
from pathlib import Path

import client
from client.audit.chain_file import _package_path
from client.audit.verifier import _package_root

CHECKOUT = Path(client.__file__).resolve().parents[1]


def test_the_export_subprocess_finds_this_checkout_first() -> None:
    first = Path(_package_path().split(os.pathsep)[0])
    assert first == CHECKOUT
    assert (first / "node" / "__main__.py").is_file()


def test_the_verifier_subprocess_finds_this_checkout_first() -> None:
    first = Path(_package_root().split(os.pathsep)[0])
    assert first == CHECKOUT
    assert (first / "client" / "audit" / "verifier.py").is_file()
