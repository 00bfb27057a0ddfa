"""Committed transactions' facts kept in memory: the credential page asks for each only once.

A credential's page dates each edge of its split tree from the transaction
that created the note (its action, block date and outputs,
client/audit/lineage.py `TxFact`): a request per transaction and one per
block, every view (docs/PERFORMANCE.md).  A transaction committed in a block
never changes, so its facts are kept here, the least recently used
forgotten beyond `size` (the `tx_cache_size` setting).

Only what the node answered as committed is kept: a pending transaction (no
block date yet), one this organisation may not read or nobody knows (404),
and any error are asked again next time.  The facts are those the node
showed this organisation (its events are filtered by who asks), so each
console keeps its own (`Console.tx_facts`), never shared between
organisations.  Pages run in a thread pool: a lock guards the order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from client.audit.lineage import BlockTimes, TxFact, fetch_tx_fact
from client.sdk.http import NodeClient

DEFAULT_SIZE = 4096  # ~1 KB a transaction: a few MB for a busy organisation's recent history


class CommittedTxFacts:
    """A bounded least-recently-used map of committed transaction id -> its facts."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        """Keep at most `size` transactions; raise ValueError if `size` is below 1."""
        if size < 1:
            raise ValueError(f"a transaction cache keeps at least 1 transaction, not {size}")
        self.size = size
        self._kept: OrderedDict[str, TxFact] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Return how many transactions are kept."""
        return len(self._kept)

    def facts(self, node: NodeClient, tx_ids: Iterable[str]) -> dict[str, TxFact]:
        """Return the facts of `tx_ids` this organisation may read, asking `node` for any not kept.

        Those the node does not show are left out, as `fetch_tx_facts` does.
        Raises NodeError if the node refuses otherwise or none answers.
        """
        wanted = set(tx_ids) - {""}
        found = self._recall(wanted)
        times = BlockTimes(node)
        for tx_id in sorted(wanted - set(found)):
            fetched = fetch_tx_fact(node, tx_id, times)
            if fetched is None:
                continue
            found[tx_id], committed = fetched
            if committed:
                self._keep(found[tx_id])
        return found

    def _recall(self, tx_ids: set[str]) -> dict[str, TxFact]:
        """Return the kept facts of `tx_ids`, each marked as used now."""
        found = {}
        with self._lock:
            for tx_id in tx_ids:
                fact = self._kept.get(tx_id)
                if fact is not None:
                    self._kept.move_to_end(tx_id)
                    found[tx_id] = fact
        return found

    def _keep(self, fact: TxFact) -> None:
        """Keep `fact`, forgetting the least recently used beyond the size."""
        with self._lock:
            self._kept[fact.tx_id] = fact
            self._kept.move_to_end(fact.tx_id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
