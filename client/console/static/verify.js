// verify.js: a participant's browser checks, itself, that a transaction is in the log a
// quorum of the consortium's nodes cosigned, so that neither the console that serves the
// page nor any single node has to be trusted for what the page shows.
//
// It re-implements, with WebCrypto alone (SHA-256, Ed25519) and no dependency, exactly
// what the Python core does: RFC 9162 leaf and interior hashes, the root from an
// inclusion proof (§2.1.3.2) and consistency proof verification (§2.1.4.2) as
// ledger/merkle.py; C2SP signed notes and Ed25519 key IDs, strictly, as
// ledger/signed_note.py; the checkpoint body as ledger/checkpoint.py; the quorum over
// the organisations running nodes as ledger/attestation.quorum_size.  The bundle it
// checks is made by client/console/verification.py (docs/FORMATS.md, "The verification
// bundle").  The node keys come from the genesis transaction the browser pinned (its id,
// a SHA-256), never from the console's word.
//
// Every exported function that checks something returns a verdict or throws only
// VerifyError (the low-level proof checks); verifyTransaction and verifyConsistency
// never throw: anything malformed becomes a failed step with its reason.

export const BUNDLE_FORMAT = "ledger-verification/1";
export const ORIGIN_PREFIX = "ledger.receivables/";
const HASH_SIZE = 32;
const KEY_ID_SIZE = 4;
const SIGNATURE_SIZE = 64;
const MAX_SIGNATURES = 100;
const MAX_NUMBER = (1n << 63n) - 1n;
const SIGNATURE_PREFIX = "\u2014 "; // an em dash and a space
const DECIMAL = /^(0|[1-9][0-9]{0,18})$/;
const BLOCK_LINE = /^block (0|[1-9][0-9]{0,18}) ([0-9a-f]{64})$/;
const NODE_ID = /^[!-*,-.0-~]{1,64}$/;
const HEX_KEY = /^[0-9a-f]{64}$/;
const HEX_HASH = /^[0-9a-fA-F]{64}$/;
const TX_ID = /^[0-9a-f]{64}$/;
// The characters Python's str.isspace() accepts: a key name holds none of them.
const PY_SPACES = new Set([0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0,
  0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
  0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);
const ENCODER = new TextEncoder();

/** The one error the checks throw: its message says, in words, what is wrong. */
export class VerifyError extends Error {}

// -- bytes, hex, base64 ---------------------------------------------------------------------

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Return `text` quoted as Python's repr() quotes it, so messages read as ledger/'s do. */
function quoted(text) {
  return text.includes("'") && !text.includes('"') ? `"${text}"` : `'${text.replaceAll("'", "\\'")}'`;
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Return lower-case hex of `bytes`. */
export function hexOf(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Decode 64 hex digits (a hash); throw VerifyError naming `what` otherwise. */
export function hashOfHex(text, what) {
  if (typeof text !== "string" || !HEX_HASH.test(text)) {
    throw new VerifyError(`${what} is not a hash (64 hex digits)`);
  }
  return Uint8Array.from(text.match(/../g), (pair) => parseInt(pair, 16));
}

/** Return standard base64 (with padding) of `bytes`. */
export function b64encode(bytes) {
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

/** Decode strict, canonical standard base64 (one spelling per value); throw VerifyError. */
export function b64decode(text, what) {
  if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new VerifyError(`${what} is not valid base64`);
  }
  let binary;
  try {
    binary = atob(text);
  } catch {
    throw new VerifyError(`${what} is not valid base64`);
  }
  const raw = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (b64encode(raw) !== text) {
    throw new VerifyError(`${what} is not in canonical base64 (one spelling per value)`);
  }
  return raw;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function utf8(text, what) {
  if (typeof text !== "string" || !text.isWellFormed()) {
    throw new VerifyError(`${what} is not valid Unicode text`);
  }
  return ENCODER.encode(text);
}

// -- RFC 9162 Merkle trees (ledger/merkle.py) ---------------------------------------------------

/** Return SHA-256(0x00 || data), the leaf hash of `data`. */
export async function leafHash(data) {
  return sha256(concat(Uint8Array.of(0), data));
}

/** Return SHA-256(0x01 || left || right), an interior hash. */
export async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

/** Return the Merkle tree hash of a list of leaf hashes (SHA-256 of nothing when empty). */
export async function rootFromLeafHashes(leaves) {
  let level = Array.from(leaves);
  if (level.length === 0) return sha256(new Uint8Array(0));
  while (level.length > 1) {
    const paired = [];
    for (let i = 0; i + 1 < level.length; i += 2) paired.push(await nodeHash(level[i], level[i + 1]));
    if (level.length % 2) paired.push(level[level.length - 1]);
    level = paired;
  }
  return level[0];
}

/** Return a non-negative integer as a BigInt; throw VerifyError unless it is one exactly. */
export function exactInteger(value, what) {
  if (typeof value === "bigint" && value >= 0n && value <= MAX_NUMBER) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new VerifyError(`${what} is not a non-negative integer`);
}

function checkHash(value, what) {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    throw new VerifyError(`${what} must be ${HASH_SIZE} bytes`);
  }
}

function checkProofHashes(proof) {
  if (!Array.isArray(proof)) throw new VerifyError("a proof is a list of hashes");
  proof.forEach((h, i) => checkHash(h, `proof[${i}]`));
}

function mismatch(what, expected, computed) {
  return new VerifyError(`${what} mismatch: expected ${hexOf(expected)}, computed ${hexOf(computed)}`);
}

/** Return the root an inclusion proof implies (RFC 9162 §2.1.3.2); throw VerifyError. */
export async function rootFromInclusionProof(leaf, index, size, proof) {
  const i = exactInteger(index, "the leaf index");
  const n = exactInteger(size, "the tree size");
  if (!(i < n)) throw new VerifyError(`leaf index ${i} out of range for tree size ${n}`);
  checkHash(leaf, "leaf hash");
  checkProofHashes(proof);
  let fn = i;
  let sn = n - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new VerifyError(`inclusion proof too long for index ${i} in size ${n}`);
    if ((fn & 1n) || fn === sn) {
      r = await nodeHash(p, r);
      while (fn && !(fn & 1n)) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError(`inclusion proof too short for index ${i} in size ${n}`);
  return r;
}

/** Check that `leaf` is leaf `index` of the tree of `size` with `root`; throw VerifyError. */
export async function verifyInclusionProof(leaf, index, size, proof, root) {
  checkHash(root, "root");
  const computed = await rootFromInclusionProof(leaf, index, size, proof);
  if (!equalBytes(computed, root)) throw mismatch("inclusion proof root", root, computed);
}

/** Check that the tree of `second` extends the one of `first` (RFC 9162 §2.1.4.2); throw. */
export async function verifyConsistencyProof(first, second, firstRoot, secondRoot, proof) {
  checkHash(firstRoot, "first root");
  checkHash(secondRoot, "second root");
  checkProofHashes(proof);
  const m = exactInteger(first, "the first size");
  const n = exactInteger(second, "the second size");
  if (!(m <= n)) throw new VerifyError(`need 0 <= first <= second, got first=${m} second=${n}`);
  if (m === n) {
    if (proof.length) throw new VerifyError("consistency proof between equal sizes must be empty");
    if (!equalBytes(firstRoot, secondRoot)) throw mismatch("root for equal sizes", firstRoot, secondRoot);
    return;
  }
  if (m === 0n) throw new VerifyError("a consistency proof from the empty tree is meaningless");
  if (!proof.length) throw new VerifyError("consistency proof is empty");
  const path = Array.from(proof);
  if ((m & (m - 1n)) === 0n) path.unshift(firstRoot);
  let fn = m - 1n;
  let sn = n - 1n;
  while (fn & 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new VerifyError(`consistency proof too long for sizes ${m} -> ${n}`);
    if ((fn & 1n) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (fn && !(fn & 1n)) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError(`consistency proof too short for sizes ${m} -> ${n}`);
  if (!equalBytes(fr, firstRoot)) throw mismatch("first root", firstRoot, fr);
  if (!equalBytes(sr, secondRoot)) throw mismatch("second root", secondRoot, sr);
}

// -- C2SP signed notes (ledger/signed_note.py) -------------------------------------------------

/** Throw VerifyError unless `name` is a key name: non-empty, no space, control or '+'. */
export function checkKeyName(name) {
  if (typeof name !== "string" || !name) throw new VerifyError("a note key name is a non-empty string");
  for (const c of name) {
    const code = c.codePointAt(0);
    if (c === "+" || code < 0x20 || PY_SPACES.has(code)) {
      throw new VerifyError(`note key name ${quoted(name)} contains a space, a control character or '+'`);
    }
  }
}

function checkText(text) {
  if (typeof text !== "string" || !text.endsWith("\n")) {
    throw new VerifyError("a note text is non-empty and ends with a newline");
  }
  for (const c of text) {
    if (c.codePointAt(0) < 0x20 && c !== "\n") {
      throw new VerifyError("a note holds no control character other than newline");
    }
  }
}

/** Return the 4-byte key ID of Ed25519 key `publicKey` (32 bytes) named `name`. */
export async function keyId(name, publicKey) {
  checkKeyName(name);
  const material = concat(ENCODER.encode(name), Uint8Array.of(0x0a, 0x01), publicKey);
  return (await sha256(material)).slice(0, KEY_ID_SIZE);
}

function parseSignatureLine(line) {
  if (!line.startsWith(SIGNATURE_PREFIX)) {
    throw new VerifyError(`a note signature line starts with an em dash and a space: ${quoted(line.slice(0, 60))}`);
  }
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) throw new VerifyError("a note signature line is '\u2014 <key name> <base64 signature>'");
  const name = rest.slice(0, space);
  checkKeyName(name);
  const raw = b64decode(rest.slice(space + 1), `the signature of ${name}`);
  if (raw.length <= KEY_ID_SIZE) {
    throw new VerifyError(`the signature of ${name} is shorter than a key ID and a signature`);
  }
  return { name, keyId: raw.slice(0, KEY_ID_SIZE), signature: raw.slice(KEY_ID_SIZE) };
}

/** Split a signed note into {text, signatures}, checking its syntax only; throw VerifyError. */
export function parseNote(message) {
  if (typeof message !== "string") throw new VerifyError("a signed note is text");
  if (!message.isWellFormed()) throw new VerifyError("a signed note is not valid Unicode text");
  if (!message.endsWith("\n")) throw new VerifyError("a signed note ends with a newline");
  const split = message.lastIndexOf("\n\n");
  if (split < 0) throw new VerifyError("a signed note has a blank line before its signatures");
  const text = message.slice(0, split + 1);
  const lines = message.slice(split + 2);
  checkText(text);
  if (!lines) throw new VerifyError("a signed note has at least one signature line");
  const signatures = lines.slice(0, -1).split("\n").map(parseSignatureLine);
  if (signatures.length > MAX_SIGNATURES) {
    throw new VerifyError(`a signed note has 1 to ${MAX_SIGNATURES} signatures`);
  }
  return { text, signatures };
}

async function ed25519Verifies(publicKey, signature, message) {
  if (signature.length !== SIGNATURE_SIZE) return false;
  try {
    const key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  } catch {
    return false;
  }
}

/** Return the names of the known keys whose signatures verify, as ledger.signed_note.verify_note.
 *
 * `keys` maps key names to 32-byte Ed25519 keys.  Unknown names and key IDs are ignored;
 * a known key's failing signature rejects the note, as does a note no known key signed.
 */
export async function verifyNote(note, keys) {
  const message = ENCODER.encode(note.text);
  const verified = new Set();
  for (const sig of note.signatures) {
    const key = keys.get(sig.name);
    if (key === undefined || !equalBytes(await keyId(sig.name, key), sig.keyId)) continue;
    if (!(await ed25519Verifies(key, sig.signature, message))) {
      throw new VerifyError(`the note signature of ${sig.name} does not verify`);
    }
    verified.add(sig.name);
  }
  if (!verified.size) throw new VerifyError("the note has no signature from a known key");
  return verified;
}

// -- checkpoints (ledger/checkpoint.py) --------------------------------------------------------

function decimal(text, what) {
  if (!DECIMAL.test(text) || BigInt(text) > MAX_NUMBER) {
    throw new VerifyError(`the checkpoint's ${what} is not a decimal number without leading zeros: ${quoted(text.slice(0, 40))}`);
  }
  return BigInt(text);
}

/** Parse a checkpoint note text: {origin, size, root, extensions}; throw VerifyError. */
export function parseCheckpointText(text) {
  checkText(text);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new VerifyError("a checkpoint has an origin, a tree size and a root hash line");
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  const root = b64decode(rootLine, "the checkpoint's root hash");
  if (root.length !== HASH_SIZE) throw new VerifyError("the checkpoint's root hash is not 32 bytes");
  const size = decimal(sizeLine, "tree size");
  if ([origin, ...extensions].some((line) => !line)) {
    throw new VerifyError("checkpoint origin and extension lines are non-empty lines");
  }
  return { origin, size, root, extensions };
}

/** Return the block {height, hash} a ledger checkpoint names; throw unless exactly one. */
export function checkpointBlock(checkpoint) {
  if (checkpoint.extensions.length !== 1) {
    throw new VerifyError("a ledger checkpoint has exactly one extension line, its block");
  }
  const match = BLOCK_LINE.exec(checkpoint.extensions[0]);
  if (!match) throw new VerifyError("a ledger checkpoint's extension is 'block <height> <hash hex>'");
  return { height: decimal(match[1], "block height"), hash: match[2] };
}

/** Parse a signed checkpoint strictly (syntax only): {note, checkpoint}; throw VerifyError. */
export function parseSignedCheckpoint(message) {
  const note = parseNote(message);
  return { note, checkpoint: parseCheckpointText(note.text) };
}

/** Return the block of a checkpoint of chain `chainId`; throw VerifyError otherwise. */
export function checkOrigin(signed, chainId) {
  const expected = ORIGIN_PREFIX + chainId;
  if (signed.checkpoint.origin !== expected) {
    throw new VerifyError(`the checkpoint's origin is ${quoted(signed.checkpoint.origin)}, not ${quoted(expected)}`);
  }
  return checkpointBlock(signed.checkpoint);
}

/** Return how many organisations must agree: more than half of those running nodes. */
export function quorumSize(nodes) {
  return Math.floor(new Set(nodes.map((n) => n.org)).size / 2) + 1;
}

/** Return {cosigners, orgs, need, total} if nodes of a quorum of organisations cosigned.
 *
 * `nodes` are {id, org, key (32 bytes)}.  Throws VerifyError as ledger.checkpoint.check_cosigned
 * raises: a wrong origin or block line, a registered node's failing signature, no quorum.
 */
export async function checkCosigned(signed, chainId, nodes) {
  checkOrigin(signed, chainId);
  if (!nodes.length) throw new VerifyError("no nodes are registered, so no quorum can cosign a checkpoint");
  const cosigners = await verifyNote(signed.note, new Map(nodes.map((n) => [n.id, n.key])));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const orgs = new Set([...cosigners].map((id) => byId.get(id).org));
  const need = quorumSize(nodes);
  const total = new Set(nodes.map((n) => n.org)).size;
  if (orgs.size < need) {
    throw new VerifyError(`the checkpoint is cosigned by nodes of ${orgs.size} organisation(s); a quorum is ${need}`);
  }
  return { cosigners: [...cosigners].sort(), orgs: orgs.size, need, total };
}

// -- transactions and the genesis ---------------------------------------------------------------

const ESCAPES = { '"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r" };

/** Return a string as RFC 8785 writes it (what ledger/canonical.py writes). */
export function canonicalString(text) {
  return '"' + text.replace(/[\u0000-\u001f"\\]/g,
    (c) => ESCAPES[c] ?? "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) + '"';
}

function plainObject(value, keys, what) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new VerifyError(`${what} is not an object`);
  }
  const have = Object.keys(value).sort().join(",");
  if (keys && have !== [...keys].sort().join(",")) {
    throw new VerifyError(`${what} has exactly ${keys.join(", ")} (it has ${have || "nothing"})`);
  }
  return value;
}

/** Return the transaction-log leaf data of a wire envelope {body, signatures}; throw VerifyError. */
export function envelopeLeafData(envelope, what = "the envelope") {
  plainObject(envelope, ["body", "signatures"], what);
  if (typeof envelope.body !== "string") throw new VerifyError(`${what}'s body is not text`);
  if (!Array.isArray(envelope.signatures)) throw new VerifyError(`${what}'s signatures are not a list`);
  const signatures = envelope.signatures.map((s, i) => {
    plainObject(s, ["sig", "signer"], `${what}'s signature ${i}`);
    if (typeof s.sig !== "string" || typeof s.signer !== "string") {
      throw new VerifyError(`${what}'s signature ${i} has a sig and a signer that are text`);
    }
    return `{"sig":${canonicalString(s.sig)},"signer":${canonicalString(s.signer)}}`;
  });
  const text = `{"body":${canonicalString(envelope.body)},"signatures":[${signatures.join(",")}]}`;
  return utf8(text, `${what}`);
}

/** Return {txId, leaf, body} of a wire envelope: the body's SHA-256 and the log leaf hash. */
export async function envelopeFacts(envelope, what = "the envelope") {
  const data = envelopeLeafData(envelope, what);
  const txId = hexOf(await sha256(utf8(envelope.body, `${what}'s body`)));
  let body;
  try {
    body = JSON.parse(envelope.body);
  } catch {
    throw new VerifyError(`${what}'s body is not JSON`);
  }
  plainObject(body, null, `${what}'s body`);
  return { txId, leaf: await leafHash(data), body };
}

/** Return the genesis' facts: {chainId, txId, leaf, nodes} with node keys as bytes. */
export async function parseGenesis(genesis) {
  plainObject(genesis, ["chain_id", "time", "transaction"], "the genesis");
  const facts = await envelopeFacts(genesis.transaction, "the genesis transaction");
  const body = facts.body;
  if (body.chain_id !== genesis.chain_id) throw new VerifyError("the genesis transaction names another chain");
  if (body.contract !== "registry" || body.action !== "genesis") {
    throw new VerifyError("the genesis transaction must be registry.genesis");
  }
  const args = plainObject(body.args, null, "the genesis transaction's args");
  const listed = args.nodes === undefined ? [] : args.nodes;
  if (!Array.isArray(listed)) throw new VerifyError("the genesis' nodes are not a list");
  const nodes = listed.map((n, i) => {
    plainObject(n, ["id", "org", "public_key"], `genesis node ${i}`);
    if (typeof n.id !== "string" || !NODE_ID.test(n.id)) {
      throw new VerifyError(`genesis node ${i} has no valid id`);
    }
    if (typeof n.org !== "string" || !n.org) throw new VerifyError(`node ${n.id} names no organisation`);
    if (typeof n.public_key !== "string" || !HEX_KEY.test(n.public_key)) {
      throw new VerifyError(`node ${n.id}'s public key is not 64 lower-case hex digits`);
    }
    return { id: n.id, org: n.org, publicKey: n.public_key, key: hashOfHex(n.public_key, "a key") };
  });
  if (new Set(nodes.map((n) => n.id)).size !== nodes.length) {
    throw new VerifyError("the genesis registers a node id twice");
  }
  return { chainId: genesis.chain_id, txId: facts.txId, leaf: facts.leaf, nodes };
}

// -- the verdict ---------------------------------------------------------------------------------

class Verdict {
  constructor() {
    this.steps = [];
  }

  /** Run `check` as step `name`: its return value is the detail; a throw fails the step. */
  async step(name, check) {
    try {
      const detail = await check();
      this.steps.push({ name, ok: true, detail });
      return true;
    } catch (error) {
      const detail = error instanceof VerifyError ? error.message
        : `the verifier could not check this: ${error && error.message ? error.message : String(error)}`;
      this.steps.push({ name, ok: false, detail });
      return false;
    }
  }

  skip(name, why) {
    this.steps.push({ name, ok: false, skipped: true, detail: `not checked: ${why}` });
  }
}

function short(hex) {
  return `${hex.slice(0, 12)}\u2026`;
}

function hashList(values, what) {
  if (!Array.isArray(values)) throw new VerifyError(`${what} is not a list of hashes`);
  return values.map((v, i) => hashOfHex(v, `${what}[${i}]`));
}

function nodesFromTrust(value) {
  if (!Array.isArray(value)) throw new VerifyError("the nodes are not a list");
  return value.map((n, i) => {
    if (n && n.key instanceof Uint8Array) return n;
    plainObject(n, null, `node ${i}`);
    return { id: n.id, org: n.org, publicKey: n.public_key, key: hashOfHex(n.public_key, `node ${n.id}'s key`) };
  });
}

const AFTER = ["format", "genesis", "checkpoint", "cosigners", "genesis_link", "transaction", "inclusion", "consistency"];

function skipRest(verdict, from, why) {
  for (const name of AFTER.slice(AFTER.indexOf(from))) verdict.skip(name, why);
}

/** Verify a transaction bundle against what this browser trusts; never throws.
 *
 * `trusted`: {genesis_tx_id (hex, pinned) | null, genesis_source (text),
 *             checkpoint (the signed note trusted before) | null, checkpoint_source (text)}.
 * Returns {ok, fork, chain_id, tx_id, transaction, checkpoint, steps: [{name, ok, detail}],
 *          trusted: what was taken on trust, keep: what the page may now trust}.
 */
export async function verifyTransaction(bundle, trusted) {
  const verdict = new Verdict();
  const state = { trusted: plainTrust(trusted), fork: null };
  try {
    await runTransactionChecks(verdict, bundle, state);
  } catch (error) {
    verdict.steps.push({ name: "verifier", ok: false, detail: `the verifier stopped: ${error && error.message}` });
  }
  const ok = verdict.steps.length > 0 && verdict.steps.every((s) => s.ok);
  return {
    ok,
    fork: state.fork,
    chain_id: state.chainId ?? null,
    tx_id: state.txId ?? null,
    transaction: state.transaction ?? null,
    checkpoint: state.checkpointSummary ?? null,
    steps: verdict.steps,
    trusted: trustedSummary(state),
    keep: ok ? { genesis_tx_id: state.genesis.txId, checkpoint: state.keepCheckpoint } : null,
  };
}

function plainTrust(trusted) {
  if (trusted === null || trusted === undefined) trusted = {};
  if (typeof trusted !== "object" || Array.isArray(trusted)) {
    return { problem: "what this browser trusts is not an object" };
  }
  const text = (key) => (trusted[key] === undefined || trusted[key] === null ? null : trusted[key]);
  const t = { genesisTxId: text("genesis_tx_id"), genesisSource: text("genesis_source"),
    checkpoint: text("checkpoint"), checkpointSource: text("checkpoint_source") };
  if (t.genesisTxId !== null && (typeof t.genesisTxId !== "string" || !TX_ID.test(t.genesisTxId))) {
    return { problem: "the pinned genesis fingerprint is not 64 lower-case hex digits" };
  }
  for (const key of ["genesisSource", "checkpoint", "checkpointSource"]) {
    if (t[key] !== null && typeof t[key] !== "string") {
      return { problem: `what this browser trusts has a ${key} that is not text` };
    }
  }
  return t;
}

async function runTransactionChecks(verdict, bundle, state) {
  if (!(await verdict.step("format", () => checkFormat(bundle, state)))) {
    state.trusted = { genesisTxId: null, checkpoint: null };
    return skipRest(verdict, "genesis", "the bundle is malformed");
  }
  if (!(await verdict.step("genesis", () => checkGenesis(bundle, state)))) {
    return skipRest(verdict, "checkpoint", "there are no trusted node keys");
  }
  if (!(await verdict.step("checkpoint", () => checkCheckpoint(bundle, state)))) {
    return skipRest(verdict, "cosigners", "the checkpoint is unreadable");
  }
  state.cosigned = await verdict.step("cosigners", () => checkQuorum(state));
  await verdict.step("genesis_link", () => checkGenesisLink(bundle, state));
  if (await verdict.step("transaction", () => checkTransaction(bundle, state))) {
    await verdict.step("inclusion", () => checkInclusion(bundle, state));
  } else {
    verdict.skip("inclusion", "the transaction is malformed");
  }
  await verdict.step("consistency", () => checkAgainstTrusted(bundle, state));
}

function checkFormat(bundle, state) {
  if (state.trusted.problem) throw new VerifyError(state.trusted.problem);
  plainObject(bundle, null, "the bundle");
  if (bundle.format !== BUNDLE_FORMAT) throw new VerifyError(`the bundle's format is not ${BUNDLE_FORMAT}`);
  if (typeof bundle.chain_id !== "string" || !bundle.chain_id) throw new VerifyError("the bundle names no chain");
  if (typeof bundle.tx_id !== "string" || !TX_ID.test(bundle.tx_id)) {
    throw new VerifyError("the bundle's tx_id is not 64 lower-case hex digits");
  }
  for (const key of ["genesis", "transaction", "checkpoint", "inclusion", "genesis_link"]) {
    plainObject(bundle[key], null, `the bundle's ${key}`);
  }
  state.chainId = bundle.chain_id;
  state.txId = bundle.tx_id;
  return `a ${BUNDLE_FORMAT} bundle for transaction ${short(bundle.tx_id)} of chain ${bundle.chain_id}`;
}

async function checkGenesis(bundle, state) {
  const genesis = await parseGenesis(bundle.genesis);
  if (genesis.chainId !== bundle.chain_id) {
    throw new VerifyError(`the genesis founds chain ${genesis.chainId}, not ${bundle.chain_id}`);
  }
  const pinned = state.trusted.genesisTxId;
  if (pinned && pinned !== genesis.txId) {
    throw new VerifyError(`the genesis given is transaction ${genesis.txId}, but this browser trusts ${pinned}: the page is showing another consortium's nodes`);
  }
  if (!genesis.nodes.length) {
    throw new VerifyError("the genesis registers no nodes, so no quorum can cosign a checkpoint");
  }
  state.genesis = genesis;
  state.firstUse = !pinned;
  const orgs = new Set(genesis.nodes.map((n) => n.org)).size;
  const names = genesis.nodes.map((n) => n.id).join(", ");
  const how = pinned ? "the fingerprint this browser trusts" : "first use: not pinned before, so taken from the console and pinned now";
  return `node keys of ${names} (${orgs} organisation(s), quorum ${quorumSize(genesis.nodes)}) from the genesis transaction ${genesis.txId} (${how})`;
}

async function checkCheckpoint(bundle, state) {
  const served = bundle.checkpoint;
  if (typeof served.checkpoint !== "string") {
    const why = typeof served.unsigned === "string" ? `: ${served.unsigned}` : "";
    throw new VerifyError(`the node serves no signed checkpoint${why}`);
  }
  const signed = parseSignedCheckpoint(served.checkpoint);
  const block = checkOrigin(signed, bundle.chain_id);
  state.signed = signed;
  state.block = block;
  state.checkpointSummary = {
    size: Number(signed.checkpoint.size), height: Number(block.height), block_hash: block.hash,
    root: hexOf(signed.checkpoint.root), note: served.checkpoint, cosigners: [],
  };
  return `checkpoint of block ${block.height} (log size ${signed.checkpoint.size}, root ${short(hexOf(signed.checkpoint.root))}) of ${signed.checkpoint.origin}`;
}

async function checkQuorum(state) {
  const result = await checkCosigned(state.signed, state.chainId, state.genesis.nodes);
  state.checkpointSummary.cosigners = result.cosigners;
  state.checkpointSummary.quorum = result.need;
  return `checkpoint cosigned by ${result.cosigners.join(", ")}: ${result.orgs} of ${result.total} organisations, quorum ${result.need}`;
}

async function checkGenesisLink(bundle, state) {
  const link = plainObject(bundle.genesis_link, null, "the genesis link");
  const size = state.signed.checkpoint.size;
  if (exactInteger(link.first, "the genesis link's first size") !== 1n
      || exactInteger(link.second, "the genesis link's second size") !== size) {
    throw new VerifyError(`the genesis link is not a consistency proof from size 1 to ${size}`);
  }
  await verifyConsistencyProof(1n, size, state.genesis.leaf, state.signed.checkpoint.root,
    hashList(link.proof, "the genesis link's proof"));
  return `the cosigned log begins with the genesis transaction (leaf 0): a consistency proof from size 1 to ${size}`;
}

async function checkTransaction(bundle, state) {
  const tx = plainObject(bundle.transaction, null, "the transaction");
  const facts = await envelopeFacts(tx.envelope, "the transaction's envelope");
  if (facts.txId !== bundle.tx_id) {
    throw new VerifyError(`the envelope's body hashes to ${facts.txId}, not to transaction ${bundle.tx_id}`);
  }
  if (facts.body.chain_id !== bundle.chain_id) throw new VerifyError("the transaction belongs to another chain");
  state.leaf = facts.leaf;
  const signers = Array.isArray(facts.body.signers) ? facts.body.signers.map(String) : [];
  state.transaction = {
    contract: String(facts.body.contract), action: String(facts.body.action), signers,
    leaf_hash: hexOf(facts.leaf), log_index: Number.isSafeInteger(tx.log_index) ? tx.log_index : null,
  };
  return `${facts.body.contract}.${facts.body.action} signed by ${signers.join(", ") || "nobody"}: the SHA-256 of its body is the transaction id, and its log leaf was computed here`;
}

async function checkInclusion(bundle, state) {
  const proof = plainObject(bundle.inclusion, null, "the inclusion proof");
  if (proof.tx_id !== bundle.tx_id) throw new VerifyError("the inclusion proof is for another transaction");
  const size = state.signed.checkpoint.size;
  if (exactInteger(proof.tree_size, "the proof's tree size") !== size) {
    throw new VerifyError(`the proof is for log size ${proof.tree_size}, not the checkpoint's ${size}`);
  }
  const index = exactInteger(proof.leaf_index, "the proof's leaf index");
  const told = bundle.transaction.log_index;
  if (told !== undefined && told !== null && exactInteger(told, "the transaction's log index") !== index) {
    throw new VerifyError(`the proof is for leaf ${index}, but the transaction is at log index ${told}`);
  }
  const path = hashList(proof.proof, "the inclusion proof");
  await verifyInclusionProof(state.leaf, index, size, path, state.signed.checkpoint.root);
  return `leaf ${index} of ${size}: the path of ${path.length} hash(es) from the leaf computed here leads to the checkpoint's root`;
}

async function checkAgainstTrusted(bundle, state) {
  const previous = state.trusted.checkpoint;
  const current = bundle.checkpoint.checkpoint;
  if (!previous) {
    state.keepCheckpoint = current;
    return "no checkpoint was trusted in this browser before: this one is the first, and is kept";
  }
  const result = await verifyConsistency(previous, current, bundle.consistency, state.genesis.nodes);
  state.previous = result.from;
  if (result.fork) state.fork = result.fork;
  if (!result.ok) throw new VerifyError(result.detail);
  state.keepCheckpoint = result.to && result.from && result.to.size >= result.from.size ? current : previous;
  return result.detail;
}

/** Check that two checkpoints are of one log; report a fork if both are cosigned and none joins them.
 *
 * `fromCheckpoint`, `toCheckpoint`: signed notes (the browser's trusted one, the current one).
 * `proof`: the node's consistency answer {first, second, proof} or a list of hex hashes, between
 * the smaller and the larger size.  `nodes` ({id, org, public_key}, from the pinned genesis): when
 * given, both checkpoints must be quorum-cosigned, and only then is a failure a fork.
 * Returns {ok, fork: null | evidence, detail, from, to, steps}; never throws.
 */
export async function verifyConsistency(fromCheckpoint, toCheckpoint, proof, nodes) {
  const verdict = new Verdict();
  const out = { ok: false, fork: null, detail: "", from: null, to: null };
  try {
    await consistencyChecks(verdict, out, fromCheckpoint, toCheckpoint, proof, nodes);
  } catch (error) {
    verdict.steps.push({ name: "verifier", ok: false, detail: `the verifier stopped: ${error && error.message}` });
  }
  out.steps = verdict.steps;
  out.ok = verdict.steps.every((s) => s.ok);
  out.detail = out.ok ? verdict.steps[verdict.steps.length - 1].detail : verdict.steps.find((s) => !s.ok).detail;
  return out;
}

function describe(signed, block) {
  return { size: Number(signed.checkpoint.size), height: Number(block.height), block_hash: block.hash, root: hexOf(signed.checkpoint.root) };
}

async function readCheckpoint(note, which, check) {
  try {
    return await check();
  } catch (error) {
    if (error instanceof VerifyError) throw new VerifyError(`the ${which} checkpoint: ${error.message}`);
    throw error;
  }
}

async function consistencyChecks(verdict, out, fromNote, toNote, proof, nodes) {
  const read = {};
  for (const [label, note] of [["from", fromNote], ["to", toNote]]) {
    const which = label === "from" ? "trusted" : "current";
    const ok = await verdict.step(`${label}_checkpoint`, () => readCheckpoint(note, which, async () => {
      read[label] = parseSignedCheckpoint(note);
      read[`${label}Block`] = checkpointBlock(read[label].checkpoint);
      out[label] = describe(read[label], read[`${label}Block`]);
      if (nodes !== undefined && nodes !== null) {
        const chain = read[label].checkpoint.origin.slice(ORIGIN_PREFIX.length);
        const result = await checkCosigned(read[label], chain, nodesFromTrust(nodes));
        return `the ${label === "from" ? "trusted" : "current"} checkpoint (block ${out[label].height}, size ${out[label].size}) is cosigned by ${result.cosigners.join(", ")}: ${result.orgs} of ${result.total} organisations, quorum ${result.need}`;
      }
      return `the ${label === "from" ? "trusted" : "current"} checkpoint is block ${out[label].height}, size ${out[label].size} (cosignatures not checked here)`;
    }));
    if (!ok) return;
  }
  const cosigned = nodes !== undefined && nodes !== null;
  const evidence = (reason, hashes) => ({
    reason, trusted_checkpoint: fromNote, served_checkpoint: toNote, consistency_proof: hashes ?? [],
    cosigned,
  });
  await verdict.step("consistency", async () => {
    const [a, b] = [read.from, read.to];
    if (a.checkpoint.origin !== b.checkpoint.origin) {
      throw new VerifyError(`the checkpoints are of two logs: ${a.checkpoint.origin} and ${b.checkpoint.origin}`);
    }
    const fork = (reason, hashes) => {
      out.fork = evidence(reason, hashes);
      return new VerifyError(`fork: ${reason}`);
    };
    const [sa, sb, ha, hb] = [a.checkpoint.size, b.checkpoint.size, read.fromBlock.height, read.toBlock.height];
    if (sa === sb) {
      if (!equalBytes(a.checkpoint.root, b.checkpoint.root)) throw fork("the same log size has two different roots");
      if (ha === hb && read.fromBlock.hash !== read.toBlock.hash) throw fork("the same block height has two different header hashes");
      return `the current checkpoint has the same log (size ${sb}) as the one this browser trusted`;
    }
    if ((sb > sa) !== (hb > ha)) throw fork("a later block has a smaller log");
    const [first, second] = sa < sb ? [a, b] : [b, a];
    const answer = Array.isArray(proof) ? { first: Number(first.checkpoint.size), second: Number(second.checkpoint.size), proof } : proof;
    if (answer === null || answer === undefined || typeof answer !== "object") {
      throw new VerifyError(`no consistency proof from size ${first.checkpoint.size} to ${second.checkpoint.size} was given`);
    }
    if (typeof answer.error === "string") {
      throw new VerifyError(`the node gave no consistency proof from size ${first.checkpoint.size} to ${second.checkpoint.size}: ${answer.error}`);
    }
    if (exactInteger(answer.first, "the consistency proof's first size") !== first.checkpoint.size
        || exactInteger(answer.second, "the consistency proof's second size") !== second.checkpoint.size) {
      throw new VerifyError(`the consistency proof is from size ${answer.first} to ${answer.second}, not from ${first.checkpoint.size} to ${second.checkpoint.size}`);
    }
    const hashes = hashList(answer.proof, "the consistency proof");
    try {
      await verifyConsistencyProof(first.checkpoint.size, second.checkpoint.size, first.checkpoint.root, second.checkpoint.root, hashes);
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      throw fork(`no consistency from size ${first.checkpoint.size} to ${second.checkpoint.size}: ${error.message}`, answer.proof);
    }
    return sb > sa
      ? `the log of size ${sb} extends the one of size ${sa} this browser trusted (a consistency proof of ${hashes.length} hash(es))`
      : `the current checkpoint (size ${sb}) is older than the trusted one (size ${sa}), and the trusted log extends it`;
  });
}

function trustedSummary(state) {
  const genesis = state.genesis;
  const pinned = state.trusted.genesisTxId;
  return {
    genesis: genesis ? {
      tx_id: genesis.txId,
      first_use: !pinned,
      source: pinned ? (state.trusted.genesisSource || "the genesis fingerprint pinned in this browser")
        : "first use: the genesis came with the console's bundle and nothing was pinned before; compare its fingerprint with your consortium's genesis file",
    } : null,
    nodes: genesis ? genesis.nodes.map((n) => ({ id: n.id, org: n.org, public_key: n.publicKey })) : [],
    quorum: genesis ? quorumSize(genesis.nodes) : null,
    previous_checkpoint: state.trusted.checkpoint ? {
      ...(state.previous ?? {}), source: state.trusted.checkpointSource || "kept in this browser after an earlier verification",
    } : null,
    assumptions: [
      "this page's code (verify.js) as the console served it",
      "SHA-256 and Ed25519 (WebCrypto) are secure",
      "nodes of more than half of the organisations running nodes are honest",
      "inclusion proves the signed envelope is in the log, not that it executed as valid: its status is the node's word",
    ],
  };
}
