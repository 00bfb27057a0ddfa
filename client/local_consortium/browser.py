"""Screenshots of a report page in headless Chromium (Debian's `chromium` package).

Chromium runs once per screenshot with a fresh profile directory and every
background service switched off: on a closed network its update, sync and
safe-browsing connections would only be refused, many at a time.  It runs in
its own process group, so a hung browser and all its helpers are stopped
together.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
QUIET_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
)


class BrowserMissing(RuntimeError):
    """Raised when no Chromium binary is installed."""


def chromium_binary() -> str:
    """Return the path of the Chromium binary (LEDGER_CHROMIUM overrides the search).

    Raises BrowserMissing saying how to install it.
    """
    chosen = os.environ.get("LEDGER_CHROMIUM")
    for name in ([chosen] if chosen else CHROMIUM_NAMES):
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissing("Chromium is not installed: as root, `apt-get install -y chromium` "
                         "(or set LEDGER_CHROMIUM to a Chromium binary)")


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 2000,
               timeout: float = 90.0) -> None:
    """Render the local HTML file `page` in headless Chromium and save a PNG of the window.

    Raises BrowserMissing without Chromium, TimeoutError if it hangs, and
    RuntimeError (with Chromium's last words) if it wrote no screenshot.
    """
    binary = chromium_binary()
    png = png.resolve()
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="ledger-chromium-") as profile:
        args = [binary, *QUIET_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
                f"--window-size={width},{height}", page.resolve().as_uri()]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise TimeoutError(f"Chromium took more than {timeout:.0f} s to render {page}") from exc
    if not png.exists() or png.stat().st_size == 0:
        tail = stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise RuntimeError(f"Chromium (exit {process.returncode}) wrote no screenshot of "
                           f"{page}: {' | '.join(tail)}")
