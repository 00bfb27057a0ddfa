"""Soak a local network and watch whether etcd's memory and disk stay flat.

    python scripts/soak_etcd.py [--minutes 10] [--rate 100] [--tuning bounded|none]
                                [--dir DIR] [--json FILE]

Starts a network as `ledger network up` does (3 etcd members, four nodes),
drives the network bench's credential life at `--rate` tx/s in the
background, and every `--every` seconds prints, per etcd member: its RSS,
bbolt's file size and the part in use (from the member's /metrics), the
keys in the store and the watchers, the data directory split into the WAL, the snapshots and
the db, and the Raft entries since the member's last snapshot (its Raft
index less the index in the newest .snap file name): the entries etcd keeps
in memory until it snapshots.  Node RSS is printed too.  At the end it
prints each figure's slope over the second half of the run (least squares,
per minute), which is what "flat" is judged by.

Then it checks the outcome (unless `--no-check`): every node shows the same
final head, the log grew by exactly the transactions the clients had
committed (nothing acknowledged was lost, nothing else was added), and the
independent audit of the first node's export, with every node compared
against the rebuilt chain, passes.  The exit status is 1 if any check fails.

`--tuning none` starts the members with only the basic flags (what `network
up` did before the tuning); `bounded` with `etcd_cluster.TUNING_FLAGS`.
Run both in one sitting to compare: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from rich.console import Console

from client.audit import audit_nodes
from client.audit.render import print_audit
from client.local_consortium.bench import PASSWORD
from client.local_consortium.bench_network import run_network_bench
from client.local_consortium.consortium import Consortium
from client.local_consortium.demo import same_heads
from client.local_consortium.etcd_cluster import TUNING_FLAGS, EtcdMember, operator_context
from client.local_consortium.network import NETWORK_FILE, network_down, network_up
from client.sdk.http import NodeClient

MB = 1024 * 1024
FIGURES = ("rss_mb", "heap_mb", "db_mb", "db_in_use_mb", "wal_mb", "snap_mb", "dir_mb", "keys",
           "watchers", "entries_since_snap")


def rss_mb(pid: int) -> float:
    """Return a process's resident set size in MB (0 if it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def cmdline(pid: int) -> list[str]:
    """Return a process's command line as a list of arguments."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def metrics_url(pid: int) -> str:
    """Return the metrics URL an etcd member was started with (from its command line)."""
    args = cmdline(pid)
    return args[args.index("--listen-metrics-urls") + 1] + "/metrics"


def scrape(url: str) -> dict[str, float]:
    """Return the unlabelled samples of a Prometheus exposition."""
    samples: dict[str, float] = {}
    for line in httpx.get(url, timeout=5.0).text.splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#") and "{" not in parts[0]:
            samples[parts[0]] = float(parts[1])
    return samples


def du_mb(path: Path) -> float:
    """Return the bytes of the files under `path`, in MB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / MB


def last_snapshot_index(data_dir: Path) -> int:
    """Return the Raft index of the member's newest snapshot file (0 if none)."""
    names = [f.name for f in (data_dir / "member" / "snap").glob("*.snap")]
    return max((int(n.split("-")[1].split(".")[0], 16) for n in names), default=0)


def member_figures(member: EtcdMember, tls: Any) -> dict[str, float]:
    """Return one member's figures now."""
    samples = scrape(metrics_url(member.pid))
    status = httpx.post(member.client_url + "/v3/maintenance/status", json={}, timeout=5.0,
                        verify=tls if tls is not None else True).json()
    data = Path(member.data_dir)
    return {
        "rss_mb": rss_mb(member.pid),
        "heap_mb": samples.get("go_memstats_heap_inuse_bytes", 0.0) / MB,
        "db_mb": samples.get("etcd_mvcc_db_total_size_in_bytes", 0.0) / MB,
        "db_in_use_mb": samples.get("etcd_mvcc_db_total_size_in_use_in_bytes", 0.0) / MB,
        "wal_mb": du_mb(data / "member" / "wal"),
        "snap_mb": du_mb(data / "member" / "snap"),
        "dir_mb": du_mb(data),
        "keys": samples.get("etcd_debugging_mvcc_keys_total", 0.0),
        "watchers": samples.get("etcd_debugging_mvcc_watcher_total", 0.0),
        "entries_since_snap": int(status.get("raftIndex", 0)) - last_snapshot_index(data),
    }


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Return the least-squares slope of (minute, value) points, per minute."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def sample(description: dict[str, Any], minute: float) -> dict[str, Any]:
    """Return every member's and node's figures at `minute`."""
    members = [EtcdMember(**m) for m in description["etcd"]]
    tls = operator_context(members)
    row: dict[str, Any] = {"minute": round(minute, 2)}
    for member in members:
        row[member.name] = member_figures(member, tls)
    row["nodes_rss_mb"] = {n["alias"]: rss_mb(n["pid"]) for n in description["nodes"]}
    return row


def print_row(row: dict[str, Any], names: list[str]) -> None:
    """Print one sample as a line per member and one for the nodes."""
    for name in names:
        fig = row[name]
        print(f"{row['minute']:6.1f} min {name}: rss {fig['rss_mb']:7.1f} MB  heap "
              f"{fig['heap_mb']:6.1f} MB  db "
              f"{fig['db_mb']:6.1f} MB (in use {fig['db_in_use_mb']:5.1f})  wal "
              f"{fig['wal_mb']:6.1f} MB  snap {fig['snap_mb']:5.1f} MB  dir "
              f"{fig['dir_mb']:6.1f} MB  keys {fig['keys']:6.0f}  watchers {fig['watchers']:.0f}  "
              f"entries since snapshot "
              f"{fig['entries_since_snap']}", flush=True)
    nodes = "  ".join(f"{a} {v:.0f}" for a, v in row["nodes_rss_mb"].items())
    print(f"{row['minute']:6.1f} min nodes rss MB: {nodes}", flush=True)


def summarize(rows: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Print and return each figure's slope per minute over the second half of the run."""
    end = rows[-1]["minute"]
    half = [r for r in rows if r["minute"] >= end / 2]
    summary: dict[str, Any] = {}
    print(f"slopes per minute over the second half ({half[0]['minute']:.1f}-{end:.1f} min):")
    for name in names:
        summary[name] = {f: round(slope_per_minute([(r["minute"], r[name][f]) for r in half]), 3)
                         for f in FIGURES}
        summary[name]["rss_max_mb"] = round(max(r[name]["rss_mb"] for r in rows), 1)
        print(f"  {name}: " + "  ".join(f"{f} {v:+.3f}" for f, v in summary[name].items()))
    for alias in rows[0]["nodes_rss_mb"]:
        slope = slope_per_minute([(r["minute"], r["nodes_rss_mb"][alias]) for r in half])
        summary[f"node_{alias}_rss_mb"] = round(slope, 3)
        print(f"  node {alias}: rss_mb {slope:+.3f}")
    return summary


def auditor_clients(directory: Path, description: dict[str, Any]) -> list[NodeClient]:
    """Return the auditor's client of every node of the network."""
    consortium = Consortium.open(Path(description["consortium"]))
    identity = consortium.identity("auditor", PASSWORD)
    tls = consortium.tls_context("auditor", PASSWORD)
    return [NodeClient(n["url"], identity, chain_id=consortium.chain_id, tls=tls)
            for n in description["nodes"]]


def log_size(node: NodeClient) -> int:
    """Return the size of a node's transaction log at its head."""
    return int(node.get("/v1/status")["log_size"])


def check_outcome(nodes: list[NodeClient], log_before: int, committed: int) -> dict[str, Any]:
    """Check identical final heads, nothing lost and the audit; print and return the verdicts."""
    console = Console()
    identical = same_heads(console, nodes)
    grown = log_size(nodes[0]) - log_before
    print(f"log grew by {grown:,} transactions; the clients had {committed:,} committed: "
          f"{'nothing lost' if grown == committed else 'MISMATCH'}", flush=True)
    report = audit_nodes(nodes)
    print_audit(console, report)
    return {"identical_heads": identical, "log_growth": grown, "committed": committed,
            "nothing_lost": grown == committed, "audit_passed": report.passed,
            "audit_findings": len(report.findings)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0, help="tx/s across the clients")
    parser.add_argument("--batch", type=int, default=20, help="transactions per request")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--tuning", choices=("bounded", "none"), default="bounded")
    parser.add_argument("--dir", type=Path, help="network directory (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the samples and slopes here")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the heads, nothing-lost and audit checks at the end")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="soak-etcd-"))
    tuning = TUNING_FLAGS if args.tuning == "bounded" else ()
    print(f"network in {directory}; etcd tuning {args.tuning}: {' '.join(tuning) or '(none)'}")
    network_up(directory, PASSWORD, etcd_tuning=tuning, log_level="warning")
    description = json.loads((directory / NETWORK_FILE).read_text())
    names = [m["name"] for m in description["etcd"]]
    result: dict[str, Any] = {}
    nodes = auditor_clients(directory, description)
    outcome: dict[str, Any] = {}
    try:
        load = threading.Thread(target=lambda: result.update(run_network_bench(
            directory=directory, seconds=args.minutes * 60, batch=args.batch,
            clients=args.clients, rate=args.rate, password=PASSWORD,
            console=Console(stderr=True))), daemon=True)
        started = time.monotonic()
        load.start()
        rows: list[dict[str, Any]] = []
        while load.is_alive() or not rows:
            row = sample(description, (time.monotonic() - started) / 60)
            rows.append(row)
            print_row(row, names)
            load.join(timeout=args.every)
        rows.append(sample(description, (time.monotonic() - started) / 60))
        print_row(rows[-1], names)
        summary = summarize(rows, names)
        print(f"load: {result.get('submitted_tx', '?')} transactions committed, "
              f"{result.get('final_tx_per_s', '?')} tx/s final")
        if not args.no_check and "submitted_tx" in result:
            outcome = check_outcome(nodes, int(result["log_size_at_start"]),
                                    int(result["submitted_tx"]))
        if args.json:
            args.json.write_text(json.dumps({"tuning": list(tuning), "rows": rows,
                                             "slopes": summary, "load": result,
                                             "outcome": outcome}, indent=1))
    finally:
        for node in nodes:
            node.close()
        network_down(directory)
    failed = [name for name in ("identical_heads", "nothing_lost", "audit_passed")
              if outcome and not outcome[name]]
    if failed or (not args.no_check and not outcome):
        print(f"checks failed: {', '.join(failed) or 'the load did not finish'}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
