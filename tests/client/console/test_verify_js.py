"""The browser's verifier (client/console/static/verify.js) agrees with ledger/ on everything.

Known answers computed by the Python core are handed, many per page
evaluation, to verify.js running in Debian's Chromium on a loopback page
under a strict CSP (one browser for the module):

- RFC 9162: the root of every tree of 1..40 leaves (and some larger), every
  inclusion proof in them and every consistency proof between them must
  verify; every forgery the Python verifier refuses (a flipped bit in any
  hash, a wrong index or size, a path truncated or extended) must be refused;
  sizes beyond 2**32 must be computed exactly (BigInt).
- C2SP signed notes and checkpoints: key IDs, strict parsing (a note the
  Python parser refuses is refused, one it accepts is accepted), and signed
  checkpoints of real Ed25519 node keys: quorum reached or not for several
  consortia, a tampered signature, a wrong key ID, another origin, a cosigner
  the genesis does not register; each verdict names the step that failed.
- Consistency with the browser's last trusted checkpoint, and a fork
  reported as one; malformed input of every kind gives a verdict, never an
  exception.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from ledger.canonical import encode_string
from ledger.checkpoint import check_cosigned, parse_signed_checkpoint
from ledger.crypto import PrivateKey, sha256
from ledger.errors import LedgerError, ProofError
from ledger.merkle import (
    MerkleLog,
    _roots_from_consistency_path,
    leaf_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from ledger.signed_note import key_id, sign_note
from tests.client.console.browser import Guard, LoopbackSite, chromium, guarded_page
from tests.client.console.chains import (
    Chain,
    edited,
    flip_hex,
    four_orgs,
    nodes_of,
    with_signature,
)

SMALL = range(1, 41)
LARGE = (63, 64, 65, 127, 128, 129, 257, 1000)
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(max(LARGE))]
LOG = MerkleLog()
LOG.extend(LEAVES)


@pytest.fixture(scope="module")
def browser_page() -> Iterator[tuple[Page, Guard]]:
    with LoopbackSite() as site, chromium() as browser:
        guard = Guard()
        page = guarded_page(browser, site, guard)
        page.goto(site.url + "/harness.html")
        page.evaluate("async () => { window.v = await import('/static/verify.js'); }")
        yield page, guard
        guard.assert_clean()


def run(page: Page, script: str, arg: Any = None) -> Any:
    """Evaluate `script` (an async function of `arg`, with `v` = verify.js) in the page."""
    return page.evaluate(f"async (arg) => {{ const v = window.v; {script} }}", arg)


# -- RFC 9162 ------------------------------------------------------------------------------------

def _flipped(proof: tuple[bytes, ...], at: int, bit: int) -> list[bytes]:
    forged = list(proof)
    forged[at] = forged[at][: bit // 8] + bytes([forged[at][bit // 8] ^ (1 << bit % 8)]) \
        + forged[at][bit // 8 + 1:]
    return forged


def _inclusion_cases(size: int, indexes: Any, rng: random.Random) -> Iterator[dict[str, Any]]:
    root = LOG.root(size)
    for index in indexes:
        proof = LOG.inclusion_proof(index, size)
        yield {"what": f"leaf {index} of {size}", "leaf": LEAVES[index], "index": index,
               "size": size, "proof": list(proof), "root": root, "valid": True}
        forged: list[tuple[str, int, int, list[bytes]]] = [
            (f"hash {at} flipped", index, size, _flipped(proof, at, rng.randrange(256)))
            for at in range(len(proof))]
        forged += [("truncated", index, size, list(proof[:-1])),
                   ("first hash dropped", index, size, list(proof[1:])),
                   ("extended", index, size, [*proof, LEAVES[0]]),
                   ("extended first", index, size, [LEAVES[0], *proof])] if proof else [
                   ("extended", index, size, [LEAVES[0]])]
        forged += [(f"index {o}", o, size, list(proof)) for o in (index - 1, index + 1)
                   if 0 <= o < size]
        forged += [(f"size {o}", index, o, list(proof)) for o in (size - 1, size + 1)
                   if index < o <= len(LEAVES)]
        for what, claimed_index, claimed_size, hashes in forged:
            claimed_root = LOG.root(claimed_size)
            with pytest.raises(ProofError):  # the Python verifier refuses it too
                verify_inclusion(LEAVES[index], claimed_index, claimed_size, hashes, claimed_root)
            yield {"what": f"{what} of leaf {index} of {size}", "leaf": LEAVES[index],
                   "index": claimed_index, "size": claimed_size, "proof": hashes,
                   "root": claimed_root, "valid": False}


def _consistency_cases(n: int, firsts: Any, rng: random.Random) -> Iterator[dict[str, Any]]:
    for m in firsts:
        proof = LOG.consistency_proof(m, n)
        yield {"what": f"{m} -> {n}", "first": m, "second": n, "first_root": LOG.root(m),
               "second_root": LOG.root(n), "proof": list(proof), "valid": True}
        forged: list[tuple[str, int, int, list[bytes]]] = [
            (f"hash {at} flipped", m, n, _flipped(proof, at, rng.randrange(256)))
            for at in range(len(proof))]
        if proof:
            forged += [("truncated", m, n, list(proof[:-1])),
                       ("first hash dropped", m, n, list(proof[1:])),
                       ("extended", m, n, [*proof, LEAVES[0]]),
                       ("extended first", m, n, [LEAVES[0], *proof])]
        else:
            forged += [("extended", m, n, [LEAVES[0]])]
        forged += [(f"first size {o}", o, n, list(proof)) for o in (m - 1, m + 1) if 0 < o <= n]
        forged += [(f"second size {o}", m, o, list(proof)) for o in (n - 1, n + 1)
                   if m <= o <= len(LEAVES)]
        for what, first, second, hashes in forged:
            try:
                verify_consistency(first, second, LOG.root(first), LOG.root(second), hashes)
            except ProofError:
                yield {"what": f"{what} of {m} -> {n}", "first": first, "second": second,
                       "first_root": LOG.root(first), "second_root": LOG.root(second),
                       "proof": hashes, "valid": False}
            else:  # a changed size can still be a genuine proof (e.g. between equal sizes)
                assert hashes == list(LOG.consistency_proof(first, second)), what


def _hexed(case: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.hex() if isinstance(v, bytes) else [h.hex() for h in v] if k == "proof" else v)
            for k, v in case.items()}


CHECK_PROOFS = """
  const h = (x) => v.hashOfHex(x, 'vector');
  const disagreements = [];
  let checked = 0;
  for (const c of arg.cases) {
    let ok = true, why = '';
    try {
      if (c.leaf !== undefined) {
        await v.verifyInclusionProof(h(c.leaf), c.index, c.size, c.proof.map(h), h(c.root));
      } else {
        await v.verifyConsistencyProof(c.first, c.second, h(c.first_root), h(c.second_root),
                                       c.proof.map(h));
      }
    } catch (e) {
      ok = false;
      why = (e instanceof v.VerifyError ? '' : 'NOT A VerifyError: ') + e.message;
    }
    checked += 1;
    if (ok !== c.valid || why.startsWith('NOT')) disagreements.push([c.what, why]);
  }
  return {checked, disagreements};
"""


def test_every_root_of_1_to_40_leaves_and_larger_agrees(browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    sizes = [*SMALL, *LARGE]
    result = run(page, """
      const h = (x) => v.hashOfHex(x, 'vector');
      const leaves = arg.leaves.map(h);
      const out = {};
      for (const n of arg.sizes) out[n] = v.hexOf(await v.rootFromLeafHashes(leaves.slice(0, n)));
      out[0] = v.hexOf(await v.rootFromLeafHashes([]));
      const data = [];
      for (let i = 0; i < 5; i++) {
        data.push(v.hexOf(await v.leafHash(new TextEncoder().encode('entry ' + i))));
      }
      return {roots: out, data};
    """, {"leaves": [h.hex() for h in LEAVES], "sizes": sizes})
    assert result["data"] == [h.hex() for h in LEAVES[:5]]
    expected = {str(n): root_from_leaf_hashes(LEAVES[:n]).hex() for n in (0, *sizes)}
    assert result["roots"] == expected
    guard.assert_clean()


def test_every_inclusion_proof_verifies_and_every_forgery_is_refused(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    rng = random.Random(16)
    cases = [c for n in SMALL for c in _inclusion_cases(n, range(n), rng)]
    cases += [c for n in LARGE for c in _inclusion_cases(
        n, sorted({0, 1, 37, n // 2, n - 2, n - 1}), rng)]
    result = run(page, CHECK_PROOFS, {"cases": [_hexed(c) for c in cases]})
    assert result["disagreements"] == []
    assert result["checked"] == len(cases) > 8000
    assert sum(c["valid"] for c in cases) == sum(SMALL) + 6 * len(LARGE)
    guard.assert_clean()


def test_every_consistency_proof_verifies_and_every_forgery_is_refused(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    rng = random.Random(9162)
    cases = [c for n in SMALL for c in _consistency_cases(n, range(1, n + 1), rng)]
    cases += [c for n in LARGE for c in _consistency_cases(
        n, sorted({1, 2, 3, 32, 63, n // 2, n - 1, n} - {0}), rng)]
    result = run(page, CHECK_PROOFS, {"cases": [_hexed(c) for c in cases]})
    assert result["disagreements"] == []
    assert result["checked"] == len(cases) > 8000
    guard.assert_clean()


def test_sizes_beyond_32_bits_are_computed_exactly(browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    rng = random.Random(2**63)
    inclusion, consistency = [], []
    for _ in range(40):
        size = rng.randrange(2**33, 2**63)
        index = rng.randrange(size)
        proof = _right_length(lambda p, i=index, s=size: root_from_inclusion_proof(
            LEAVES[0], i, s, p), rng)
        inclusion.append({"index": str(index), "size": str(size), "proof": proof,
                          "root": root_from_inclusion_proof(LEAVES[0], index, size, proof)})
        second = rng.randrange(2**33, 2**63)
        first = rng.choice([rng.randrange(1, second), 2 ** rng.randrange(1, 33)])
        path = _right_length(lambda p, f=first, s=second: _roots_from_consistency_path(
            f, s, LEAVES[1], p), rng)
        roots = _roots_from_consistency_path(first, second, LEAVES[1], path)
        verify_consistency(first, second, *roots, path)
        consistency.append({"first": str(first), "second": str(second), "proof": path,
                            "first_root": roots[0], "second_root": roots[1]})
    result = run(page, """
      const h = (x) => v.hashOfHex(x, 'vector');
      const out = {inclusion: [], consistency: []};
      for (const c of arg.inclusion) {
        out.inclusion.push(v.hexOf(await v.rootFromInclusionProof(
          h(arg.leaf), BigInt(c.index), BigInt(c.size), c.proof.map(h))));
      }
      for (const c of arg.consistency) {
        try {
          await v.verifyConsistencyProof(BigInt(c.first), BigInt(c.second), h(c.first_root),
                                         h(c.second_root), c.proof.map(h));
          out.consistency.push('ok');
        } catch (e) { out.consistency.push(e.message); }
      }
      return out;
    """, {"leaf": LEAVES[0].hex(), "inclusion": [_hexed(c) for c in inclusion],
          "consistency": [_hexed(c) for c in consistency]})
    assert result["inclusion"] == [c["root"].hex() for c in inclusion]
    assert result["consistency"] == ["ok"] * len(consistency)
    guard.assert_clean()


def _right_length(compute: Any, rng: random.Random) -> list[bytes]:
    """Return random hashes of the one length the Python verifier accepts for a shape."""
    for length in range(0, 130):
        proof = [rng.randbytes(32) for _ in range(length)]
        try:
            compute(proof)
        except ProofError:
            continue
        return proof
    raise AssertionError("no proof length fits")


# -- strings, key IDs and notes ------------------------------------------------------------------

TRICKY = ["", "plain", '"quoted" \\ back', "\u0000\u0001\u001f\u007f", "\b\t\n\f\r", "é€😀ﬁ",
          "\u2028\u2029", "</script>", "\ud7ff\ue000\uffff"]


def test_strings_and_envelopes_are_encoded_and_hashed_as_ledger_does(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    chain = Chain(four_orgs())
    envelopes = [chain.tx, chain.genesis.transaction]
    result = run(page, """
      const strings = arg.strings.map((s) => v.canonicalString(s));
      const envelopes = [];
      for (const e of arg.envelopes) {
        const facts = await v.envelopeFacts(e);
        envelopes.push([facts.txId, v.hexOf(facts.leaf)]);
      }
      return {strings, envelopes};
    """, {"strings": TRICKY, "envelopes": [e.to_json() for e in envelopes]})
    assert result["strings"] == [encode_string(s) for s in TRICKY]
    assert result["envelopes"] == [[e.tx_id, e.leaf.hex()] for e in envelopes]
    guard.assert_clean()


KEY_NAMES = ["node-core", "node1", "a", "节点-核心", "x" * 64, "node.bank_a:7"]


def test_key_ids_are_the_c2sp_ones_ledger_computes(browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    keys = [PrivateKey(sha256(name.encode())).public_key for name in KEY_NAMES]
    result = run(page, """
      const out = [];
      for (const [name, key] of arg) out.push(v.hexOf(await v.keyId(name, v.hashOfHex(key, 'k'))));
      return out;
    """, [[n, k.hex()] for n, k in zip(KEY_NAMES, keys, strict=True)])
    assert result == [key_id(n, k).hex() for n, k in zip(KEY_NAMES, keys, strict=True)]
    guard.assert_clean()


def _note_variants(good: str) -> list[str]:
    """Return notes derived from a good one: spellings the strict parser must judge alike."""
    text, _, signatures = good.partition("\n\n")
    sig_line = signatures.splitlines()[0]
    name, encoded = sig_line[2:].split(" ")
    lines = text.split("\n")
    return [
        good, good[:-1], good + "\n", text + "\n" + signatures, text + "\n\n",
        text.replace("\n", "\r\n") + "\n\n" + signatures,
        good.replace("\u2014", "-"), good.replace("\u2014 ", "\u2014"),
        good.replace(sig_line, f"\u2014 {name}  {encoded}"),
        good.replace(sig_line, f"\u2014 {name}+x {encoded}"),
        good.replace(sig_line, f"\u2014 {name}\u00a0x {encoded}"),
        good.replace(sig_line, f"\u2014 {name}\u0085 {encoded}"),
        good.replace(sig_line, f"\u2014 {name}\ufeff {encoded}"),
        good.replace(sig_line, f"\u2014 {name} {encoded.rstrip('=')}"),
        good.replace(sig_line, f"\u2014 {name} {encoded[:-2]}A="),
        good.replace(sig_line, f"\u2014 {name} {encoded}\n\u2014 {name} AAAAAA=="),
        good.replace(sig_line, f"\u2014 {name} AAAAAAA="),
        good.replace(sig_line, f"\u2014 {name} AAAAAA=="),
        good + f"\u2014 {name} {encoded}\n",
        good + "".join(f"\u2014 n{i} {encoded}\n" for i in range(100)),
        "\n".join([lines[0], "0" + lines[1], *lines[2:]]) + "\n" + signatures,
        "\n".join([lines[0], lines[1] + " ", *lines[2:]]) + "\n" + signatures,
        "\n".join([lines[0], "9223372036854775808", *lines[2:]]) + "\n" + signatures,
        "\n".join([lines[0], "9223372036854775807", *lines[2:]]) + "\n" + signatures,
        "\n".join([lines[0], lines[1], lines[2].rstrip("="), *lines[3:]]) + "\n" + signatures,
        "\n".join([lines[0], lines[1], "AAAA", *lines[3:]]) + "\n" + signatures,
        "\n".join([*lines[:3], "block 01 " + "a" * 64, ""]) + "\n" + signatures,
        "\n".join([*lines[:3], "block 1 " + "A" * 64, ""]) + "\n" + signatures,
        "\n".join([*lines[:3], "block 1 " + "a" * 63, ""]) + "\n" + signatures,
        "\n".join([*lines[:4], "block 2 " + "a" * 64, ""]) + "\n" + signatures,
        "\n".join([*lines[:3], ""]) + "\n" + signatures,
        "\n".join([lines[0], "", *lines[1:]]) + "\n" + signatures,
        "\n".join(["", *lines[1:]]) + "\n" + signatures,
        "\n".join([lines[0], lines[1], lines[2], "", lines[3], ""]) + "\n" + signatures,
        good.replace(lines[0], lines[0] + "\u0007"),
        good.replace(lines[0], lines[0] + "\u007f"),
        good.replace(lines[0], lines[0] + "\u00e9"),
    ]


def _python_parses(note: str) -> bool:
    try:
        parse_signed_checkpoint(note).checkpoint.block()
    except LedgerError:
        return False
    return True


def test_notes_are_parsed_exactly_as_strictly_as_ledger_parses_them(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    chain = Chain(four_orgs())
    good = chain.note(["node-core", "node-bank-a"])
    variants = _note_variants(good)
    expected = [_python_parses(n) for n in variants]
    result = run(page, """
      const out = [];
      for (const note of arg) {
        try { v.checkpointBlock(v.parseSignedCheckpoint(note).checkpoint); out.push(true); }
        catch (e) { out.push(e instanceof v.VerifyError ? false : 'threw ' + e); }
      }
      return out;
    """, variants)
    assert list(zip(result, expected, strict=True)) == [(e, e) for e in expected], [
        (i, repr(variants[i][-80:])) for i, (r, e) in enumerate(zip(result, expected,
                                                                    strict=True)) if r != e]
    assert expected.count(True) >= 4 and expected.count(False) >= 25
    guard.assert_clean()


# -- checkpoints, quorum and whole bundles --------------------------------------------------------

VERIFY = """
  const out = [];
  for (const [bundle, trusted] of arg) {
    const verdict = await v.verifyTransaction(bundle, trusted);
    out.push({ok: verdict.ok, fork: verdict.fork, keep: verdict.keep, trusted: verdict.trusted,
              failed: verdict.steps.filter((s) => !s.ok && !s.skipped)
                                   .map((s) => [s.name, s.detail]),
              steps: verdict.steps});
  }
  return out;
"""


def verdicts(page: Page, cases: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """Return verify.js's verdict for each (bundle, trusted) pair."""
    got = run(page, VERIFY, json.loads(json.dumps(cases)))
    for verdict in got:
        verdict["failed"] = [tuple(f) for f in verdict["failed"]]
    return list(got)


def _python_quorum(chain: Chain, note: str) -> str:
    """Return 'ok' or the Python core's refusal, for comparison with the browser's."""
    try:
        check_cosigned(parse_signed_checkpoint(note), chain.chain_id,
                       {n.id: n for n in chain.nodes})
    except LedgerError as exc:
        return str(exc)
    return "ok"


def test_a_genuine_bundle_passes_and_says_what_was_checked_and_trusted(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    chain = Chain(four_orgs())
    bundle = chain.bundle(["node-core", "node-bank-a", "node-auditor"])
    pinned = {"genesis_tx_id": chain.genesis.transaction.tx_id, "genesis_source": "typed in"}
    first_use, again = verdicts(page, [(bundle, None), (bundle, pinned)])
    assert first_use["ok"] and again["ok"], (first_use["failed"], again["failed"])
    assert [s["name"] for s in first_use["steps"]] == [
        "format", "genesis", "checkpoint", "cosigners", "genesis_link", "transaction",
        "inclusion", "consistency"]
    details = {s["name"]: s["detail"] for s in first_use["steps"]}
    assert details["cosigners"] == ("checkpoint cosigned by node-auditor, node-bank-a, node-core: "
                                    "3 of 4 organisations, quorum 3")
    assert "first use" in details["genesis"]
    assert chain.genesis.transaction.tx_id in details["genesis"]
    assert f"leaf {chain.index} of {chain.log.size}" in details["inclusion"]
    assert first_use["trusted"]["genesis"]["first_use"] is True
    assert again["trusted"]["genesis"] == {"tx_id": chain.genesis.transaction.tx_id,
                                           "first_use": False, "source": "typed in"}
    assert [n["id"] for n in again["trusted"]["nodes"]] == [n.id for n in chain.nodes]
    assert again["keep"] == {"genesis_tx_id": chain.genesis.transaction.tx_id,
                             "checkpoint": bundle["checkpoint"]["checkpoint"]}
    guard.assert_clean()


def test_quorum_is_counted_over_organisations_running_nodes(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    four = Chain(four_orgs())
    one_org = Chain(nodes_of(("node-a", "core"), ("node-b", "core")))
    three_of_two = Chain(nodes_of(("n1", "core"), ("n2", "core"), ("n3", "b1")))
    stranger = PrivateKey(sha256(b"not a registered node"))
    cases = [  # chain, signers, passes, expected failure of the cosigners step
        (four, ["node-core", "node-bank-a", "node-auditor", "node-s1"], "4 of 4 organisations"),
        (four, ["node-core", "node-bank-a"], "nodes of 2 organisation(s); a quorum is 3"),
        (four, ["node-core"], "nodes of 1 organisation(s); a quorum is 3"),
        (one_org, ["node-a"], "1 of 1 organisations, quorum 1"),
        (one_org, ["node-a", "node-b"], "1 of 1 organisations, quorum 1"),
        (three_of_two, ["n1", "n2"], "nodes of 1 organisation(s); a quorum is 2"),
        (three_of_two, ["n2", "n3"], "2 of 2 organisations, quorum 2"),
    ]
    notes = [chain.note(signers) for chain, signers, _ in cases]
    # a cosigner the genesis does not register counts for nothing, even under a node's name
    notes.append(with_signature(four.note(["node-core", "node-bank-a"]),
                                sign_note(four.checkpoint().text(), "node-s9", stranger)))
    notes.append(four.note(["node-core", "node-bank-a", "node-s1"],
                           keys={"node-s1": stranger}))
    cases += [(four, [], "nodes of 2 organisation(s); a quorum is 3")] * 2
    got = verdicts(page, [(chain.bundle([], note=note), None)
                          for (chain, _, _), note in zip(cases, notes, strict=True)])
    for (chain, signers, expected), note, verdict in zip(cases, notes, got, strict=True):
        python = _python_quorum(chain, note)
        cosigners = next(s for s in verdict["steps"] if s["name"] == "cosigners")
        assert expected in cosigners["detail"], (signers, cosigners)
        assert verdict["ok"] is (python == "ok") is cosigners["ok"], (signers, python, verdict)
        if python != "ok":
            assert cosigners["detail"] == python
            assert [name for name, _ in verdict["failed"]] == ["cosigners"]
    guard.assert_clean()


def _b64(raw: bytes | bytearray) -> str:
    return base64.b64encode(bytes(raw)).decode()


def test_forged_checkpoints_fail_at_the_step_that_catches_them(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    chain = Chain(four_orgs())
    signers = ["node-core", "node-bank-a", "node-auditor"]
    good = chain.note(signers)
    text, _, lines = good.partition("\n\n")
    first = lines.splitlines()[0]
    name, encoded = first[2:].split(" ")
    raw = base64.b64decode(encoded)
    tampered_sig, wrong_id = bytearray(raw), bytearray(raw)
    tampered_sig[10] ^= 1
    wrong_id[0] ^= 1
    root_line = text.split("\n")[2]
    forged = {
        "tampered signature": good.replace(first, f"\u2014 {name} {_b64(tampered_sig)}"),
        "wrong key ID": good.replace(first, f"\u2014 {name} {_b64(wrong_id)}"),
        "another origin": chain.note(signers, origin_chain="other-chain"),
        "root changed after signing": good.replace(root_line, _b64(chain.log.root(3))),
        "no blank line": good.replace("\n\n", "\n"),
        "unsigned": None,
    }
    bundles = [chain.bundle(signers, note=n) if n else edited(
        chain.bundle(signers), ["checkpoint", "checkpoint"], None) for n in forged.values()]
    bundles[-1]["checkpoint"]["unsigned"] = "no node key"
    got = verdicts(page, [(b, None) for b in bundles])
    failed = {what: v["failed"] for what, v in zip(forged, got, strict=True)}
    assert failed == {
        "tampered signature": [("cosigners", f"the note signature of {name} does not verify")],
        "wrong key ID": [("cosigners", "the checkpoint is cosigned by nodes of 2 organisation(s); "
                                       "a quorum is 3")],
        "another origin": [("checkpoint", "the checkpoint's origin is "
                                          "'ledger.receivables/other-chain', not "
                                          "'ledger.receivables/test-chain'")],
        "root changed after signing": [
            ("cosigners", f"the note signature of {name} does not verify"),
            ("genesis_link", failed["root changed after signing"][1][1]),
            ("inclusion", failed["root changed after signing"][2][1])],
        "no blank line": [("checkpoint", "a signed note has a blank line before its signatures")],
        "unsigned": [("checkpoint", "the node serves no signed checkpoint: no node key")],
    }
    for what, note in forged.items():
        if note is not None and "blank" not in what:
            expected = _python_quorum(chain, note)
            assert failed[what][0][1] == expected, what
    assert not any(v["ok"] for v in got)
    guard.assert_clean()


def test_forged_proofs_envelopes_and_genesis_fail_visibly(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    chain = Chain(four_orgs())
    signers = ["node-core", "node-bank-a", "node-auditor"]
    good = chain.bundle(signers)
    other = Chain(four_orgs(), chain_id="test-chain", seed="other")
    other_members = Chain(nodes_of(("node-core", "core")))
    envelope = good["transaction"]["envelope"]
    sig = envelope["signatures"][0]["sig"]
    cases = {
        "proof hash flipped": (edited(good, ["inclusion", "proof", 0],
                                      flip_hex(good["inclusion"]["proof"][0])), "inclusion"),
        "last proof hash flipped": (edited(good, ["inclusion", "proof", -1],
                                           flip_hex(good["inclusion"]["proof"][-1], 31)),
                                    "inclusion"),
        "wrong index": (edited(edited(good, ["inclusion", "leaf_index"], chain.index + 1),
                               ["transaction", "log_index"], chain.index + 1), "inclusion"),
        "index disagrees": (edited(good, ["inclusion", "leaf_index"], chain.index - 1),
                            "inclusion"),
        "wrong size": (edited(good, ["inclusion", "tree_size"], chain.log.size - 1), "inclusion"),
        "path truncated": (edited(good, ["inclusion", "proof"], good["inclusion"]["proof"][:-1]),
                           "inclusion"),
        "path extended": (edited(good, ["inclusion", "proof"],
                                 [*good["inclusion"]["proof"], "00" * 32]), "inclusion"),
        "envelope signature changed": (edited(good, ["transaction", "envelope", "signatures", 0,
                                                      "sig"], sig[:-4] + "AAA="), "inclusion"),
        "envelope body changed": (edited(good, ["transaction", "envelope", "body"],
                                         envelope["body"].replace("1234", "9234")), "transaction"),
        "genesis link forged": (edited(good, ["genesis_link", "proof", 0],
                                       flip_hex(good["genesis_link"]["proof"][0])),
                                "genesis_link"),
        # a genesis needing only node-core (same key): its leaf is not the cosigned log's leaf 0
        "a genesis with fewer nodes": (edited(good, ["genesis"], other_members.genesis.to_json()),
                                       "genesis_link"),
        "not this log's genesis": (edited(good, ["genesis_link"], other.consistency(
            1, other.log.size)), "genesis_link"),
    }
    got = verdicts(page, [(bundle, None) for bundle, _ in cases.values()])
    for (what, (_, step)), verdict in zip(cases.items(), got, strict=True):
        assert not verdict["ok"], what
        assert [name for name, _ in verdict["failed"]][:1] == [step], (what, verdict["failed"])
    pinned = {"genesis_tx_id": chain.genesis.transaction.tx_id}
    swapped = verdicts(page, [(edited(good, ["genesis"], other_members.genesis.to_json()),
                               pinned)])[0]
    assert swapped["failed"][0][0] == "genesis"
    assert "another consortium's nodes" in swapped["failed"][0][1]
    guard.assert_clean()


def test_consistency_with_the_trusted_checkpoint_and_forks(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    signers = ["node-core", "node-bank-a", "node-auditor"]
    chain = Chain(four_orgs())
    earlier_size = chain.log.size
    earlier = chain.note(signers)
    chain.grow(7, "more")
    fork = Chain(four_orgs(), seed="fork")  # same genesis and keys, another history
    fork.grow(7, "forked")
    unsigned_fork = fork.note(["node-core"])
    pinned = chain.genesis.transaction.tx_id
    trust = {"genesis_tx_id": pinned, "checkpoint": earlier}
    extended = chain.bundle(signers, since=earlier_size)
    cases = {
        "extends": (extended, trust),
        "same checkpoint": (chain.bundle(signers, since=chain.log.size),
                            {**trust, "checkpoint": chain.note(signers)}),
        "older than trusted": (edited(chain.bundle(signers, since=chain.log.size),
                                      ["checkpoint", "checkpoint"], chain.note(signers)),
                               {**trust, "checkpoint": chain.note(signers)}),
        "no proof given": (chain.bundle(signers), trust),
        "node refused": (edited(extended, ["consistency"], {"first": earlier_size,
                                                            "second": chain.log.size,
                                                            "error": "size too large"}), trust),
        "forked history": (fork.bundle(signers, since=earlier_size), trust),
        "same size, another root": (edited(chain.bundle(signers, since=chain.log.size),
                                           ["checkpoint", "checkpoint"],
                                           fork.note(signers, size=chain.log.size)),
                                    {**trust, "checkpoint": chain.note(signers)}),
        "later block, smaller log": (chain.bundle(signers, since=earlier_size),
                                     {**trust, "checkpoint": chain.note(
                                         signers, size=earlier_size, height=10**6)}),
        "trusted one not cosigned": (extended, {**trust, "checkpoint": unsigned_fork}),
    }
    older = cases["older than trusted"]
    older[0]["checkpoint"]["checkpoint"] = chain.note(signers, size=earlier_size)
    older[0]["inclusion"] = edited(older[0]["inclusion"], ["tree_size"], earlier_size)
    older[0]["inclusion"]["proof"] = [p.hex() for p in chain.log.inclusion_proof(
        chain.index, earlier_size)]
    older[0]["genesis_link"] = chain.consistency(1, earlier_size)
    older[0]["consistency"] = chain.consistency(earlier_size, chain.log.size)
    got = dict(zip(cases, verdicts(page, list(cases.values())), strict=True))
    consistency = {what: next(s for s in v["steps"] if s["name"] == "consistency")
                   for what, v in got.items()}
    assert [what for what, v in got.items() if v["ok"]] == [
        "extends", "same checkpoint", "older than trusted"]
    assert "extends the one of size" in consistency["extends"]["detail"]
    assert got["extends"]["keep"]["checkpoint"] == extended["checkpoint"]["checkpoint"]
    assert got["older than trusted"]["keep"]["checkpoint"] == chain.note(signers)
    assert got["extends"]["trusted"]["previous_checkpoint"]["size"] == earlier_size
    assert "no consistency proof from size" in consistency["no proof given"]["detail"]
    assert "size too large" in consistency["node refused"]["detail"]
    forks = {what: v["fork"] for what, v in got.items() if v["fork"]}
    assert set(forks) == {"forked history", "same size, another root", "later block, smaller log"}
    assert forks["forked history"]["reason"].startswith(f"no consistency from size {earlier_size}")
    assert forks["forked history"]["trusted_checkpoint"] == earlier
    assert forks["same size, another root"]["reason"] == "the same log size has two different roots"
    assert consistency["forked history"]["detail"].startswith("fork: ")
    assert "quorum is 3" in consistency["trusted one not cosigned"]["detail"]
    assert all(v["keep"] is None for what, v in got.items() if not v["ok"])
    guard.assert_clean()


def test_verify_consistency_alone(browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    chain = Chain(four_orgs())
    size = chain.log.size
    a = chain.note(["node-core"])
    chain.grow(3, "x")
    b = chain.note(["node-core"])
    proof = [p.hex() for p in chain.log.consistency_proof(size, chain.log.size)]
    nodes = [n.to_json() for n in chain.nodes]
    result = run(page, """
      const [a, b, proof, nodes] = arg;
      const out = [];
      for (const args of [[a, b, proof], [a, b, proof, nodes], [b, a, proof],
                          [a, b, proof.slice(1)], [a, 'junk', proof], [a, b, 'junk'],
                          [null, undefined, null, 7]]) {
        const r = await v.verifyConsistency(...args);
        out.push([r.ok, Boolean(r.fork), r.detail]);
      }
      return out;
    """, [a, b, proof, nodes])
    assert [r[:2] for r in result] == [[True, False], [False, False], [True, False],
                                       [False, True], [False, False], [False, False],
                                       [False, False]]
    assert "quorum is 3" in result[1][2]  # one of four organisations cosigned
    assert "older than the trusted one" in result[2][2]
    guard.assert_clean()


MALFORMED: list[Any] = [None, 7, "junk", [], {}, {"format": "ledger-verification/1"},
                        {"format": "ledger-verification/1", "chain_id": "c", "tx_id": "zz"}]


def test_malformed_input_gets_a_verdict_never_an_exception(
        browser_page: tuple[Page, Guard]) -> None:
    page, guard = browser_page
    chain = Chain(four_orgs())
    good = chain.bundle(["node-core", "node-bank-a", "node-auditor"])
    bundles = list(MALFORMED)
    junk: list[Any] = [None, 7, "x", [], {}, [None], {"a": 1}, -1, 1.5, 2**60, "00" * 32]
    paths = (["genesis"], ["genesis", "transaction"], ["genesis", "transaction", "body"],
             ["genesis", "chain_id"], ["transaction"], ["transaction", "envelope"],
             ["transaction", "envelope", "signatures"], ["transaction", "log_index"],
             ["checkpoint"], ["checkpoint", "checkpoint"], ["inclusion"],
             ["inclusion", "proof"], ["inclusion", "leaf_index"], ["inclusion", "tree_size"],
             ["genesis_link"], ["genesis_link", "proof"], ["consistency"], ["tx_id"])
    harmless = []  # edits that pass: no consistency is needed yet; a log index not given
    for path in paths:
        for value in junk:
            if path == ["consistency"] or (path[-1] == "log_index" and value is None):
                harmless.append(len(bundles))
            bundles.append(edited(good, path, value))
    trusts: list[Any] = [None, 5, "x", {"genesis_tx_id": 5, "checkpoint": ["x"]},
                         {"checkpoint": "junk\n\n\u2014 a AAAAAAAA\n"}]
    cases = [(b, None) for b in bundles] + [(good, t) for t in trusts]
    got = verdicts(page, cases)
    assert len(got) == len(cases)
    assert all(isinstance(v["ok"], bool) and v["steps"] for v in got)
    verifier_stops = [v["steps"] for v in got if any(s["name"] == "verifier" for s in v["steps"])]
    assert verifier_stops == []
    could_not = [s["detail"] for v in got for s in v["steps"] if "could not check" in s["detail"]]
    assert could_not == []  # every refusal is a reason, not a JavaScript error
    assert [i for i, v in enumerate(got[: len(bundles)]) if v["ok"]] == harmless
    assert len(harmless) == len(junk) + 1  # no consistency needed, and a log index not given
    assert [v["ok"] for v in got[len(bundles):]] == [True, False, False, False, False]
    assert got[-4]["failed"] == [("format", "what this browser trusts is not an object")]
    guard.assert_clean()
