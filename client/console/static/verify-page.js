// verify-page.js: verify.html's behaviour, kept out of the page so a strict CSP holds.
//
// It loads the bundle named by ?bundle=<URL> (same origin only), asks for it again with
// &from=<size> when this browser trusts a checkpoint the bundle's consistency proof does not
// start from, runs verify.js, shows the verdict, and keeps what it may now trust in
// localStorage: per chain, the pinned genesis fingerprint and the last checkpoint verified; and
// fork evidence, which is never overwritten.  Everything from the bundle is shown as text.

import { verifyTransaction } from "./verify.js";

const STORE = "ledger-verify/v1";
const LABELS = {
  format: "The bundle",
  genesis: "Node keys from the genesis",
  checkpoint: "The checkpoint",
  cosigners: "Cosigned by a quorum",
  genesis_link: "The log starts at the genesis",
  transaction: "The transaction",
  inclusion: "Included in the log",
  consistency: "Consistent with what this browser trusted",
  verifier: "The verifier",
};
const $ = (id) => document.getElementById(id);

// The console's page hands over its words (zh or en) as a JSON data block; the standalone
// verify.html has none and reads as English.
function pageWords() {
  try {
    const block = document.getElementById("verify-words");
    return block ? JSON.parse(block.textContent) : {};
  } catch {
    return {};
  }
}
const WORDS = pageWords();
const STEP_NAMES = { ...LABELS, ...(WORDS.steps || {}) };
const word = (key, english) => (typeof WORDS[key] === "string" ? WORDS[key] : english);

function okDetail(txId, c) {
  const fields = { tx: txId, cosigners: c.cosigners.join(", "), height: c.height, size: c.size };
  const text = word("ok_detail", "Transaction {tx} is in the log cosigned by {cosigners} (block {height}, log size {size}).");
  return text.replace(/\{(tx|cosigners|height|size)\}/g, (_, name) => String(fields[name]));
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
  const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error(`the console answered ${answer.status} for the bundle`);
  try {
    return await answer.json();
  } catch {
    throw new Error("the bundle is not JSON");
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
    kept.genesis_source = `pinned in this browser on first use, ${today()}`;
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
    item.append(mark, element("span", step.ok ? word("passed", "Passed") : step.skipped ? word("not_checked", "Not checked") : word("failed", "Failed"), "result"),
      element("span", STEP_NAMES[step.name] || step.name, "name"), element("p", step.detail, "detail"));
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

function renderTrusted(trusted) {
  const list = $("trusted");
  list.replaceChildren();
  if (trusted.genesis) {
    term(list, "The genesis", `transaction ${trusted.genesis.tx_id}: ${trusted.genesis.source}`);
    term(list, "Node keys it registers", trusted.nodes.map(
      (n) => `${n.id} (organisation ${n.org}): ${n.public_key}`));
    term(list, "Quorum", `nodes of ${trusted.quorum} organisation(s)`);
  } else {
    term(list, "The genesis", "none could be read from the bundle");
  }
  const previous = trusted.previous_checkpoint;
  term(list, "Checkpoint trusted before", previous
    ? `block ${previous.height ?? "?"}, log size ${previous.size ?? "?"}: ${previous.source}`
    : "none: this is the first verification of this chain in this browser");
  term(list, "Also assumed", trusted.assumptions);
}

function renderFork(fork) {
  $("fork").hidden = !fork;
  if (!fork) return;
  $("fork-reason").textContent = fork.reason;
  $("fork-trusted").textContent = fork.trusted_checkpoint;
  $("fork-served").textContent = fork.served_checkpoint;
}

function renderVerdict(verdict) {
  if (verdict.fork) {
    showVerdict("fork", word("headline_fork", "Fork detected"), `${verdict.fork.reason}. The nodes' own signatures show two logs; this browser keeps the evidence and still trusts the earlier checkpoint.`);
  } else if (verdict.ok) {
    const c = verdict.checkpoint;
    showVerdict("ok", word("headline_ok", "Verified by this browser"), okDetail(verdict.tx_id, c));
  } else {
    const failed = verdict.steps.find((s) => !s.ok && !s.skipped) || verdict.steps.find((s) => !s.ok);
    showVerdict("failed", word("headline_failed", "Not verified"), `${STEP_NAMES[failed.name] || failed.name}: ${failed.detail}`);
  }
  renderSteps(verdict.steps);
  renderTrusted(verdict.trusted);
  renderFork(verdict.fork);
}

function renderPinState(trust) {
  $("pin-state").textContent = trust.genesis_tx_id
    ? `Genesis fingerprint ${trust.genesis_tx_id} (${trust.genesis_source || "pinned"})` + (trust.checkpoint_size
      ? `; checkpoint of block ${trust.checkpoint_height}, log size ${trust.checkpoint_size}, kept on ${trust.checkpoint_kept_on}.`
      : "; no checkpoint kept yet.")
    : "No genesis fingerprint is pinned for this chain yet.";
}

function bundleUrl() {
  // ?bundle=<URL>, or the console's verify page's data-bundle (its own URL stays clean)
  const app = document.getElementById("verify-app");
  const given = new URLSearchParams(location.search).get("bundle") || (app && app.dataset.bundle);
  if (!given) throw new Error("no bundle to verify: open this page with ?bundle=<the URL of a verification bundle>");
  let url;
  try {
    url = new URL(given, location.href);
  } catch {
    throw new Error("the bundle's address is not a URL");
  }
  if (url.origin !== location.origin) throw new Error("the bundle must come from this console (the same origin as this page)");
  return url;
}

let current = { chain: null };

async function verify() {
  showVerdict("pending", "Verifying…");
  const state = load();
  const { bundle, chain, trust } = await loadBundle(bundleUrl(), state);
  current = { chain };
  const verdict = await verifyTransaction(bundle, {
    genesis_tx_id: trust.genesis_tx_id ?? null,
    genesis_source: trust.genesis_source ?? null,
    checkpoint: trust.checkpoint ?? null,
    checkpoint_source: trust.checkpoint_kept_on ? `kept in this browser on ${trust.checkpoint_kept_on}` : null,
  });
  remember(state, chain, trust, verdict);
  save(state);
  renderVerdict(verdict);
  renderPinState(state.chains[chain] || {});
  document.body.dataset.verdict = verdict.fork ? "fork" : verdict.ok ? "ok" : "failed";
}

async function run() {
  try {
    await verify();
  } catch (error) {
    showVerdict("failed", word("headline_failed", "Not verified"), `${error.message}.`);
    document.body.dataset.verdict = "failed";
  }
}

$("pin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("genesis-pin").value.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(value) || !current.chain) {
    $("genesis-pin").setCustomValidity("64 hex digits, once a bundle has loaded");
    $("genesis-pin").reportValidity();
    return;
  }
  $("genesis-pin").setCustomValidity("");
  const state = load();
  const before = state.chains[current.chain] || {};
  // checkpoints verified under another genesis' keys are not kept
  state.chains[current.chain] = before.genesis_tx_id === value ? before
    : { genesis_tx_id: value, genesis_source: `typed in on ${today()}` };
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
