"""Measure what defragmenting an etcd member costs the appends that go on meanwhile.

    python scripts/probe_etcd_defrag.py [--fill-mb 200]

Starts a 3-member cluster with `network up`'s flags (plain HTTP, loopback),
writes `--fill-mb` of 512 KB values, deletes them and compacts (as after a
long outage: a large db file, little of it in use), then defragments the
members one at a time, followers first and the leader last.  During each
defragmentation a client appends 20 KB batches through the member being
defragmented first (the worst case: the node's etcd client prefers it), as
`EtcdOrderer.append` does, and the script prints the defragmentation's
duration, the db size before and after, and the appends' count, median and
maximum latency and failures.  docs/OPERATIONS.md quotes the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from client.local_consortium.etcd_cluster import (
    EtcdMember,
    leader_index,
    start_etcd_cluster,
    stop_members,
)
from node.ordering.etcd_client import EtcdClient, EtcdUnavailable

MB = 1024 * 1024


def db_sizes(member: EtcdMember) -> tuple[float, float]:
    """Return the member's db file size and the part in use, in MB."""
    status = httpx.post(member.client_url + "/v3/maintenance/status", json={}, timeout=5).json()
    return int(status["dbSize"]) / MB, int(status.get("dbSizeInUse", 0)) / MB


def fill_and_free(client: EtcdClient, megabytes: int) -> None:
    """Write `megabytes` of 512 KB values, delete them and compact the history physically."""
    value = os.urandom(512 * 1024)
    for i in range(megabytes * 2):
        client.put_if_absent(f"/fill/{i:06d}".encode(), value)
    revision = client.delete_range(b"/fill/", b"/fill0")
    client.compact(revision)


def append_during(endpoints: list[str], stop: threading.Event,
                  latencies: list[float], failures: list[str]) -> None:
    """Append 20 KB values through `endpoints` (first preferred) until `stop`."""
    client = EtcdClient(endpoints)
    serial = 0
    try:
        while not stop.is_set():
            serial += 1
            started = time.perf_counter()
            try:
                client.put_if_absent(f"/probe/{time.time_ns()}-{serial}".encode(),
                                     os.urandom(20 * 1024))
            except EtcdUnavailable as exc:
                failures.append(str(exc))
            latencies.append(time.perf_counter() - started)
            stop.wait(0.02)
    finally:
        client.close()


def defragment(member: EtcdMember, others: list[EtcdMember], role: str) -> None:
    """Defragment `member` while appends go through it first; print what it cost them."""
    before = db_sizes(member)
    latencies: list[float] = []
    failures: list[str] = []
    stop = threading.Event()
    appender = threading.Thread(target=append_during, args=(
        [member.client_url, *(m.client_url for m in others)], stop, latencies, failures))
    appender.start()
    time.sleep(1.0)
    started = time.perf_counter()
    reply = httpx.post(member.client_url + "/v3/maintenance/defragment", json={}, timeout=600)
    took = time.perf_counter() - started
    time.sleep(1.0)
    stop.set()
    appender.join()
    after = db_sizes(member)
    print(f"{member.name} ({role}): defragment HTTP {reply.status_code} in {took:.2f} s; db "
          f"{before[0]:.1f} MB ({before[1]:.1f} in use) -> {after[0]:.1f} MB; appends meanwhile "
          f"{len(latencies)}, p50 {1000 * statistics.median(latencies):.1f} ms, max "
          f"{1000 * max(latencies):.0f} ms, failed {len(failures)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fill-mb", type=int, default=200)
    args = parser.parse_args()
    members = start_etcd_cluster(Path(tempfile.mkdtemp(prefix="probe-defrag-")), 3)
    try:
        client = EtcdClient([m.client_url for m in members])
        started = time.perf_counter()
        fill_and_free(client, args.fill_mb)
        client.close()
        print(f"wrote, deleted and compacted {args.fill_mb} MB in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        leader = members[leader_index([m.client_url for m in members])]
        order = [m for m in members if m is not leader] + [leader]
        for member in order:
            role = "leader" if member is leader else "follower"
            defragment(member, [m for m in members if m is not member], role)
    finally:
        stop_members(members, kill=True)


if __name__ == "__main__":
    main()
