"""`ledger console` refuses what is wrong in one line (exit status 2), never with a traceback.

No node is needed: settings that are missing, unreadable or wrong, a
keystore that does not open, and account changes that cannot be made
(an unknown role, a short password, a taken name, an unknown user) each
get a line saying what is wrong, and change nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from client.console.config import config_text
from client.sdk.keystore import Identity, save_keystore
from tests.builders import make_orgs


def _ledger(*args: str, password: str = "long-enough-password") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_CONSOLE_USER_PASSWORD": password, "LEDGER_PASSWORD": "wrong"}
    return subprocess.run([sys.executable, "-m", "client", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def _refused(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and words in done.stderr, done.stderr
    assert done.stderr.count("error: ") == 1, done.stderr


def test_console_commands_refuse_in_one_line(tmp_path: Path) -> None:
    settings = tmp_path / "console.toml"
    _refused(_ledger("console", "start", "--config", str(settings)), "cannot read")
    settings.write_text("nodes = [\n", encoding="utf-8")
    _refused(_ledger("console", "user", "list", "--config", str(settings)), "not valid TOML")
    settings.write_text('keystore = "k.json"\nnodes = ["ftp://x"]\n', encoding="utf-8")
    _refused(_ledger("console", "user", "list", "--config", str(settings)), "nodes must list")
    settings.write_text('keystore = "k.json"\nnodes = ["http://127.0.0.1:9"]\ncolour = 1\n',
                        encoding="utf-8")
    _refused(_ledger("console", "user", "list", "--config", str(settings)), "unknown setting")
    org = make_orgs()["s1"]
    save_keystore(tmp_path / "k.json", Identity(org.uscc, org.name, org.key), "right")
    settings.write_text(config_text(keystore=Path("k.json"), nodes=["http://127.0.0.1:9"],
                                    tls=None, port=0), encoding="utf-8")
    _refused(_ledger("console", "start", "--config", str(settings)), "cannot start")
    config = ("--config", str(settings))
    _refused(_ledger("console", "user", "add", *config, "--name", "a", "--role", "bogus"),
             "The role must be maker, checker, viewer or admin")
    _refused(_ledger("console", "user", "add", *config, "--name", "a", "--role", "maker",
                     password="short"), "at least 10 characters")
    assert _ledger("console", "user", "add", *config, "--name", "a", "--role", "maker"
                   ).returncode == 0
    _refused(_ledger("console", "user", "add", *config, "--name", "a", "--role", "viewer"),
             "already a user named a")
    _refused(_ledger("console", "user", "unlock", *config, "--name", "nobody"), "no such user")
    listed = _ledger("--json", "console", "user", "list", *config)
    assert '"role": "maker"' in listed.stdout and listed.returncode == 0
    _refused(_ledger("console", "init", "--out", str(tmp_path / "x.toml")), "--as ALIAS")
