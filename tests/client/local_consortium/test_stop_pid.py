"""stop_pid returns only once the process is gone, even when SIGTERM is ignored."""

from __future__ import annotations

import subprocess
import sys
import time

from client.local_consortium.etcd_cluster import process_is, stop_pid

STUBBORN = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(120)  # stop-pid-test")


def test_a_process_ignoring_sigterm_is_killed_and_gone_when_stop_pid_returns() -> None:
    # A node slow to stop made restart_node find it "still running": stop_pid sent SIGKILL
    # after its timeout and returned without waiting for the process to end.
    process = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        started = time.monotonic()
        assert stop_pid(process.pid, "stop-pid-test", timeout_s=0.5)
        assert not process_is(process.pid, "stop-pid-test")
        assert time.monotonic() - started >= 0.5  # it waited for SIGTERM first
    finally:
        process.kill()
        process.wait()


def test_a_process_already_gone_is_reported_as_not_running() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass  # stop-pid-test"])
    process.wait()
    assert not stop_pid(process.pid, "stop-pid-test")
