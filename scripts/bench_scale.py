"""Benchmark how the node scales with its history (issue 17): the same figures at each chain size.

    python scripts/bench_scale.py [--sizes 100000,1000000] [--keep DIR] [--load-minutes 10]
                                  [--clients 4] [--batch 100] [--orderer etcd|embedded]

For each size a chain of that many transactions of the realistic mix is
built in-process with the node's own Chain (scripts/sample_chain.py: issue,
accept, two transfers, financing request, terms, acceptance, disbursement,
settlement at maturity, signed batches, two attesting nodes).  With --keep
the built chains stay in DIR and the next run reuses them (the node always
runs on a copy).  Then, per size:

- the database's bytes per transaction, in all and per table (indexes with
  their table);
- a real node process (`python -m node serve`, the sample's registered
  node1) is started on the copy, ordering through a fresh etcd cluster of
  --etcd-members members (or the embedded log): its start-up time (process
  start to /v1/health answering, which it does once it has loaded its state)
  and its resident memory (with its signature workers) after start;
- --load-minutes of load: --clients processes drive credentials through
  their life (`ledger bench`'s workers, signing as the sample's members) in
  requests of --batch transactions, while one thread reads holdings and
  notes through the SDK, one signed request at a time; then committed tx/s,
  the reads' p99, and the node's and each etcd member's memory;
- the node's database, exported (node/storage/chain_lines.py), is audited by
  `ledger audit` in its own process: transactions verified per second and the
  auditor's peak memory (with its verifier process).

Last, the ratios between the smallest and the largest size and a verdict per
acceptance criterion of issue 17 (those comparing sizes are not measured
with one size).  The exit status is 1 if a criterion is missed, else 0.
These are figures to read, not a test: the machine's other work moves them
(see docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson

from client.local_consortium.bench import Worker, grant_line
from client.local_consortium.etcd_cluster import EtcdMember, start_etcd_cluster, stop_members
from client.local_consortium.launcher import NodeProcess, free_port, node_command
from client.sdk.http import NodeError
from client.sdk.keystore import Identity
from client.sdk.participant import Participant
from ledger.block import BlockHeader
from ledger.canonical import parse_json
from node.storage.chain_lines import export_database
from node.storage.store import Store
from scripts.sample_chain import (
    SAMPLE_CHAIN_ID,
    SUPPLIERS,
    build_sample_chain,
    current_keys,
    load_core,
    sample_genesis,
    sample_node_keys,
    sample_orgs,
)
from scripts.scale_probes import MB, PeakRss, Reader, audit_file, p99, rss_bytes, table_bytes

START_TIMEOUT_S = 1800.0
RSS_LIMIT = 500 * MB
BYTES_PER_TX_LIMIT = 1_500
START_LIMIT_S = 10.0
SPREAD = 0.20  # "within 20 %": the smaller figure is at least 80 % of the larger


@dataclass(frozen=True)
class Built:
    """A built chain kept on disk."""

    database: Path
    txs: int
    height: int
    position: int
    build_rate: float  # transactions per second through Chain.apply_batch (0: reused, unknown)


def built_chain(folder: Path, txs: int, lanes: int) -> Built:
    """Return the chain of about `txs` transactions in `folder`, building it if it is not there."""
    database = folder / f"chain-{txs}.db"
    facts = folder / f"chain-{txs}.built.json"
    if not (database.exists() and facts.exists()):
        for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            stale.unlink(missing_ok=True)
        print(f"building a chain of {txs:,} transactions ...", flush=True)
        made = build_sample_chain(f"sqlite:///{database}", transactions=txs, lanes=lanes)
        facts.write_bytes(orjson.dumps({"log_size": made.log_size, "height": made.height,
                                        "seconds": made.seconds}))
    known = orjson.loads(facts.read_bytes())
    rate = known["log_size"] / known["seconds"] if known.get("seconds") else 0.0
    built = Built(database, int(known["log_size"]), int(known["height"]),
                  _head_position(database, int(known["height"])), rate)
    print(f"chain of {built.txs:,} transactions in {built.height + 1:,} blocks (built at "
          f"{built.build_rate:,.0f} tx/s through Chain.apply_batch)", flush=True)
    return built


def _head_position(database: Path, height: int) -> int:
    """Return the ordering position of block `height` in `database`."""
    store = Store(f"sqlite:///{database}")
    try:
        header = store.block_header(height)
    finally:
        store.close()
    if header is None:
        raise RuntimeError(f"{database} has no block {height}")
    return BlockHeader.from_json(parse_json(header)).position


# -- the ordering service ---------------------------------------------------------------


@contextmanager
def ordering(run: Path, kind: str, members: int, after: int) -> Iterator[tuple[list[str],
                                                                              list[EtcdMember]]]:
    """Yield the node's ordering arguments and etcd members, positioned after `after`.

    The chain was built without an ordering log, so its blocks sit at
    positions up to `after`; a fresh log must hand out later positions, or
    the node would take new batches for ones it already has.  The embedded
    log gets one empty placeholder row at `after` (never read: the node
    reads after its head); etcd's revision is moved past it with puts to a
    key outside the node's prefix.
    """
    if kind == "embedded":
        path = run / "orderer.db"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE IF NOT EXISTS batches "
                       "(position INTEGER PRIMARY KEY, data BLOB NOT NULL)")
            db.execute("INSERT INTO batches VALUES (?, ?)", (after, b""))
        yield ["--orderer", str(path)], []
        return
    cluster = start_etcd_cluster(run / "etcd", size=members)
    try:
        _raise_revision(cluster[0].client_url, after)
        yield ["--etcd", ",".join(m.client_url for m in cluster)], cluster
    finally:
        stop_members(cluster)


def _raise_revision(url: str, past: int) -> None:
    """Put to a filler key until etcd's revision is beyond `past`."""
    body = {"key": base64.b64encode(b"bench-scale/filler").decode(),
            "value": base64.b64encode(b"-").decode()}
    with httpx.Client(timeout=10) as client:
        revision = 0
        while revision <= past:
            answer = client.post(f"{url}/v3/kv/put", json=body)
            answer.raise_for_status()
            revision = int(answer.json()["header"]["revision"])


# -- the node ---------------------------------------------------------------------------


def start_node_timed(run: Path, database: Path, orderer_args: list[str]) -> tuple[NodeProcess,
                                                                                 float]:
    """Start node1 on `database`; return it and the seconds until /v1/health answered.

    Raises RuntimeError if it exits or does not answer within START_TIMEOUT_S.
    """
    genesis, key = run / "genesis.json", run / "node1.key"
    genesis.write_bytes(orjson.dumps(sample_genesis().to_json()))
    key.write_text(sample_node_keys()["node1"].seed.hex())
    port, log = free_port(), run / "node.log"
    command = node_command("serve", "--genesis", str(genesis), "--database",
                           f"sqlite:///{database}", "--port", str(port), "--node-id", "node1",
                           "--node-key", str(key), *orderer_args)
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    node = NodeProcess(process, f"http://127.0.0.1:{port}", log)
    while time.perf_counter() - started < START_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"the node exited during start-up:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(node.url + "/v1/health", timeout=1.0).status_code == 200:
                return node, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    node.kill()
    raise RuntimeError(f"the node did not answer within {START_TIMEOUT_S:.0f} s")


def people(url: str) -> dict[str, Participant]:
    """Return a participant for each sample organisation, and `core2`, on the node at `url`."""
    keys = current_keys()
    cast = {alias: Identity(org.uscc, alias, keys[alias]) for alias, org in sample_orgs().items()}
    second = load_core()
    cast[second.alias] = Identity(second.uscc, second.alias, second.key)
    return {alias: Participant(url, identity, chain_id=SAMPLE_CHAIN_ID)
            for alias, identity in cast.items()}


def admit_load_core(cast: dict[str, Participant]) -> str:
    """Have the sample's core admit `core2` by governance (if not yet a member); return its line.

    The load's credentials are issued by core2 on a fresh credit line from
    bank_a (the sample's core has overdue credentials and may issue no more).
    """
    second = load_core()
    if second.uscc not in {m["uscc"] for m in cast["core"].members()}:
        cast["core"].act("propose", contract="governance",
                         change={"kind": "add_member", "member": second.member().to_json()})
    return grant_line(cast["bank_a"], cast[second.alias])


def _load_main(url: str, line: str, worker: int, batch: int, seconds: float,
               queue: Any) -> None:
    """Run one load worker for `seconds`; put ("done", (lost, first loss)) or ("error", why).

    A request the node did not answer (status 0: a connection reset, say)
    abandons its cycle's credentials; the worker counts it and starts a new
    cycle.  Any other error ends the worker.
    """
    try:
        cast = people(url)
        cast["core"] = cast[load_core().alias]  # the workers issue as "core"
        runner = Worker(cast, line, worker, batch)
        deadline, lost, first = time.monotonic() + seconds, 0, ""
        while time.monotonic() < deadline:
            try:
                runner.cycle()
            except NodeError as exc:
                if exc.status != 0:
                    raise
                lost, first = lost + 1, first or f"worker {worker}: {exc}"
        queue.put(("done", (lost, first)))
    except Exception as exc:  # report, so the parent does not wait for nothing
        queue.put(("error", f"worker {worker}: {type(exc).__name__}: {exc}"))


@dataclass(frozen=True)
class Load:
    """What a period of load gave."""

    committed: int
    seconds: float
    holdings_p99_ms: float
    note_p99_ms: float
    reads: int
    read_errors: tuple[str, ...]
    peak_rss: int
    lost_requests: int = 0  # load requests the node did not answer (their cycle abandoned)
    lost_first: tuple[str, ...] = ()


def note_pool(auditor: Participant, holders: list[str], each: int = 200) -> list[str]:
    """Return ids of notes of any status held by `holders` (the history the reads draw on)."""
    return [n["id"] for uscc in holders
            for n in auditor.notes(holder=uscc, status=None, limit=each)]


def run_load(node: NodeProcess, seconds: float, clients: int, batch: int) -> Load:
    """Load the node for `seconds` with `clients` workers and a reader; return the figures."""
    cast = people(node.url)
    line = admit_load_core(cast)
    suppliers = [cast[f"s{i}"] for i in range(SUPPLIERS)]
    reader = Reader(suppliers, cast["auditor"],
                    note_pool(cast["auditor"], [p.uscc for p in suppliers[:4]]))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    size_before = int(cast["auditor"].status()["log_size"])
    watch = PeakRss(node.process.pid, every=2.0)
    started = time.perf_counter()
    workers = [context.Process(target=_load_main, args=(node.url, line, w, batch, seconds,
                                                        queue)) for w in range(clients)]
    for process in workers:
        process.start()
    reader.start()
    watch.start()
    outcomes = [queue.get(timeout=seconds + 600) for _ in workers]
    reader.stop()
    for process in workers:
        process.join()
    elapsed = time.perf_counter() - started
    peak = watch.stop()
    failed = [str(why) for kind, why in outcomes if kind == "error"]
    if failed:
        raise RuntimeError("; ".join(failed))
    lost = [why for _, why in outcomes]
    committed = int(cast["auditor"].status()["log_size"]) - size_before
    return Load(committed, elapsed, p99(reader.holdings_ms), p99(reader.note_ms),
                len(reader.holdings_ms) + len(reader.note_ms), tuple(reader.errors[:3]), peak,
                sum(n for n, _ in lost), tuple(first for _, first in lost if first))


# -- one size ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Everything measured at one chain size."""

    txs: int
    build_rate: float
    db_bytes: int
    tables: dict[str, int]
    startup_s: float
    rss_start: int
    rss_loaded: int
    load: Load
    etcd_start: tuple[int, ...]
    etcd_loaded: tuple[int, ...]
    audit_tx_per_s: float
    audit_rss: int
    audit_passed: bool

    @property
    def bytes_per_tx(self) -> float:
        """Return the built database's bytes per transaction."""
        return self.db_bytes / self.txs

    @property
    def tx_per_s(self) -> float:
        """Return the committed transactions per second under load."""
        return self.load.committed / self.load.seconds


def _copy_database(built: Built, run: Path) -> Path:
    """Copy the built database (and any WAL) into `run`; return the copy's path."""
    target = run / "node.db"
    shutil.copyfile(built.database, target)
    wal = Path(f"{built.database}-wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{target}-wal"))
    return target


def measure(built: Built, run: Path, options: argparse.Namespace) -> Figures:
    """Serve, load and audit one built chain in `run`; print and return the figures."""
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    tables = table_bytes(built.database)
    db_bytes = built.database.stat().st_size
    database = _copy_database(built, run)
    with ordering(run, options.orderer, options.etcd_members, built.position) as (args, etcd):
        node, startup = start_node_timed(run, database, args)
        try:
            rss_start = rss_bytes(node.process.pid)
            etcd_start = tuple(rss_bytes(m.pid) for m in etcd)
            print(f"  node ready in {startup:.1f} s, RSS {rss_start / MB:,.0f} MB; loading for "
                  f"{options.load_minutes:g} min ...", flush=True)
            load = run_load(node, 60 * options.load_minutes, options.clients, options.batch)
            rss_loaded = rss_bytes(node.process.pid)
            etcd_loaded = tuple(rss_bytes(m.pid) for m in etcd)
        finally:
            node.stop(timeout=60)
    chain = run / "chain.jsonl"
    with chain.open("wb") as out:
        export_database(f"sqlite:///{database}", out)
    audit = audit_file(chain, run / "audit.log")
    for bulky in (chain, database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        bulky.unlink(missing_ok=True)  # gigabytes at a million transactions; logs stay
    return Figures(built.txs, built.build_rate, db_bytes, tables, startup, rss_start,
                   rss_loaded, load, etcd_start, etcd_loaded, audit.tx_per_s, audit.peak_rss,
                   audit.passed)


# -- printing ---------------------------------------------------------------------------


def _mb(values: tuple[int, ...]) -> str:
    return ", ".join(f"{v / MB:,.0f}" for v in values) or "-"


def print_size(f: Figures) -> None:
    """Print the figures of one size."""
    print(f"\n== {f.txs:,} transactions ==")
    print(f"database: {f.db_bytes / MB:,.1f} MB, {f.bytes_per_tx:,.0f} bytes per transaction")
    for table, size in f.tables.items():
        print(f"  {table:<24} {size / MB:>9,.1f} MB  {size / f.txs:>7,.0f} B/tx")
    print(f"start-up: {f.startup_s:.1f} s (process start to /v1/health)")
    print(f"node RSS: {f.rss_start / MB:,.0f} MB after start, {f.rss_loaded / MB:,.0f} MB after "
          f"{f.load.seconds / 60:.1f} min of load (peak {f.load.peak_rss / MB:,.0f} MB)")
    print(f"committed: {f.load.committed:,} transactions in {f.load.seconds:.0f} s = "
          f"{f.tx_per_s:,.0f} tx/s")
    if f.load.lost_requests:
        print(f"unanswered load requests: {f.load.lost_requests} ({'; '.join(f.load.lost_first)})")
    print(f"reads under load: holdings p99 {f.load.holdings_p99_ms:,.0f} ms, note p99 "
          f"{f.load.note_p99_ms:,.0f} ms over {f.load.reads:,} reads"
          + (f"; failed: {'; '.join(f.load.read_errors)}" if f.load.read_errors else ""))
    print(f"etcd member RSS (MB): {_mb(f.etcd_start)} after start, {_mb(f.etcd_loaded)} "
          "after load")
    print(f"audit: {f.audit_tx_per_s:,.0f} tx/s, auditor peak RSS {f.audit_rss / MB:,.0f} MB, "
          f"{'passed' if f.audit_passed else 'FAILED'}")
    if f.build_rate:
        print(f"build: {f.build_rate:,.0f} tx/s, so 1,000,000 transactions take "
              f"~{1_000_000 / f.build_rate / 60:,.0f} min")


def _ratio(first: float, last: float) -> str:
    return f"{last / first:.2f}" if first else "-"


def print_ratios(first: Figures, last: Figures) -> None:
    """Print the largest size's figures over the smallest's."""
    print(f"\n== ratios, {last.txs:,} over {first.txs:,} transactions ==")
    print(f"node RSS after load {_ratio(first.rss_loaded, last.rss_loaded)}, after start "
          f"{_ratio(first.rss_start, last.rss_start)}; start-up "
          f"{_ratio(first.startup_s, last.startup_s)}; committed tx/s "
          f"{_ratio(first.tx_per_s, last.tx_per_s)}; bytes per transaction "
          f"{_ratio(first.bytes_per_tx, last.bytes_per_tx)}; audit tx/s "
          f"{_ratio(first.audit_tx_per_s, last.audit_tx_per_s)}; auditor RSS "
          f"{_ratio(first.audit_rss, last.audit_rss)}")


def _within(values: list[float]) -> bool | None:
    """Return whether the smallest value is within SPREAD of the largest (None: one value)."""
    return None if len(values) < 2 else min(values) >= (1 - SPREAD) * max(values)


def verdicts(sizes: list[Figures]) -> list[tuple[str, bool | None]]:
    """Return each acceptance criterion of issue 17 with whether these figures meet it.

    None: not measured (a comparison across sizes, with one size).
    """
    rss = [f.rss_loaded for f in sizes]
    return [
        ("node RSS < 500 MB at every size",
         max(max(rss), *(f.rss_start for f in sizes)) < RSS_LIMIT),
        ("node RSS within 20 % across sizes", _within([float(v) for v in rss])),
        ("start-up < 10 s at every size", all(f.startup_s < START_LIMIT_S for f in sizes)),
        ("committed tx/s within 20 % across sizes", _within([f.tx_per_s for f in sizes])),
        ("database <= 1.5 KB per transaction",
         all(f.bytes_per_tx <= BYTES_PER_TX_LIMIT for f in sizes)),
    ]


# -- the command ------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",")})
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"give sizes as 100000,1000000 ({exc})") from exc
    if sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be at least 1")
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_sizes, default=[100_000, 1_000_000],
                        help="chain sizes in transactions, comma-separated (10000000 on request)")
    parser.add_argument("--keep", type=Path, help="keep built chains in this folder and reuse them")
    parser.add_argument("--load-minutes", type=float, default=10.0, help="minutes of load")
    parser.add_argument("--clients", type=int, default=4, help="load client processes")
    parser.add_argument("--batch", type=int, default=100, help="transactions per request")
    parser.add_argument("--lanes", type=int, default=400, help="transactions per built block")
    parser.add_argument("--orderer", choices=("etcd", "embedded"), default="etcd")
    parser.add_argument("--etcd-members", type=int, default=3)
    options = parser.parse_args(argv)
    if options.load_minutes <= 0 or options.clients < 1 or options.batch < 1:
        parser.error("--load-minutes, --clients and --batch must be positive")
    return options


def main(argv: list[str] | None = None) -> int:
    """Measure every size; print the figures, ratios and verdicts; 1 if a criterion is missed."""
    options = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
        folder = options.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        measured = []
        for txs in options.sizes:
            built = built_chain(folder, txs, options.lanes)
            measured.append(measure(built, folder / f"run-{txs}", options))
            print_size(measured[-1])
        if len(measured) > 1:
            print_ratios(measured[0], measured[-1])
        results = verdicts(measured)
    print()
    for criterion, met in results:
        print(f"{criterion}: {_VERDICT[met]}")
    return 1 if any(met is False for _, met in results) else 0


_VERDICT = {True: "MET", False: "MISSED", None: "NOT MEASURED (one size)"}


if __name__ == "__main__":
    sys.exit(main())
