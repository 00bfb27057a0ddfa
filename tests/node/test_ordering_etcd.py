"""The etcd orderer: one total order for every node, idempotent appends, fail-over."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from client.local_consortium.etcd_cluster import leader_index, stop_pid
from node.ordering import OrderedBatch
from node.ordering.etcd import EtcdOrderer
from node.ordering.etcd_client import EtcdClient, EtcdUnavailable
from tests.etcd import etcd_context

pytestmark = pytest.mark.etcd


def _read_all(orderer: EtcdOrderer, count: int, after: int = 0) -> list[OrderedBatch]:
    seen: list[OrderedBatch] = []
    for _ in range(200):
        batches = orderer.read(after, limit=100, wait_s=0.1)
        seen += batches
        if batches:
            after = batches[-1].position
        if len(seen) >= count:
            break
    return seen


def test_batches_appended_through_two_orderers_come_out_in_one_order(
    etcd_members: list[Any],
) -> None:
    urls = [m.client_url for m in etcd_members]
    first, second = (EtcdOrderer(urls[:1], "c1", ssl_context=etcd_context()),
                     EtcdOrderer(urls[1:], "c1", ssl_context=etcd_context()))
    try:
        def append(orderer: EtcdOrderer, tag: str) -> None:
            for i in range(20):
                orderer.append(f"{tag}-{i}".encode())

        threads = [threading.Thread(target=append, args=(o, t))
                   for o, t in ((first, "a"), (second, "b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        one, two = _read_all(first, 40), _read_all(second, 40)
        assert one == two and len(one) == 40
        positions = [b.position for b in one]
        assert positions == sorted(set(positions))
        assert {b.data for b in one} == {f"{t}-{i}".encode() for t in "ab" for i in range(20)}
        assert [b.data for b in _read_all(first, 30, after=positions[9])] == \
            [b.data for b in one[10:]]
    finally:
        first.close()
        second.close()


def test_appending_the_same_batch_twice_orders_it_once(etcd_members: list[Any]) -> None:
    orderer = EtcdOrderer([m.client_url for m in etcd_members], "c2",
                          ssl_context=etcd_context())
    try:
        p1 = orderer.append(b"batch")
        p2 = orderer.append(b"batch")
        orderer.append(b"other")
        assert p1 == p2
        assert [b.data for b in _read_all(orderer, 2)] == [b"batch", b"other"]
    finally:
        orderer.close()


def test_an_oversized_batch_is_refused_before_it_reaches_etcd(etcd_members: list[Any]) -> None:
    orderer = EtcdOrderer([etcd_members[0].client_url], "c3", ssl_context=etcd_context())
    try:
        with pytest.raises(ValueError, match="exceeds the ordering limit"):
            orderer.append(b"x" * (orderer.max_batch_bytes + 1))
    finally:
        orderer.close()


def test_ordering_goes_on_when_the_leader_is_killed(etcd_members: list[Any]) -> None:
    urls = [m.client_url for m in etcd_members]
    orderer = EtcdOrderer(urls, "c4", ssl_context=etcd_context())
    try:
        orderer.append(b"before")
        assert [b.data for b in _read_all(orderer, 1)] == [b"before"]
        leader = etcd_members[leader_index(urls, tls=etcd_context())]
        stop_pid(leader.pid, leader.data_dir, kill=True)
        orderer.append(b"after")
        assert [b.data for b in _read_all(orderer, 2)] == [b"before", b"after"]
    finally:
        orderer.close()


def test_after_a_compaction_a_reader_lists_the_stored_batches_or_reports_the_gap(
    etcd_members: list[Any],
) -> None:
    from node.ordering.etcd import CompactionMark, OrderingGap, mark_key

    urls = [m.client_url for m in etcd_members]
    writer = EtcdOrderer(urls, "c3", ssl_context=etcd_context())
    positions = [writer.append(f"batch {i}".encode()) for i in range(30)]
    assert writer.etcd.compact(positions[-1])  # history gone: a watch from 1 is refused
    behind = EtcdOrderer(urls, "c3", ssl_context=etcd_context())
    try:
        seen = _read_all(behind, 30)
        assert [b.data for b in seen] == [f"batch {i}".encode() for i in range(30)]
        assert [b.position for b in seen] == positions
        mark = CompactionMark(10, positions[9])
        assert writer.etcd.put_if_unchanged(mark_key("c3"), mark.encode(), 0)
        writer.etcd.compact(writer.etcd.get(mark_key("c3")).mod_revision)  # type: ignore[union-attr]
        late = EtcdOrderer(urls, "c3", ssl_context=etcd_context())
        try:
            with pytest.raises(OrderingGap) as gap:
                _read_all(late, 1, after=positions[3])
            assert gap.value.mark == mark
            after_mark = _read_all(late, 20, after=positions[9])
            assert [b.position for b in after_mark] == positions[10:]
        finally:
            late.close()
    finally:
        behind.close()
        writer.close()


def test_a_compaction_racing_the_listing_is_a_gap_never_a_skip(etcd_members: list[Any]) -> None:
    """A compaction that lands between a reader's mark check and its listing.

    The reader's watch is refused (history compacted), so it lists; just
    before its listing runs, another node moves the mark and deletes the
    batches up to it.  The reader must report the gap, not skip those batches.
    """
    from node.ordering.etcd import CompactionMark, OrderingGap, mark_key

    urls = [m.client_url for m in etcd_members]
    writer = EtcdOrderer(urls, "c4", ssl_context=etcd_context())
    reader = EtcdOrderer(urls, "c4", ssl_context=etcd_context())
    positions = [writer.append(f"batch {i}".encode()) for i in range(20)]
    assert writer.etcd.compact(positions[-1])
    mark = CompactionMark(10, positions[9])
    listing = reader.etcd.range_prefix
    raced: list[bool] = []

    def compacted_just_before(prefix: bytes, **options: Any) -> Any:
        if prefix == reader.prefix and not raced:
            raced.append(True)
            assert writer.etcd.put_if_unchanged(mark_key("c4"), mark.encode(), 0)
            stored, _, _ = writer.etcd.range_prefix(writer.prefix, keys_only=True,
                                                    max_create_revision=positions[9])
            writer.etcd.delete_keys([kv.key for kv in stored])
        return listing(prefix, **options)

    reader.etcd.range_prefix = compacted_just_before  # type: ignore[method-assign]
    try:
        with pytest.raises(OrderingGap) as gap:
            _read_all(reader, 1, after=positions[3])
        assert raced and gap.value.mark == mark
    finally:
        reader.close()
        writer.close()


def test_a_closed_etcd_client_answers_unavailable_not_a_crash() -> None:
    """A watch thread still reading when its node closes must end quietly (no thread crash)."""
    client = EtcdClient(["http://127.0.0.1:9"], timeout_s=0.2, deadline_s=0.2)
    client.close()
    with pytest.raises(EtcdUnavailable, match="closed"):
        client.call("/v3/kv/range", {"key": "YQ=="})
    assert list(client.watch_prefix(b"p/", 1, threading.Event())) == []
