"""`ledger bench`: committed throughput and latency of one node over HTTP.

A fresh consortium (a core enterprise, twelve suppliers, two banks, an
auditor) and one node process on loopback with SQLite.  Several client
processes each drive credentials through a realistic life in lock-step
batches: issue, accept, split to a second supplier, pay a third, ask a bank to
finance, the bank's terms, acceptance of the terms, the disbursement.  Every
request carries a batch of signed transactions and waits for their commit.
The figures: committed transactions per second (from the node's own log),
request latency p50/p99 (submit to commit), and, measured in the same run,
the machine's raw Ed25519 verification rate and the ratio of the two.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import nacl.signing
from rich.console import Console

from client.local_consortium.consortium import Consortium, init_consortium
from client.local_consortium.launcher import start_node
from client.local_consortium.spec import OrgSpec
from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from contracts.receivable.commands import OfferTerms
from contracts.receivable.financing import priced_terms, terms_hash
from contracts.records import derived_id
from ledger.membership import Role

PASSWORD = "bench-only-password"
SUPPLIERS = 12
PIECE = 600_000  # what each tier pays the next, and so the financed note's face (fen)


def raw_verify_rate(seconds: float = 1.0) -> float:
    """Return Ed25519 verifications per second on one core (PyNaCl), measured now."""
    key = nacl.signing.SigningKey(b"\x01" * 32)
    message = b"x" * 400
    signature = key.sign(message).signature
    verify = key.verify_key.verify
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(200):
            verify(message, signature)
        count += 200
    return count / (time.perf_counter() - started)


def process_cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process and its reaped children have used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _steady_rate(observer: Participant, started: float, seconds: float) -> float:
    """Return committed tx/s between 20% and 80% of the load period, read from the node."""
    def log_size_at(moment: float) -> tuple[float, int]:
        time.sleep(max(0.0, moment - time.perf_counter()))
        return time.perf_counter(), int(observer.status()["log_size"])

    t1, s1 = log_size_at(started + 0.2 * seconds)
    t2, s2 = log_size_at(started + 0.8 * seconds)
    return (s2 - s1) / (t2 - t1)


def grant_line(bank: Participant, core: Participant) -> str:
    """Have the bank grant core a year's credit line too large to run out; return its id."""
    prepared = core.cosign(bank.propose_credit_line(
        core=core.uscc, limit=9_000_000_000_000_000, currency="CNY",
        expiry_date=(datetime.now(UTC).date() + timedelta(days=365)).isoformat()))
    status = bank.submit([prepared.envelope()])[0]
    return str(bank.transaction(status["tx_id"])["events"][0]["credit_line"])


def grant_bench_line(consortium: Consortium, bank: Participant, core: Participant) -> None:
    """Grant the bench's credit line (`grant_line`) and note its id.

    The workers read the line id from `credit_line` in the consortium directory.
    """
    (consortium.directory / "credit_line").write_text(grant_line(bank, core))


def _cast() -> list[OrgSpec]:
    cast = [OrgSpec("Bench Core Enterprise", (Role.CORE_ENTERPRISE,), alias="core")]
    cast += [OrgSpec(f"Bench Supplier {i}", (Role.SUPPLIER,), alias=f"s{i}")
             for i in range(SUPPLIERS)]
    cast += [OrgSpec("Bench Bank A", (Role.BANK,), alias="bank_a"),
             OrgSpec("Bench Bank B", (Role.BANK,), alias="bank_b"),
             OrgSpec("Bench Auditor", (Role.AUDITOR,), alias="auditor")]
    return cast


@dataclass
class Lane:
    """One credential moving through the stages."""

    holder: str
    second: str
    third: str
    bank: str
    note: str = ""
    financing: str = ""
    maturity: str = ""
    terms_hash: str = ""


class Worker:
    """Drives credentials through their life in lock-step batches."""

    def __init__(self, people: dict[str, Participant], line: str, worker: int,
                 batch: int) -> None:
        """Drive credentials as `people` (by alias: core, s0..s11, bank_a, bank_b) on `line`."""
        self.people = people
        self.worker = worker
        self.batch = batch
        self.serial = 0
        self.latencies: list[float] = []
        self.line = line

    @classmethod
    def of_consortium(cls, url: str, directory: Path, identities: dict[str, Identity],
                      worker: int, batch: int) -> Worker:
        """Return a worker for the local consortium in `directory` (its line in `credit_line`)."""
        chain_id = Consortium.open(directory).chain_id
        people = {alias: Participant(url, identity, chain_id=chain_id)
                  for alias, identity in identities.items()}
        return cls(people, (directory / "credit_line").read_text().strip(), worker, batch)

    def send(self, envelopes: list[Any], signer: str) -> list[dict[str, Any]]:
        """Submit one batch and wait for its commit; record the latency."""
        started = time.perf_counter()
        results = self.people[signer].submit(envelopes, timeout=60)
        self.latencies.append(time.perf_counter() - started)
        return results

    def cycle(self) -> int:
        """Run `batch` credentials through all stages; return transactions committed."""
        lanes = [self._lane(i) for i in range(self.batch)]
        steps: list[Callable[[list[Lane]], int]] = [
            self._issue, self._accept, self._split, self._pay_on, self._request,
            self._offer, self._accept_terms, self._confirm]
        return sum(step(lanes) for step in steps)

    def _lane(self, index: int) -> Lane:
        pick = (self.worker * 7 + index) % SUPPLIERS
        return Lane(f"s{pick}", f"s{(pick + 1) % SUPPLIERS}", f"s{(pick + 2) % SUPPLIERS}",
                    "bank_a" if index % 2 else "bank_b")

    def _issue(self, lanes: list[Lane]) -> int:
        core = self.people["core"]
        maturity = (datetime.now(UTC).date() + timedelta(days=120)).isoformat()
        envelopes = []
        for lane in lanes:
            self.serial += 1
            number = f"W{self.worker}-{self.serial}-{time.time_ns()}"
            trade = {"contract_no": f"PO-{number}", "documents": [], "invoices": [
                {"seller": self.people[lane.holder].uscc, "number": number,
                 "amount": 1_000_000, "allocated": 1_000_000}]}
            envelopes.append(core.prepare("receivable", "issue", {
                "credit_line": self.line, "to": self.people[lane.holder].uscc,
                "amount": 1_000_000, "currency": "CNY", "maturity_date": maturity,
                "trade": trade}).envelope())
        results = self.send(envelopes, "core")
        for lane, envelope in zip(lanes, envelopes, strict=True):
            lane.note, lane.maturity = _first_output(envelope.tx_id), maturity
        return len(results)

    def _single(self, lanes: list[Lane], who: Callable[[Lane], str], action: str,
                args: Callable[[Lane], dict[str, Any]]) -> list[Any]:
        envelopes = [self.people[who(lane)].prepare("receivable", action, args(lane)).envelope()
                     for lane in lanes]
        self.send(envelopes, who(lanes[0]))
        return envelopes

    def _accept(self, lanes: list[Lane]) -> int:
        return len(self._single(lanes, lambda ln: ln.holder, "accept",
                                lambda ln: {"receivable": ln.note}))

    def _split(self, lanes: list[Lane]) -> int:
        return self._pay(lanes, lambda ln: ln.holder, lambda ln: ln.second)

    def _pay_on(self, lanes: list[Lane]) -> int:
        return self._pay(lanes, lambda ln: ln.second, lambda ln: ln.third)

    def _pay(self, lanes: list[Lane], payer: Callable[[Lane], str],
             payee: Callable[[Lane], str]) -> int:
        """Each lane's note holder pays 6,000.00 to the next tier; follow the paid piece."""
        envelopes = self._single(lanes, payer, "transfer", lambda ln: {
            "note": ln.note,
            "payments": [{"to": self.people[payee(ln)].uscc, "amount": PIECE}]})
        for lane, envelope in zip(lanes, envelopes, strict=True):
            lane.note = _first_output(envelope.tx_id)
        return len(envelopes)

    def _request(self, lanes: list[Lane]) -> int:
        envelopes = self._single(lanes, lambda ln: ln.third, "request_financing", lambda ln: {
            "note": ln.note, "bank": self.people[ln.bank].uscc})
        for lane, envelope in zip(lanes, envelopes, strict=True):
            lane.financing = derived_id(envelope.tx_id, 0, "financing")
        return len(envelopes)

    def _offer(self, lanes: list[Lane]) -> int:
        today = datetime.now(UTC).date()
        for lane in lanes:  # the terms, and so the hash the seller accepts, follow from the offer
            offer = OfferTerms(lane.financing, "2.50", today, 0, "seller", False, None, False)
            lane.terms_hash = terms_hash(priced_terms(
                offer, face=PIECE, maturity=date.fromisoformat(lane.maturity)))
        return len(self._single(lanes, lambda ln: ln.bank, "offer_terms", lambda ln: {
            "financing": ln.financing, "annual_rate_percent": "2.50",
            "funding_date": today.isoformat(), "fees": 0, "fee_payer": "seller",
            "recourse": False}))

    def _accept_terms(self, lanes: list[Lane]) -> int:
        return len(self._single(lanes, lambda ln: ln.third, "accept_terms",
                                lambda ln: {"financing": ln.financing,
                                            "terms_hash": ln.terms_hash}))

    def _confirm(self, lanes: list[Lane]) -> int:
        return len(self._single(lanes, lambda ln: ln.bank, "confirm_disbursement",
                                lambda ln: {"financing": ln.financing,
                                            "payment_ref": f"PAY-{ln.financing[:12]}"}))


def _first_output(tx_id: str) -> str:
    return derived_id(tx_id, 0)


def _worker_main(url: str, directory: str, identities: dict[str, Identity], worker: int,
                 batch: int, seconds: float, queue: Any) -> None:
    runner = Worker.of_consortium(url, Path(directory), identities, worker, batch)
    deadline = time.monotonic() + seconds
    committed = 0
    while time.monotonic() < deadline:
        committed += runner.cycle()
    queue.put((committed, runner.latencies))


def _setup(directory: Path, console: Console) -> Any:
    consortium = init_consortium(directory / "consortium", password=PASSWORD,
                                 chain_id="bench", cast=_cast(),
                                 genesis_time=datetime.now(UTC).replace(microsecond=0)
                                 - timedelta(minutes=10),
                                 policies={"max_children": 20})
    node = start_node(genesis=consortium.genesis_path,
                      database_url=f"sqlite:///{directory / 'node.db'}",
                      orderer=directory / "orderer.db", log_path=directory / "node.log")
    bank = Participant(node.url, consortium.identity("bank_a", PASSWORD))
    core = Participant(node.url, consortium.identity("core", PASSWORD))
    grant_bench_line(consortium, bank, core)
    console.print(f"node {node.url} up; consortium of {len(consortium.orgs)} members")
    return node, consortium, bank


def run_bench(*, seconds: float, batch: int, clients: int, console: Console) -> dict[str, Any]:
    """Run the benchmark and print its figures; return them as a dict."""
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as scratch:
        directory = Path(scratch)
        node, consortium, observer = _setup(directory, console)
        try:
            # keystores are opened (scrypt) before the clock starts: that is
            # set-up, not load, and would otherwise cost each client seconds
            identities = {alias: consortium.identity(alias, PASSWORD)
                          for alias in consortium.orgs}
            start_size = observer.status()["log_size"]
            start_cpu = process_cpu_seconds(node.process.pid)
            clients_before = _children_cpu_seconds()
            # fork where the platform has it: the workers then start without
            # re-importing the client stack inside the measured window
            methods = multiprocessing.get_all_start_methods()
            context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            queue = context.Queue()
            started = time.perf_counter()
            procs = [context.Process(target=_worker_main, args=(
                node.url, str(consortium.directory), identities, w, batch, seconds, queue))
                for w in range(clients)]
            for proc in procs:
                proc.start()
            steady = _steady_rate(observer, started, seconds)
            outcomes = [queue.get(timeout=seconds + 300) for _ in procs]
            elapsed = time.perf_counter() - started
            for proc in procs:
                proc.join()
            end_size = observer.status()["log_size"]
            node_cpu = process_cpu_seconds(node.process.pid) - start_cpu
            client_cpu = _children_cpu_seconds() - clients_before
        finally:
            node.stop()
        committed = end_size - start_size
        latencies = sorted(lat for _, lats in outcomes for lat in lats)
        verify_rate = raw_verify_rate()
        result = {
            "committed_tx": committed, "seconds": round(elapsed, 2),
            "committed_tx_per_s": round(committed / elapsed, 1),
            "steady_committed_tx_per_s": round(steady, 1),
            "latency_p50_ms": round(1000 * statistics.median(latencies), 1),
            "latency_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
            "raw_ed25519_verify_per_s": round(verify_rate, 1),
            "committed_to_verify_ratio": round(committed / elapsed / verify_rate, 3),
            "node_cpu_us_per_tx": round(1e6 * node_cpu / max(committed, 1), 1),
            "client_cpu_us_per_tx": round(1e6 * client_cpu / max(committed, 1), 1),
            "clients": clients, "batch": batch,
        }
    console.print(
        f"committed {result['committed_tx']} transactions in {result['seconds']} s: "
        f"{result['committed_tx_per_s']} tx/s over the whole run (start-up and drain "
        f"included), [bold]{result['steady_committed_tx_per_s']} tx/s[/] steady "
        f"(middle of the run, all clients busy); request latency (submit to commit) "
        f"p50 {result['latency_p50_ms']} ms, p99 {result['latency_p99_ms']} ms; raw Ed25519 "
        f"verify {result['raw_ed25519_verify_per_s']}/s on one core; ratio "
        f"{result['committed_to_verify_ratio']}; node main process CPU "
        f"{result['node_cpu_us_per_tx']} us per committed transaction (clients "
        f"{result['client_cpu_us_per_tx']} us)")
    return result
