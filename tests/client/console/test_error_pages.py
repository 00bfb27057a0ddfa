"""When even the error page cannot be drawn, the console still answers a plain 500.

The console's handler for failures nobody foresaw draws `error.html`.  If
that fails too (a broken template, a base page that raises), the visitor
must still get an answer, in both languages and with the security headers,
not a reset connection; and nothing of the failure (no traceback) is shown.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from jinja2 import DictLoader

from client.console.config import ConsoleConfig
from client.console.services import open_console
from client.local_consortium.launcher import free_port
from client.sdk.keystore import Identity, generate_key
from client.sdk.participant import Participant
from tests.client.console.support import served


def test_a_failing_error_page_still_answers_a_plain_500(tmp_path: Path) -> None:
    identity = Identity("91110000MA00000001", "Broken Templates Ltd", generate_key())
    away = f"http://127.0.0.1:{free_port()}"
    console = open_console(
        ConsoleConfig(keystore=tmp_path / "unused.json", nodes=(away,),
                      database_url=f"sqlite:///{tmp_path / 'console.db'}", language="en"),
        identity, "", connect=lambda: Participant(away, identity))
    console.templates.loader = DictLoader({"error.html": "{{ no_such_function() }}"})
    with served(console) as url:
        answer = httpx.get(url + "/login", timeout=10)
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert "Content-Security-Policy" in answer.headers
    assert "出错了" in answer.text and "The console failed" in answer.text
    assert "Traceback" not in answer.text and "no_such_function" not in answer.text
