"""`ledger node start` shows where the node is: the banner and the ready line, also in node.log.

The command runs the node in the foreground; its stderr must show the
banner (URL, chain, node id, height) and then the ready line with the
metrics URL, and `node.log` beside the settings file must hold the same.
A metrics scrape must pass promtool.  Ctrl+C stops it without a traceback.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from client.local_consortium.launcher import free_port
from tests.metrics import need_promtool, promtool_problems, scrape


def _lines_until_ready(process: subprocess.Popen[str], timeout: float = 60.0) -> list[str]:
    """Read the process's stderr until the ready line (or fail after `timeout`)."""
    assert process.stderr is not None
    lines: list[str] = []
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while not any("ready: " in line for line in lines):
        assert time.monotonic() < deadline and process.poll() is None, lines
        if selector.select(timeout=0.5):
            lines.append(process.stderr.readline().rstrip("\n"))
    return lines


def test_node_start_shows_the_banner_and_the_ready_line(tmp_path: Path) -> None:
    need_promtool()
    env = {**os.environ, "LEDGER_PASSWORD": "node-start-test", "LEDGER_PORT": str(free_port())}
    made = subprocess.run([sys.executable, "-m", "client", "consortium", "init",
                           str(tmp_path / "c"), "--chain-id", "start-test"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert made.returncode == 0, made.stderr
    process = subprocess.Popen(
        [sys.executable, "-m", "client", "node", "start", "--config",
         str(tmp_path / "c" / "node.toml"), "--metrics-port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        shown = _lines_until_ready(process)
        url = f"http://127.0.0.1:{env['LEDGER_PORT']}"
        metrics = shown[-1].rsplit("metrics at ", 1)[1]
        assert promtool_problems(scrape(metrics).text) == ""
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=30)
    banner = next(line for line in shown if "starting at" in line)
    assert f"node node-core of chain start-test starting at {url}: head at height 0" in banner
    assert f"ready: node node-core serves {url}" in shown[-1]
    assert "Traceback" not in rest and "node node-core stopped at height 0" in rest
    logged = (tmp_path / "c" / "node.log").read_text(encoding="utf-8")
    assert banner in logged and shown[-1] in logged
