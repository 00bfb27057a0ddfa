"""`ledger bench --network DIR`: final throughput and submit-to-final latency of a network.

Uses the network running from DIR (`ledger network up`), or starts one there
and stops it at the end.  Client processes each sign their own transactions
as the network's members (the demo cast: core, suppliers tier1..tier3, banks
bank_a/bank_b) and drive credentials through the same life as the single-node
bench; worker i submits to node i % 4 and knows the others for fail-over.

A transaction counts once its block is final (signed by nodes of a quorum of
organisations).  An observer thread in this process polls the `final_height`
of one node every 50 ms and keeps the moments it moved; each request's
latency runs from its submission to the first observation at which the
block of its last transaction was final.  Final tx/s is the growth of the
log size (`log_size` in the header of the final block) over the window,
divided by the window.  `rate` paces submissions open-loop across workers.
"""

from __future__ import annotations

import bisect
import json
import multiprocessing
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from client.local_consortium.bench import PASSWORD, Lane, Worker, grant_bench_line, raw_verify_rate
from client.local_consortium.consortium import Consortium
from client.local_consortium.network import (
    NETWORK_FILE,
    any_running,
    network_down,
    network_tls_context,
    network_up,
    network_urls,
)
from client.sdk.keystore import Identity
from client.sdk.participant import Participant

SUPPLIERS = ("tier1", "tier2a", "tier2b", "tier3")
BANKS = ("bank_a", "bank_b")
ACTORS = ("core", *SUPPLIERS, *BANKS)
POLL_S = 0.05


class NetworkWorker(Worker):
    """The single-node bench's worker, acting as the network's members over mutual TLS."""

    def __init__(self, directory: Path, consortium_dir: Path, identities: dict[str, Identity],
                 worker: int, batch: int, password: str, pace: float | None) -> None:
        urls = network_urls(directory)
        ordered = urls[worker % len(urls):] + urls[:worker % len(urls)]
        chain_id = Consortium.open(consortium_dir).chain_id
        # contexts are not picklable: each worker opens its own
        people = {alias: Participant(ordered, identity, chain_id=chain_id,
                                     tls=network_tls_context(directory, alias, password))
                  for alias, identity in identities.items()}
        super().__init__(people, (consortium_dir / "credit_line").read_text().strip(), worker,
                         batch)
        self.requests: list[tuple[float, int, int]] = []  # (submitted, height, tx count)
        self.interval = batch / pace if pace else 0.0
        self.next_at = 0.0

    def send(self, envelopes: list[Any], signer: str) -> list[dict[str, Any]]:
        """Submit one batch (paced if asked), wait for its commit; note when and where."""
        if self.interval:
            now = time.monotonic()
            if self.next_at > now:
                time.sleep(self.next_at - now)
            self.next_at = max(self.next_at, now) + self.interval
        started = time.monotonic()
        results = self.people[signer].submit(envelopes, timeout=60)
        self.latencies.append(time.monotonic() - started)
        height = max(int(status["height"]) for status in results)
        self.requests.append((started, height, len(results)))
        return results

    def _lane(self, index: int) -> Lane:
        pick = (self.worker * 3 + index) % len(SUPPLIERS)
        return Lane(SUPPLIERS[pick], SUPPLIERS[(pick + 1) % len(SUPPLIERS)],
                    SUPPLIERS[(pick + 2) % len(SUPPLIERS)], BANKS[index % 2])


def _worker_main(directory: str, consortium_dir: str, identities: dict[str, Identity],
                 worker: int, batch: int, seconds: float, password: str, pace: float | None,
                 go: Any, queue: Any) -> None:
    try:
        runner = NetworkWorker(Path(directory), Path(consortium_dir), identities, worker,
                               batch, password, pace)
        queue.put(("ready", worker))
        go.wait()
        deadline = time.monotonic() + seconds
        runner.next_at = time.monotonic() + (runner.interval * worker / 4 if pace else 0.0)
        while time.monotonic() < deadline:
            runner.cycle()
        queue.put(("done", runner.requests))
    except Exception as exc:  # report, so the parent does not wait for nothing
        queue.put(("error", f"worker {worker}: {type(exc).__name__}: {exc}"))


class FinalityObserver(threading.Thread):
    """Polls one node's final height every 50 ms; keeps (moment, final height) when it moves."""

    def __init__(self, participant: Participant) -> None:
        super().__init__(daemon=True)
        self.participant = participant
        self.moments: list[float] = []
        self.heights: list[int] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.is_set():
            final = int(self.participant.status()["final_height"])
            moment = time.monotonic()
            with self.lock:
                if not self.heights or final > self.heights[-1]:
                    self.moments.append(moment)
                    self.heights.append(final)
            self.stopping.wait(POLL_S)

    def final_at(self, moment: float) -> int:
        """Return the last observed final height at or before `moment`."""
        with self.lock:
            index = bisect.bisect_right(self.moments, moment) - 1
            return self.heights[max(index, 0)]

    def when_final(self, height: int) -> float | None:
        """Return the first moment block `height` was observed final, if it was."""
        with self.lock:
            index = bisect.bisect_left(self.heights, height)
            return self.moments[index] if index < len(self.heights) else None

    def wait_for(self, height: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.when_final(height) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"block {height} not final after {timeout:.0f} s")
            time.sleep(POLL_S)


def _collect(queue: Any, count: int, timeout: float) -> list[Any]:
    """Return one message's value from each of `count` workers; raise if any failed."""
    values: list[Any] = []
    errors: list[str] = []
    for _ in range(count):
        kind, value = queue.get(timeout=timeout)
        (errors if kind == "error" else values).append(value)
    if errors:
        raise RuntimeError("; ".join(errors))
    return values


def _log_size(participant: Participant, height: int) -> int:
    block = participant.node.get(f"/v1/blocks/{height}")
    return int(block["header"]["log_size"])


def _grant_line(directory: Path, consortium: Consortium, password: str) -> Participant:
    """Have bank_a grant core a credit line for the run; return the auditor's observer."""
    urls = network_urls(directory)

    def member(alias: str, url: str) -> Participant:
        return Participant([url, *[u for u in urls if u != url]],
                           consortium.identity(alias, password), chain_id=consortium.chain_id,
                           tls=network_tls_context(directory, alias, password))

    bank, core = member("bank_a", urls[2 % len(urls)]), member("core", urls[0])
    grant_bench_line(consortium, bank, core)
    bank.close()
    core.close()
    return member("auditor", urls[0])


def run_network_bench(*, directory: Path, seconds: float, batch: int, clients: int,
                      rate: float | None, password: str | None,
                      console: Console) -> dict[str, Any]:
    """Run the network benchmark and print its figures; return them as a dict."""
    directory = directory.resolve()
    password = password or PASSWORD
    described = directory / NETWORK_FILE
    running = False
    if described.exists():
        running = any_running(json.loads(described.read_text(encoding="utf-8")))
    if not running:
        network_up(directory, password)
        console.print(f"started a network in {directory}")
    else:
        console.print(f"using the network running from {directory}")
    try:
        result = _measure(directory, seconds, batch, clients, rate, password, console)
    finally:
        if not running:
            stopped = network_down(directory)
            console.print(f"stopped the network: {len(stopped)} processes")
    result["network_left_running"] = running
    return result


def _measure(directory: Path, seconds: float, batch: int, clients: int, rate: float | None,
             password: str, console: Console) -> dict[str, Any]:
    description = json.loads((directory / NETWORK_FILE).read_text(encoding="utf-8"))
    consortium = Consortium.open(Path(description["consortium"]))
    observer_member = _grant_line(directory, consortium, password)
    identities = {alias: consortium.identity(alias, password) for alias in ACTORS}
    observer = FinalityObserver(observer_member)
    observer.start()
    methods = multiprocessing.get_all_start_methods()
    context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    queue, go = context.Queue(), context.Event()
    pace = rate / clients if rate else None
    procs = [context.Process(target=_worker_main, args=(
        str(directory), str(consortium.directory), identities, w, batch, seconds, password,
        pace, go, queue)) for w in range(clients)]
    for proc in procs:
        proc.start()
    try:
        _collect(queue, len(procs), 120)  # every worker has its keys and connections
        log_at_start = int(observer_member.status()["log_size"])  # nothing else submits now
        started = time.monotonic()
        go.set()
        outcomes = _collect(queue, len(procs), seconds + 300)
        ended = time.monotonic()  # every worker stopped and its last request committed
        for proc in procs:
            proc.join()
        requests: list[tuple[float, int, int]] = [r for out in outcomes for r in out]
        last_height = max(h for _, h, _ in requests)
        observer.wait_for(last_height, timeout=60)
    finally:
        observer.stopping.set()
        observer.join()
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
    submitted = sum(n for _, _, n in requests)
    latencies = sorted((observer.when_final(h) or ended) - t for t, h, _ in requests)

    def final_tx_between(first: float, second: float) -> tuple[int, float]:
        h1, h2 = observer.final_at(first), observer.final_at(second)
        return (_log_size(observer_member, h2) - _log_size(observer_member, h1), second - first)

    final_tx, window = final_tx_between(started, ended)
    steady_tx, steady_window = final_tx_between(started + 0.2 * seconds, started + 0.8 * seconds)
    observer_member.close()
    verify_rate = raw_verify_rate()
    final_rate = final_tx / window
    result = {
        "submitted_tx": submitted, "log_size_at_start": log_at_start, "final_tx": final_tx,
        "window_s": round(window, 2),
        "final_tx_per_s": round(final_rate, 1),
        "steady_final_tx_per_s": round(steady_tx / steady_window, 1),
        "final_latency_p50_ms": round(1000 * statistics.median(latencies), 1),
        "final_latency_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
        "requests": len(requests),
        "raw_ed25519_verify_per_s": round(verify_rate, 1),
        "final_to_verify_ratio": round(final_rate / verify_rate, 3),
        "clients": clients, "batch": batch, "rate_tx_per_s": rate,
    }
    table = Table(title=f"network bench ({len(description['nodes'])} nodes, {clients} clients, "
                        f"batch {batch}, {'rate ' + str(rate) + ' tx/s' if rate else 'unpaced'})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("transactions submitted / final in window",
                  f"{submitted} / {final_tx} in {result['window_s']} s")
    table.add_row("final tx/s (whole window)", str(result["final_tx_per_s"]))
    table.add_row("final tx/s (20%-80% of load)", str(result["steady_final_tx_per_s"]))
    table.add_row("submit-to-final p50 / p99 (ms)",
                  f"{result['final_latency_p50_ms']} / {result['final_latency_p99_ms']} "
                  f"over {len(requests)} requests")
    table.add_row("raw Ed25519 verify/s (one core)", str(result["raw_ed25519_verify_per_s"]))
    table.add_row("final tx/s ÷ raw verify rate", str(result["final_to_verify_ratio"]))
    console.print(table)
    return result
