"""The pipes between the auditing process and its verifier process carry every frame intact.

Frames are written with raw system calls (`_write_all`), never through a
buffered writer: a BufferedWriter writing a ~100 KB frame into a pipe, in a
process that receives signals (a profiler, a debugger, a terminal), was
seen to lose bytes, and the verifier's answers then stopped decoding.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from client.audit.verifier import _read_frame, _write_all

ROOT = Path(__file__).resolve().parents[3]
SIGNALLED_WRITER = """
import os, signal, sys
from client.audit.verifier import _answer, Verdicts
signal.signal(signal.SIGUSR1, lambda *a: None)
print("ready", file=sys.stderr, flush=True)
for i in range(200):
    _answer(sys.stdout.buffer, Verdicts(parsed=[(os.urandom(32).hex(), os.urandom(32))
                                                for _ in range(1500)], checked=i))
"""


def test_every_buffer_is_written_whole_and_in_order_through_a_small_pipe() -> None:
    buffers = [bytes([i % 251]) * (i * 37 % 5000) for i in range(3000)]  # past IOV_MAX
    read, write = os.pipe()
    received = bytearray()

    def drain() -> None:
        while chunk := os.read(read, 1 << 16):
            received.extend(chunk)
    reader = threading.Thread(target=drain)
    reader.start()
    _write_all(write, buffers)
    os.close(write)
    reader.join()
    os.close(read)
    assert bytes(received) == b"".join(buffers)


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs POSIX signals")
def test_answers_arrive_intact_from_a_verifier_that_keeps_being_signalled() -> None:
    process = subprocess.Popen([sys.executable, "-c", SIGNALLED_WRITER], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stderr is not None and process.stderr.readline().startswith(b"ready")
    stop = threading.Event()

    def pester() -> None:
        while not stop.is_set() and process.poll() is None:
            process.send_signal(signal.SIGUSR1)
            time.sleep(0.0002)
    pesterer = threading.Thread(target=pester)
    pesterer.start()
    try:
        checked = []
        for _ in range(200):
            time.sleep(0.001)  # let the pipe fill, so that writes block and get interrupted
            checked.append(_read_frame(process.stdout).checked)
    finally:
        stop.set()
        pesterer.join()
        process.kill()
        process.wait()
    assert checked == list(range(200))
