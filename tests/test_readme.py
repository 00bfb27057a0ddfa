"""The README's command blocks run, in order, as a reader would type them, and pass.

Every ```bash block of README.md is run in one bash session started in the
repository (so variables and the working folder carry from block to block),
with `set -euo pipefail`: a command that fails fails the test.  The one
block not run is the test command itself (`./scripts/test.sh`: it is the
suite that runs this test; `.ci/run` runs it).  Scratch folders made with
`mktemp -d` land in the test's temporary folder, and whatever network the
blocks leave running is stopped by PID afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from client.local_consortium.network import network_down

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
NOT_RUN = "./scripts/test.sh"  # the suite that runs this very test


def bash_blocks(markdown: str) -> list[str]:
    """Return the ```bash blocks of a Markdown text, in order."""
    return [match.group(1) for match in BLOCK.finditer(markdown)]


def test_the_readme_has_the_blocks_this_test_expects() -> None:
    blocks = bash_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks[0].strip() == "./scripts/demo.sh"
    assert blocks[1].strip() == NOT_RUN
    assert any("network up" in b for b in blocks) and any("network down" in b for b in blocks)


@pytest.mark.slow
def test_every_command_block_of_the_readme_runs_in_order(tmp_path: Path) -> None:
    blocks = [b for b in bash_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
              if b.strip() != NOT_RUN]
    script = "set -euo pipefail\n" + "\n".join(
        f"echo '== README block {i + 1}' >&2\n{block}" for i, block in enumerate(blocks))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["TMPDIR"] = str(tmp_path)
    try:
        run = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=1500, check=False)
    finally:
        for described in tmp_path.rglob("network.json"):
            network_down(described.parent)
    assert run.returncode == 0, f"{run.stderr[-6000:]}\n---\n{run.stdout[-6000:]}"
    said = run.stdout
    assert "PASSED" in said  # the demo's audit, then the walkthrough's
    assert "credential to accept or reject" in said and "financing offer to accept" in said
    assert "10,000,000.00 CNY" in said
