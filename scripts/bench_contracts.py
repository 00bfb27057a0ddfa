"""Benchmark the contracts alone: replay a recorded business workload through the executor.

    python scripts/bench_contracts.py [--rounds 200] [--passes 10]

A workload is recorded once with the test builders (tests/builders.py): a
credit line, then `--rounds` rounds of issue, accept, two transfers,
financing request, terms, acceptance and disbursement, each in its own
block.  It is then replayed `--passes` times on a copy of the state after
genesis, through `Executor.execute_block` with signature checks off (they
cost the same whatever the contracts do), and the best and median
microseconds per transaction are printed.  The node and the auditor add
storage, encoding and signatures around the same work; this isolates what
a change to contracts/ costs.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contracts import CONTRACTS
from ledger.execution import BlockContext, Executor, ReplayGuard
from ledger.timefmt import format_timestamp
from ledger.tx import Envelope
from tests.builders import DictState, MemoryChain
from tests.contracts.support import FACE, grant_line, issue, new_chain, pay_to, trade

TERMS: dict[str, Any] = {"annual_rate_percent": "2.00", "funding_date": "2026-01-05",
                         "fees": 0, "fee_payer": "seller", "recourse": True}
Recorded = list[tuple[BlockContext, list[Envelope]]]


def record(rounds: int) -> tuple[DictState, Recorded]:
    """Run the workload once; return the state after genesis and every block after it."""
    chain = new_chain()
    after_genesis = copy.deepcopy(chain.state)
    blocks: Recorded = []
    run_block = chain.run_block

    def recording(envelopes: list[Envelope]) -> Any:
        context = BlockContext(envelopes[0].body.chain_id, chain.height,
                               format_timestamp(chain.now))
        blocks.append((context, list(envelopes)))
        return run_block(envelopes)

    chain.run_block = recording  # type: ignore[method-assign]
    line = grant_line(chain, limit=FACE * rounds * 2)
    for number in range(rounds):
        _one_round(chain, line, number)
    return after_genesis, blocks


def _one_round(chain: MemoryChain, line: str, number: int) -> None:
    root = issue(chain, line, trade=trade(chain, number=f"INV-{number}"))
    chain.ok("s1", "accept", receivable=root)
    paid = chain.ok("s1", "transfer", note=root, payments=pay_to(chain, "s2", FACE // 2))
    on = chain.ok("s2", "transfer", note=paid.events[0]["outputs"][0]["note"],
                  payments=pay_to(chain, "s3", FACE // 4))
    request = chain.ok("s3", "request_financing", note=on.events[0]["outputs"][0]["note"],
                       bank=chain.uscc("b1"))
    financing = request.events[0]["financing"]
    chain.ok("b1", "offer_terms", financing=financing, **TERMS)
    digest = chain.get("financing/" + financing)["terms_hash"]
    chain.ok("s3", "accept_terms", financing=financing, terms_hash=digest)
    chain.ok("b1", "confirm_disbursement", financing=financing, payment_ref="PAY-1")


def replay(after_genesis: DictState, blocks: Recorded) -> float:
    """Execute every recorded block on a fresh copy of the state; return the seconds taken."""
    executor = Executor(CONTRACTS, signature_check=lambda envelope, key_of: None)
    state = copy.deepcopy(after_genesis)
    start = time.perf_counter()
    for context, envelopes in blocks:
        # the ids are unique, so an empty guard finds no replay, as a full one would not
        results, overlay = executor.execute_block(envelopes, state=state, block=context,
                                                  replay=ReplayGuard())
        if not all(r.valid for r in results):
            raise SystemExit(f"a recorded transaction failed on replay: {results}")
        state.apply(overlay)
    return time.perf_counter() - start


def main() -> int:
    """Record the workload, replay it, print microseconds per transaction."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="business rounds to record")
    parser.add_argument("--passes", type=int, default=10, help="replays to time")
    args = parser.parse_args()
    after_genesis, blocks = record(args.rounds)
    count = sum(len(envelopes) for _, envelopes in blocks)
    per_tx = [replay(after_genesis, blocks) / count * 1e6 for _ in range(args.passes)]
    print(f"{count} transactions, {args.passes} passes: best {min(per_tx):.1f} µs per "
          f"transaction, median {statistics.median(per_tx):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
