// verify-page.js: verify.html's behaviour, kept out of the page so a strict CSP holds.
//
// It loads the bundle named by ?bundle=<URL> (same origin only), asks for it again with
// &from=<size> when this browser trusts a checkpoint the bundle's consistency proof does not
// start from, runs verify.js, shows the verdict, and keeps what it may now trust in
// localStorage: per chain, the pinned genesis fingerprint (and how and when it was pinned) and
// the last checkpoint verified; and fork evidence, which is never overwritten.  Everything from
// the bundle is shown as text.
//
// Every word it shows is a key of ENGLISH (its own) or of verify.js's MESSAGES (a step's
// message).  The console's verify page hands over both in its visitor's language as the JSON
// data block `verify-words`, {"page": {key: text}, "messages": {id: text}}
// (client/console/i18n_verify.py); the standalone verify.html has none and reads as English.
// One entry a line, `key: "text",`: tests/client/console/test_i18n.py reads this table.

import { ASSUMPTIONS, say, verifyTransaction, wordsOf } from "./verify.js";

const STORE = "ledger-verify/v1";
const ENGLISH = Object.freeze({
  step_format: "The bundle",
  step_genesis: "Node keys from the genesis",
  step_checkpoint: "The checkpoint",
  step_cosigners: "Cosigned by a quorum",
  step_genesis_link: "The log starts at the genesis",
  step_transaction: "The transaction",
  step_inclusion: "Included in the log",
  step_consistency: "Consistent with what this browser trusted",
  step_verifier: "The verifier",
  passed: "Passed",
  failed: "Failed",
  not_checked: "Not checked",
  verifying: "Verifying\u2026",
  headline_ok: "Verified by this browser",
  headline_failed: "Not verified",
  headline_fork: "Fork detected",
  ok_detail: "Transaction {tx} is in the log cosigned by {cosigners} (block {height}, log size {size}).",
  failed_detail: "{step}: {detail}",
  fork_detail: "{reason}. The nodes' own signatures show two logs; this browser keeps the evidence and still trusts the earlier checkpoint.",
  bundle_status: "the console answered {status} for the bundle.",
  bundle_not_json: "the bundle is not JSON.",
  bundle_unreachable: "the bundle could not be fetched: the console did not answer.",
  no_bundle: "no bundle to verify: open this page with ?bundle=<the URL of a verification bundle>.",
  bundle_not_url: "the bundle's address is not a URL.",
  bundle_other_origin: "the bundle must come from this console (the same origin as this page).",
  page_stopped: "the page stopped: {error}.",
  term_genesis: "The genesis",
  term_node_keys: "Node keys it registers",
  term_quorum: "Quorum",
  term_previous: "Checkpoint trusted before",
  term_assumed: "Also assumed",
  genesis_line: "transaction {tx}: {source}",
  genesis_none: "none could be read from the bundle",
  node_line: "{id} (organisation {org}): {key}",
  quorum_line: "nodes of {quorum} organisation(s)",
  previous_line: "block {height}, log size {size}: {source}",
  previous_none: "none: this is the first verification of this chain in this browser",
  pinned_first_use: "pinned in this browser on first use, {date}",
  pinned_typed: "typed in on {date}",
  kept_on: "kept in this browser on {date}",
  pin_state: "Genesis fingerprint {fingerprint} ({source}); checkpoint of block {height}, log size {size}, kept on {date}.",
  pin_state_no_checkpoint: "Genesis fingerprint {fingerprint} ({source}); no checkpoint kept yet.",
  pin_none: "No genesis fingerprint is pinned for this chain yet.",
  pin_invalid: "64 hex digits, once a bundle has loaded",
});
const $ = (id) => document.getElementById(id);

function givenWords() {
  try {
    const block = document.getElementById("verify-words");
    const given = block ? JSON.parse(block.textContent) : {};
    return given && typeof given === "object" ? given : {};
  } catch {
    return {};
  }
}

function texts(table) {
  return Object.fromEntries(Object.entries(table && typeof table === "object" ? table : {})
    .filter(([, text]) => typeof text === "string"));
}

const GIVEN = givenWords();
const PAGE = { ...ENGLISH, ...texts(GIVEN.page) };
const MESSAGE_WORDS = texts(GIVEN.messages);

/** Return page word `key` with its {fields} filled from `values` (text already). */
function word(key, values = {}) {
  return wordsOf({ id: key, values }, PAGE);
}

/** Return a verifier message (or text, as old evidence holds) in the page's language. */
function text(message) {
  return wordsOf(message, MESSAGE_WORDS);
}

function stepName(name) {
  return Object.hasOwn(ENGLISH, `step_${name}`) ? word(`step_${name}`) : name;
}

/** An error of this page: what went wrong before verify.js could give a verdict, in words. */
class PageError extends Error {
  constructor(key, values = {}) {
    super(wordsOf({ id: key, values }, ENGLISH));
    this.key = key;
    this.values = values;
  }
}

function okDetail(txId, c) {
  return word("ok_detail", { tx: txId, cosigners: c.cosigners.join(", "), height: c.height, size: c.size });
}

function today() {
  return new Date().toISOString().slice(0, 10);
}

function load() {
  try {
    const state = JSON.parse(localStorage.getItem(STORE) || "null");
    if (state && typeof state.chains === "object" && Array.isArray(state.forks)) return state;
  } catch {
    // an unreadable store trusts nothing
  }
  return { chains: {}, forks: [] };
}

function save(state) {
  localStorage.setItem(STORE, JSON.stringify(state));
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function showVerdict(kind, headline, detail) {
  const box = $("verdict");
  box.className = `verdict ${kind}`;
  box.replaceChildren(element("strong", headline, "headline"));
  if (detail) box.append(element("span", detail, "verdict-detail"));
}

async function fetchBundle(url) {
  let answer;
  try {
    answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch {
    throw new PageError("bundle_unreachable");
  }
  if (!answer.ok) throw new PageError("bundle_status", { status: String(answer.status) });
  try {
    return await answer.json();
  } catch {
    throw new PageError("bundle_not_json");
  }
}

function joins(consistency, trustedSize, size) {
  if (!consistency || typeof consistency !== "object" || typeof size !== "number") return false;
  return consistency.first === Math.min(trustedSize, size) && consistency.second === Math.max(trustedSize, size);
}

async function loadBundle(url, state) {
  let bundle = await fetchBundle(url.href);
  const chain = bundle && typeof bundle.chain_id === "string" ? bundle.chain_id : null;
  const trust = (chain && state.chains[chain]) || {};
  if (trust.checkpoint_size && !joins(bundle.consistency, trust.checkpoint_size, bundle.checkpoint && bundle.checkpoint.size)) {
    const again = new URL(url.href);
    again.searchParams.set("from", String(trust.checkpoint_size));
    bundle = await fetchBundle(again.href);
  }
  return { bundle, chain, trust };
}

function remember(state, chain, trust, verdict) {
  if (verdict.fork) {
    state.forks.push({ chain_id: chain, found: new Date().toISOString(), ...verdict.fork });
  }
  if (!verdict.ok || !chain) return;
  const kept = { ...trust };
  if (!kept.genesis_tx_id) {
    kept.genesis_tx_id = verdict.keep.genesis_tx_id;
    kept.genesis_pinned = "first_use";
    kept.genesis_pinned_on = today();
  }
  if (verdict.keep.checkpoint !== trust.checkpoint) {
    kept.checkpoint = verdict.keep.checkpoint;
    kept.checkpoint_size = verdict.checkpoint.size;
    kept.checkpoint_height = verdict.checkpoint.height;
    kept.checkpoint_kept_on = today();
  }
  state.chains[chain] = kept;
}

function renderSteps(steps) {
  const list = $("steps");
  list.replaceChildren();
  for (const step of steps) {
    const kind = step.ok ? "ok" : step.skipped ? "skipped" : "failed";
    const item = element("li", undefined, kind);
    const mark = element("span", step.ok ? "\u2713" : step.skipped ? "\u2013" : "\u2717", "mark");
    mark.setAttribute("aria-hidden", "true");
    item.append(mark, element("span", step.ok ? word("passed") : step.skipped ? word("not_checked") : word("failed"), "result"),
      element("span", stepName(step.name), "name"), element("p", text(step.message ?? step.detail), "detail"));
    list.append(item);
  }
}

function term(list, name, value) {
  list.append(element("dt", name));
  const dd = element("dd");
  if (Array.isArray(value)) {
    const items = element("ul");
    for (const line of value) items.append(element("li", line));
    dd.append(items);
  } else {
    dd.textContent = value;
  }
  list.append(dd);
}

function english(key, values = {}) {
  return wordsOf({ id: key, values }, ENGLISH);
}

/** Return how this browser came to trust its pinned genesis (`trust`: its store), in words.
 *
 * `words` and `message` give the page's words and verify.js's messages in one language: the
 * page's (the default) or English (`english`, `wordsOf`).
 */
function genesisSource(trust, words = word, message = text) {
  if (trust.genesis_pinned === "first_use") return words("pinned_first_use", { date: trust.genesis_pinned_on });
  if (trust.genesis_pinned === "typed") return words("pinned_typed", { date: trust.genesis_pinned_on });
  return message(say("source_pinned"));  // pinned before these words were kept
}

/** Return where the checkpoint this browser trusts came from, in words (as genesisSource). */
function checkpointSource(trust, words = word, message = text) {
  if (trust.checkpoint_kept_on) return words("kept_on", { date: trust.checkpoint_kept_on });
  return message(say("source_kept"));
}

function renderTrusted(trusted, trust) {
  const list = $("trusted");
  list.replaceChildren();
  if (trusted.genesis) {
    const source = trusted.genesis.first_use ? text(say("source_first_use")) : genesisSource(trust);
    term(list, word("term_genesis"), word("genesis_line", { tx: trusted.genesis.tx_id, source }));
    term(list, word("term_node_keys"), trusted.nodes.map(
      (n) => word("node_line", { id: n.id, org: n.org, key: n.public_key })));
    term(list, word("term_quorum"), word("quorum_line", { quorum: trusted.quorum }));
  } else {
    term(list, word("term_genesis"), word("genesis_none"));
  }
  const previous = trusted.previous_checkpoint;
  term(list, word("term_previous"), previous
    ? word("previous_line", { height: previous.height ?? "?", size: previous.size ?? "?", source: checkpointSource(trust) })
    : word("previous_none"));
  term(list, word("term_assumed"), ASSUMPTIONS.map(text));
}

function renderFork(fork) {
  $("fork").hidden = !fork;
  if (!fork) return;
  $("fork-reason").textContent = text(fork.reason_message ?? fork.reason);
  $("fork-trusted").textContent = fork.trusted_checkpoint;
  $("fork-served").textContent = fork.served_checkpoint;
}

function renderVerdict(verdict, trust) {
  if (verdict.fork) {
    showVerdict("fork", word("headline_fork"), word("fork_detail", { reason: text(verdict.fork.reason_message ?? verdict.fork.reason) }));
  } else if (verdict.ok) {
    showVerdict("ok", word("headline_ok"), okDetail(verdict.tx_id, verdict.checkpoint));
  } else {
    const failed = verdict.steps.find((s) => !s.ok && !s.skipped) || verdict.steps.find((s) => !s.ok);
    showVerdict("failed", word("headline_failed"), word("failed_detail", { step: stepName(failed.name), detail: text(failed.message ?? failed.detail) }));
  }
  renderSteps(verdict.steps);
  renderTrusted(verdict.trusted, trust);
  renderFork(verdict.fork);
}

function renderPinState(trust) {
  if (!trust.genesis_tx_id) {
    $("pin-state").textContent = word("pin_none");
    return;
  }
  const facts = { fingerprint: trust.genesis_tx_id, source: genesisSource(trust) };
  $("pin-state").textContent = trust.checkpoint_size
    ? word("pin_state", { ...facts, height: trust.checkpoint_height, size: trust.checkpoint_size, date: trust.checkpoint_kept_on })
    : word("pin_state_no_checkpoint", facts);
}

function bundleUrl() {
  // ?bundle=<URL>, or the console's verify page's data-bundle (its own URL stays clean)
  const app = document.getElementById("verify-app");
  const given = new URLSearchParams(location.search).get("bundle") || (app && app.dataset.bundle);
  if (!given) throw new PageError("no_bundle");
  let url;
  try {
    url = new URL(given, location.href);
  } catch {
    throw new PageError("bundle_not_url");
  }
  if (url.origin !== location.origin) throw new PageError("bundle_other_origin");
  return url;
}

let current = { chain: null };

async function verify() {
  showVerdict("pending", word("verifying"));
  const state = load();
  const { bundle, chain, trust } = await loadBundle(bundleUrl(), state);
  current = { chain };
  const verdict = await verifyTransaction(bundle, {  // the sources in English: verdict.trusted's
    genesis_tx_id: trust.genesis_tx_id ?? null,
    genesis_source: trust.genesis_tx_id ? genesisSource(trust, english, wordsOf) : null,
    checkpoint: trust.checkpoint ?? null,
    checkpoint_source: trust.checkpoint ? checkpointSource(trust, english, wordsOf) : null,
  });
  remember(state, chain, trust, verdict);
  save(state);
  renderVerdict(verdict, trust);
  renderPinState(state.chains[chain] || {});
  document.body.dataset.verdict = verdict.fork ? "fork" : verdict.ok ? "ok" : "failed";
}

async function run() {
  try {
    await verify();
  } catch (error) {
    const detail = error instanceof PageError ? word(error.key, error.values)
      : word("page_stopped", { error: String(error && error.message) });
    showVerdict("failed", word("headline_failed"), detail);
    document.body.dataset.verdict = "failed";
  }
}

$("pin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("genesis-pin").value.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(value) || !current.chain) {
    $("genesis-pin").setCustomValidity(word("pin_invalid"));
    $("genesis-pin").reportValidity();
    return;
  }
  $("genesis-pin").setCustomValidity("");
  const state = load();
  const before = state.chains[current.chain] || {};
  // checkpoints verified under another genesis' keys are not kept
  state.chains[current.chain] = before.genesis_tx_id === value ? before
    : { genesis_tx_id: value, genesis_pinned: "typed", genesis_pinned_on: today() };
  save(state);
  run();
});

$("forget").addEventListener("click", () => {
  const state = load();
  if (current.chain) delete state.chains[current.chain];
  save(state);
  run();
});

run();
