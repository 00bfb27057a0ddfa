"""Benchmark the web console's pages on a 100,000-transaction chain: p50, p95, max per page.

    python scripts/bench_console.py [--txs 100000] [--lanes 400] [--requests 50] [--dir DIR]
                                    [--page NAME=ALIAS:PATH ...]

The chain is built in-process with the node's own Chain (scripts/sample_chain.py:
signed batches, two attesting nodes, ~11,000 credentials through their whole
life), plus one live credential split 8 levels deep (97 notes, the policy's
deepest).  A real node
process (`python -m node serve`, the sample's registered node `node1`, its key,
an empty embedded log) then serves that database, and a real console process
(`ledger console start`) for each organisation a page needs stands in front of
it, with a viewer signed in over HTTP.  Each page is fetched `--requests` times
one after the other (after three warm-up fetches) and its render time, request
to last byte, printed as p50, p95 and max in ms, with whether p95 is under the
300 ms target.  A page that answers 404 does not exist yet and is reported as
skipped.  With --dir the database is kept there and reused by the next run (the
node serves a copy).

The pages (`--page` replaces them; `{credential}` is the deep credential's id):
the core enterprise's dashboard, the deep credential's page as its issuer sees
it (the whole tree), the explorer's block list as the auditor sees it, and its
checkpoint history (the newest page and one further back: 20 checkpoints each,
one node request each).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson

from client.console import users
from client.console.config import config_text, load_config
from client.console.store import open_database
from client.local_consortium.launcher import NodeProcess, start_node
from client.sdk.keystore import Identity, save_keystore
from client.sdk.participant import Participant
from contracts.records import derived_id
from scripts.sample_chain import (
    SUPPLIERS,
    SampleBuilder,
    build_sample_chain,
    sample_genesis,
    sample_node_keys,
    sample_orgs,
)

TARGET_MS = 300.0
WARM_UP = 3
DEEP_FACE = 10_000_000_000  # 100,000,000.00 CNY: halved at each level, well above the minimum
DEEP_LEVELS = 8  # the deepest split tree the policy allows
DEEP_SMALL = 10  # small pieces paid at each level, besides the half
PAGES = (  # name, whose console, path: one line per page
    ("dashboard", "core", "/"),
    ("credential", "core", "/credentials/{credential}"),
    ("explorer blocks", "auditor", "/explorer"),
    ("checkpoints", "auditor", "/explorer/checkpoints"),  # 20 checkpoints from the node
    ("checkpoints back", "auditor", "/explorer/checkpoints?before=161"),  # further back
)
KEYSTORE_PASSWORD = "bench-console-keystore"
VIEWER, VIEWER_PASSWORD = "bench", "bench-viewer-password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def deep_credential(b: SampleBuilder, line: str) -> str:
    """Issue s0 a credential and split it DEEP_LEVELS deep; return its id.

    At each level the holder of the largest piece pays half of it to the next
    supplier and a fortieth to each of ten others, and keeps a quarter; the
    next level goes on from the half: 97 notes, as deep as the policy allows.
    Nothing of it is paid: it stays live.
    """
    maturity = (b.now + timedelta(days=90)).date().isoformat()
    issue = b.tx(["core"], "receivable", "issue", {
        "credit_line": line, "to": b.uscc("s0"), "amount": DEEP_FACE, "currency": "CNY",
        "maturity_date": maturity, "trade": {"contract_no": "PO-DEEP", "documents": [],
                                             "invoices": [{"seller": b.uscc("s0"),
                                                           "number": "INV-DEEP",
                                                           "amount": DEEP_FACE,
                                                           "allocated": DEEP_FACE}]}})
    b.send([issue])
    root = derived_id(issue.tx_id, 0)
    b.send([b.tx(["s0"], "receivable", "accept", {"receivable": root})])
    holder, note, value = 0, root, DEEP_FACE
    for _ in range(DEEP_LEVELS):
        payees = [(holder + k) % SUPPLIERS for k in range(1, DEEP_SMALL + 2)]
        pay = b.tx([f"s{holder}"], "receivable", "transfer", {"note": note, "payments": [
            {"to": b.uscc(f"s{payees[0]}"), "amount": value // 2},
            *({"to": b.uscc(f"s{p}"), "amount": value // 40} for p in payees[1:])]})
        b.send([pay])
        holder, note, value = payees[0], derived_id(pay.tx_id, 0), value // 2
    return root


@dataclass(frozen=True)
class Built:
    """The sample database and the deep credential in it."""

    database: Path
    credential: str


def build(folder: Path, txs: int, lanes: int) -> Built:
    """Build the sample chain with the deep credential into `folder` (or reuse it)."""
    database = folder / f"console-sample-{txs}.db"
    marker = database.with_suffix(".credential")
    if database.exists() and marker.exists():
        return Built(database, marker.read_text().strip())
    database.unlink(missing_ok=True)
    found: list[str] = []
    built = build_sample_chain(f"sqlite:///{database}", transactions=txs, lanes=lanes,
                               then=lambda b, line: found.append(deep_credential(b, line)))
    print(f"built {built.log_size:,} transactions in {built.height + 1:,} blocks in "
          f"{built.seconds:.1f} s", flush=True)
    marker.write_text(found[0])
    return Built(database, found[0])


@contextmanager
def serving_node(folder: Path, built: Built) -> Iterator[NodeProcess]:
    """Serve a copy of the database with a real node process (registered node1); stop it after."""
    run = folder / "run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    database = run / "node.db"
    shutil.copyfile(built.database, database)
    genesis = run / "genesis.json"
    genesis.write_bytes(orjson.dumps(sample_genesis().to_json()))
    key = run / "node1.key"
    key.write_text(sample_node_keys()["node1"].seed.hex())
    started = time.perf_counter()
    node = start_node(genesis=genesis, database_url=f"sqlite:///{database}",
                      orderer=run / "orderer.db", log_path=run / "node.log", node_id="node1",
                      extra=("--node-key", str(key)))
    print(f"node serving the chain at {node.url} (ready in "
          f"{time.perf_counter() - started:.1f} s)", flush=True)
    try:
        yield node
    finally:
        node.stop()


@contextmanager
def running_console(folder: Path, alias: str, node_url: str) -> Iterator[str]:
    """Run `ledger console start` for sample organisation `alias` with a viewer; yield its URL."""
    org = sample_orgs()[alias]
    home = folder / f"console-{alias}"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    save_keystore(home / "key.json", Identity(org.uscc, alias, org.key), KEYSTORE_PASSWORD)
    settings = home / "console.toml"
    settings.write_text(config_text(keystore=home / "key.json", nodes=[node_url], tls=None,
                                    database_url="sqlite:///console.db", port=0,
                                    language="en"), encoding="utf-8")
    engine = open_database(load_config(settings).database_url)
    users.add_user(engine, name=VIEWER, role="viewer", password=VIEWER_PASSWORD, by="bench")
    engine.dispose()
    log = (home / "console.log").open("w+b")
    process = subprocess.Popen(
        [sys.executable, "-m", "client", "console", "start", "--config", str(settings)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "LEDGER_PASSWORD": KEYSTORE_PASSWORD, "PYTHONUNBUFFERED": "1"})
    try:
        yield _ready_url(process, home / "console.log")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def _ready_url(process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"^ready: .* serves (\S+)$", log.read_text(errors="replace"), re.M)
        if found:
            return found.group(1)
        if process.poll() is not None:
            raise RuntimeError(f"the console exited: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError("the console did not say it was ready")


def signed_in(url: str) -> httpx.Client:
    """Return an HTTP client logged in to the console at `url` as the viewer."""
    http = httpx.Client(base_url=url, follow_redirects=True, timeout=120)
    token = CSRF.search(http.get("/login").text)
    assert token is not None
    answer = http.post("/login", data={"csrf_token": token.group(1), "name": VIEWER,
                                       "password": VIEWER_PASSWORD})
    if answer.url.path != "/":
        raise RuntimeError(f"could not log in to {url}: {answer.status_code}")
    return http


def time_page(http: httpx.Client, path: str, requests: int) -> list[float] | None:
    """Return `requests` render times of `path` in ms (None if the page does not exist)."""
    for _ in range(WARM_UP):
        answer = http.get(path)
        if answer.status_code == 404:
            return None
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}")
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = http.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}")
    return times


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile `share` (0..1) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))]


def measure(folder: Path, built: Built, pages: list[tuple[str, str, str]],
            requests: int) -> bool:
    """Serve the chain, time every page; print a line each; return whether all met the target."""
    met = True
    with serving_node(folder, built) as node, ExitStack() as stack:
        _describe(node.url, built.credential)
        clients: dict[str, httpx.Client] = {}
        for name, alias, path in pages:
            if alias not in clients:
                url = stack.enter_context(running_console(folder, alias, node.url))
                clients[alias] = signed_in(url)
                stack.callback(clients[alias].close)
            times = time_page(clients[alias], path.format(credential=built.credential),
                              requests)
            if times is None:
                print(f"{name:<16} ({alias} {path}): skipped, no such page yet", flush=True)
                continue
            p95 = percentile(times, 0.95)
            met = met and p95 < TARGET_MS
            print(f"{name:<16} ({alias} {path}): p50 {statistics.median(times):7.1f} ms  "
                  f"p95 {p95:7.1f} ms  max {max(times):7.1f} ms  over {len(times)} GETs: "
                  f"p95 {'<' if p95 < TARGET_MS else '>='} {TARGET_MS:.0f} ms "
                  f"{'MET' if p95 < TARGET_MS else 'MISSED'}", flush=True)
    return met


def _describe(url: str, credential: str) -> None:
    """Print the deep credential's size as its issuer's node shows it (a check on the build)."""
    core = sample_orgs()["core"]
    me = Participant(url, Identity(core.uscc, "core", core.key))
    try:
        notes = me.receivable(credential)["notes"]
    finally:
        me.close()
    parents = {n["id"]: n["parent_id"] for n in notes}

    def depth(note: str | None) -> int:
        return 0 if note is None else 1 + depth(parents[note])

    print(f"deep credential {credential[:12]}…: {len(notes)} notes, depth "
          f"{max(depth(n) for n in parents) - 1}", flush=True)


def _page(text: str) -> tuple[str, str, str]:
    name, _, rest = text.partition("=")
    alias, _, path = rest.partition(":")
    if not (name and alias in sample_orgs() and path.startswith("/")):
        raise argparse.ArgumentTypeError(f"--page {text!r}: give NAME=ALIAS:PATH, ALIAS one "
                                         f"of {', '.join(sample_orgs())}")
    return name, alias, path


def main() -> int:
    """Build (or reuse) the chain, serve it, time the pages; exit 1 if a p95 misses 300 ms."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--txs", type=int, default=100_000, help="transactions to build")
    parser.add_argument("--lanes", type=int, default=400, help="transactions per block")
    parser.add_argument("--requests", type=int, default=50, help="timed GETs per page")
    parser.add_argument("--dir", type=Path, help="keep (and reuse) the chain's database")
    parser.add_argument("--page", type=_page, action="append",
                        help="NAME=ALIAS:PATH, instead of the default pages (repeatable)")
    args = parser.parse_args()
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-console-") as scratch:
        folder = args.dir or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        built = build(folder, args.txs, args.lanes)
        return 0 if measure(folder, built, args.page or list(PAGES), args.requests) else 1


if __name__ == "__main__":
    sys.exit(main())
