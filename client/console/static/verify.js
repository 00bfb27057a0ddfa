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

// -- words ----------------------------------------------------------------------------------
//
// Every text the verifier produces is a message {id, values}: an id of MESSAGES and the values
// its {fields} take (text, numbers, or messages themselves, as "what" a check was about).  A
// step carries its message beside its English `detail`, so a page can show it in its reader's
// language: the console's verify page has the same ids in Chinese and English
// (client/console/i18n_verify.py; tests/client/console/test_i18n.py keeps the two in step).
// One entry a line, `id: "text",`: that test reads this table.

export const MESSAGES = Object.freeze({
  // what a check was about
  what_item: "{what}[{i}]",
  what_proof_item: "proof[{i}]",
  what_signature_of: "the signature of {name}",
  what_checkpoint_root: "the checkpoint's root hash",
  what_body_of: "{what}'s body",
  what_signature_i: "{what}'s signature {i}",
  what_leaf_index: "the leaf index",
  what_tree_size: "the tree size",
  what_first_size: "the first size",
  what_second_size: "the second size",
  what_leaf_hash: "leaf hash",
  what_root: "root",
  what_first_root: "first root",
  what_second_root: "second root",
  what_inclusion_root: "inclusion proof root",
  what_equal_roots: "root for equal sizes",
  what_cp_tree_size: "tree size",
  what_cp_block_height: "block height",
  what_bundle: "the bundle",
  what_bundle_key: "the bundle's {key}",
  what_genesis_link: "the genesis link",
  what_link_first: "the genesis link's first size",
  what_link_second: "the genesis link's second size",
  what_link_proof: "the genesis link's proof",
  what_transaction: "the transaction",
  what_tx_envelope: "the transaction's envelope",
  what_tx_log_index: "the transaction's log index",
  what_envelope: "the envelope",
  what_inclusion_proof: "the inclusion proof",
  what_proof_size: "the proof's tree size",
  what_proof_index: "the proof's leaf index",
  what_consistency_proof: "the consistency proof",
  what_consistency_first: "the consistency proof's first size",
  what_consistency_second: "the consistency proof's second size",
  what_genesis: "the genesis",
  what_genesis_tx: "the genesis transaction",
  what_genesis_args: "the genesis transaction's args",
  what_genesis_node: "genesis node {i}",
  what_node: "node {i}",
  what_a_key: "a key",
  what_node_key: "node {id}'s key",
  // bytes, proofs, notes, checkpoints
  not_a_hash: "{what} is not a hash (64 hex digits)",
  not_base64: "{what} is not valid base64",
  not_canonical_base64: "{what} is not in canonical base64 (one spelling per value)",
  not_unicode: "{what} is not valid Unicode text",
  not_an_integer: "{what} is not a non-negative integer",
  wrong_hash_size: "{what} must be {size} bytes",
  proof_not_a_list: "a proof is a list of hashes",
  mismatch: "{what} mismatch: expected {expected}, computed {computed}",
  leaf_out_of_range: "leaf index {index} out of range for tree size {size}",
  inclusion_too_long: "inclusion proof too long for index {index} in size {size}",
  inclusion_too_short: "inclusion proof too short for index {index} in size {size}",
  sizes_out_of_order: "need 0 <= first <= second, got first={first} second={second}",
  equal_sizes_not_empty: "consistency proof between equal sizes must be empty",
  from_empty_tree: "a consistency proof from the empty tree is meaningless",
  consistency_empty: "consistency proof is empty",
  consistency_too_long: "consistency proof too long for sizes {first} -> {second}",
  consistency_too_short: "consistency proof too short for sizes {first} -> {second}",
  key_name_empty: "a note key name is a non-empty string",
  key_name_bad: "note key name {name} contains a space, a control character or '+'",
  note_text_newline: "a note text is non-empty and ends with a newline",
  note_text_control: "a note holds no control character other than newline",
  signature_line_dash: "a note signature line starts with an em dash and a space: {line}",
  signature_line_shape: "a note signature line is '\u2014 <key name> <base64 signature>'",
  signature_too_short: "the signature of {name} is shorter than a key ID and a signature",
  note_not_text: "a signed note is text",
  note_not_unicode: "a signed note is not valid Unicode text",
  note_no_newline: "a signed note ends with a newline",
  note_no_blank_line: "a signed note has a blank line before its signatures",
  note_no_signature: "a signed note has at least one signature line",
  note_too_many_signatures: "a signed note has 1 to {max} signatures",
  note_signature_fails: "the note signature of {name} does not verify",
  note_no_known_key: "the note has no signature from a known key",
  checkpoint_not_decimal: "the checkpoint's {what} is not a decimal number without leading zeros: {text}",
  checkpoint_lines: "a checkpoint has an origin, a tree size and a root hash line",
  checkpoint_root_size: "the checkpoint's root hash is not 32 bytes",
  checkpoint_empty_line: "checkpoint origin and extension lines are non-empty lines",
  checkpoint_one_extension: "a ledger checkpoint has exactly one extension line, its block",
  checkpoint_block_line: "a ledger checkpoint's extension is 'block <height> <hash hex>'",
  checkpoint_origin: "the checkpoint's origin is {origin}, not {expected}",
  no_nodes_registered: "no nodes are registered, so no quorum can cosign a checkpoint",
  no_quorum: "the checkpoint is cosigned by nodes of {orgs} organisation(s); a quorum is {need}",
  // envelopes and the genesis
  not_an_object: "{what} is not an object",
  keys_exactly: "{what} has exactly {keys} (it has {have})",
  nothing: "nothing",
  body_not_text: "{what}'s body is not text",
  signatures_not_list: "{what}'s signatures are not a list",
  signature_not_text: "{what}'s signature {i} has a sig and a signer that are text",
  body_not_json: "{what}'s body is not JSON",
  genesis_other_chain: "the genesis transaction names another chain",
  genesis_not_registry: "the genesis transaction must be registry.genesis",
  genesis_nodes_not_list: "the genesis' nodes are not a list",
  genesis_node_no_id: "genesis node {i} has no valid id",
  node_no_org: "node {id} names no organisation",
  node_key_not_hex: "node {id}'s public key is not 64 lower-case hex digits",
  genesis_node_twice: "the genesis registers a node id twice",
  not_a_hash_list: "{what} is not a list of hashes",
  nodes_not_list: "the nodes are not a list",
  // the steps of a verdict
  skipped: "not checked: {why}",
  could_not_check: "the verifier could not check this: {error}",
  verifier_stopped: "the verifier stopped: {error}",
  why_bundle_malformed: "the bundle is malformed",
  why_no_node_keys: "there are no trusted node keys",
  why_checkpoint_unreadable: "the checkpoint is unreadable",
  why_transaction_malformed: "the transaction is malformed",
  trust_not_object: "what this browser trusts is not an object",
  trust_bad_pin: "the pinned genesis fingerprint is not 64 lower-case hex digits",
  trust_not_text: "what this browser trusts has a {key} that is not text",
  format_wrong: "the bundle's format is not {format}",
  format_no_chain: "the bundle names no chain",
  format_bad_tx_id: "the bundle's tx_id is not 64 lower-case hex digits",
  format_ok: "a {format} bundle for transaction {tx} of chain {chain}",
  genesis_founds_other: "the genesis founds chain {found}, not {chain}",
  genesis_not_pinned: "the genesis given is transaction {given}, but this browser trusts {pinned}: the page is showing another consortium's nodes",
  genesis_no_nodes: "the genesis registers no nodes, so no quorum can cosign a checkpoint",
  genesis_ok: "node keys of {names} ({orgs} organisation(s), quorum {quorum}) from the genesis transaction {tx} ({how})",
  how_pinned: "the fingerprint this browser trusts",
  how_first_use: "first use: not pinned before, so taken from the console and pinned now",
  unsigned: "the node serves no signed checkpoint",
  unsigned_why: "the node serves no signed checkpoint: {why}",
  checkpoint_ok: "checkpoint of block {height} (log size {size}, root {root}) of {origin}",
  cosigners_ok: "checkpoint cosigned by {cosigners}: {orgs} of {total} organisations, quorum {need}",
  link_wrong: "the genesis link is not a consistency proof from size 1 to {size}",
  link_ok: "the cosigned log begins with the genesis transaction (leaf 0): a consistency proof from size 1 to {size}",
  body_hash_wrong: "the envelope's body hashes to {found}, not to transaction {tx}",
  tx_other_chain: "the transaction belongs to another chain",
  transaction_ok: "{call} signed by {signers}: the SHA-256 of its body is the transaction id, and its log leaf was computed here",
  nobody: "nobody",
  proof_other_tx: "the inclusion proof is for another transaction",
  proof_other_size: "the proof is for log size {given}, not the checkpoint's {size}",
  proof_other_leaf: "the proof is for leaf {index}, but the transaction is at log index {told}",
  inclusion_ok: "leaf {index} of {size}: the path of {hashes} hash(es) from the leaf computed here leads to the checkpoint's root",
  first_checkpoint: "no checkpoint was trusted in this browser before: this one is the first, and is kept",
  // consistency with the checkpoint trusted before, and forks
  trusted_unreadable: "the trusted checkpoint: {error}",
  current_unreadable: "the current checkpoint: {error}",
  trusted_cosigned: "the trusted checkpoint (block {height}, size {size}) is cosigned by {cosigners}: {orgs} of {total} organisations, quorum {need}",
  current_cosigned: "the current checkpoint (block {height}, size {size}) is cosigned by {cosigners}: {orgs} of {total} organisations, quorum {need}",
  trusted_read: "the trusted checkpoint is block {height}, size {size} (cosignatures not checked here)",
  current_read: "the current checkpoint is block {height}, size {size} (cosignatures not checked here)",
  two_logs: "the checkpoints are of two logs: {first} and {second}",
  fork: "fork: {reason}",
  fork_same_size: "the same log size has two different roots",
  fork_same_height: "the same block height has two different header hashes",
  fork_smaller_log: "a later block has a smaller log",
  fork_no_consistency: "no consistency from size {first} to {second}: {error}",
  same_log: "the current checkpoint has the same log (size {size}) as the one this browser trusted",
  no_consistency_given: "no consistency proof from size {first} to {second} was given",
  node_refused: "the node gave no consistency proof from size {first} to {second}: {error}",
  consistency_other_sizes: "the consistency proof is from size {given_first} to {given_second}, not from {first} to {second}",
  extends: "the log of size {second} extends the one of size {first} this browser trusted (a consistency proof of {hashes} hash(es))",
  older: "the current checkpoint (size {size}) is older than the trusted one (size {trusted}), and the trusted log extends it",
  // what was taken on trust
  source_pinned: "the genesis fingerprint pinned in this browser",
  source_first_use: "first use: the genesis came with the console's bundle and nothing was pinned before; compare its fingerprint with your consortium's genesis file",
  source_kept: "kept in this browser after an earlier verification",
  assume_code: "this page's code (verify.js) as the console served it",
  assume_crypto: "SHA-256 and Ed25519 (WebCrypto) are secure",
  assume_quorum: "nodes of more than half of the organisations running nodes are honest",
  assume_inclusion: "inclusion proves the signed envelope is in the log, not that it executed as valid: its status is the node's word",
});

/** Return message `id` with `values` (BigInts as decimal text, so the message is JSON). */
export function say(id, values = {}) {
  const kept = {};
  for (const [name, value] of Object.entries(values)) {
    kept[name] = typeof value === "bigint" ? value.toString() : value;
  }
  return { id, values: kept };
}

function isMessage(value) {
  return value !== null && typeof value === "object" && typeof value.id === "string"
    && value.values !== null && typeof value.values === "object";
}

/** Return `message` as text: its template from `templates` (else MESSAGES), fields filled.
 *
 * A value that is not a message (text from the bundle, a number) is shown as it is; a field
 * without a value is left as written.
 */
export function wordsOf(message, templates = MESSAGES) {
  if (!isMessage(message)) return message === null || message === undefined ? "" : String(message);
  const own = templates && typeof templates[message.id] === "string" ? templates[message.id] : null;
  const template = own ?? MESSAGES[message.id] ?? message.id;
  return template.replace(/\{([a-z_]+)\}/g, (field, name) => (
    Object.hasOwn(message.values, name) ? wordsOf(message.values[name], templates) : field));
}

/** The one error the checks throw: its message says, in words, what is wrong.
 *
 * `words` is a message (say); `message` is its English text.
 */
export class VerifyError extends Error {
  constructor(words) {
    super(wordsOf(words));
    this.words = words;
  }
}

function fail(id, values) {
  return new VerifyError(say(id, values));
}

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
    throw fail("not_a_hash", { what });
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
    throw fail("not_base64", { what });
  }
  let binary;
  try {
    binary = atob(text);
  } catch {
    throw fail("not_base64", { what });
  }
  const raw = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (b64encode(raw) !== text) {
    throw fail("not_canonical_base64", { what });
  }
  return raw;
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function utf8(text, what) {
  if (typeof text !== "string" || !text.isWellFormed()) {
    throw fail("not_unicode", { what });
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
  throw fail("not_an_integer", { what });
}

function checkHash(value, what) {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    throw fail("wrong_hash_size", { what, size: HASH_SIZE });
  }
}

function checkProofHashes(proof) {
  if (!Array.isArray(proof)) throw fail("proof_not_a_list");
  proof.forEach((h, i) => checkHash(h, say("what_proof_item", { i })));
}

function mismatch(what, expected, computed) {
  return fail("mismatch", { what, expected: hexOf(expected), computed: hexOf(computed) });
}

/** Return the root an inclusion proof implies (RFC 9162 §2.1.3.2); throw VerifyError. */
export async function rootFromInclusionProof(leaf, index, size, proof) {
  const i = exactInteger(index, say("what_leaf_index"));
  const n = exactInteger(size, say("what_tree_size"));
  if (!(i < n)) throw fail("leaf_out_of_range", { index: i, size: n });
  checkHash(leaf, say("what_leaf_hash"));
  checkProofHashes(proof);
  let fn = i;
  let sn = n - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw fail("inclusion_too_long", { index: i, size: n });
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
  if (sn !== 0n) throw fail("inclusion_too_short", { index: i, size: n });
  return r;
}

/** Check that `leaf` is leaf `index` of the tree of `size` with `root`; throw VerifyError. */
export async function verifyInclusionProof(leaf, index, size, proof, root) {
  checkHash(root, say("what_root"));
  const computed = await rootFromInclusionProof(leaf, index, size, proof);
  if (!equalBytes(computed, root)) throw mismatch(say("what_inclusion_root"), root, computed);
}

/** Check that the tree of `second` extends the one of `first` (RFC 9162 §2.1.4.2); throw. */
export async function verifyConsistencyProof(first, second, firstRoot, secondRoot, proof) {
  checkHash(firstRoot, say("what_first_root"));
  checkHash(secondRoot, say("what_second_root"));
  checkProofHashes(proof);
  const m = exactInteger(first, say("what_first_size"));
  const n = exactInteger(second, say("what_second_size"));
  if (!(m <= n)) throw fail("sizes_out_of_order", { first: m, second: n });
  if (m === n) {
    if (proof.length) throw fail("equal_sizes_not_empty");
    if (!equalBytes(firstRoot, secondRoot)) throw mismatch(say("what_equal_roots"), firstRoot, secondRoot);
    return;
  }
  if (m === 0n) throw fail("from_empty_tree");
  if (!proof.length) throw fail("consistency_empty");
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
    if (sn === 0n) throw fail("consistency_too_long", { first: m, second: n });
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
  if (sn !== 0n) throw fail("consistency_too_short", { first: m, second: n });
  if (!equalBytes(fr, firstRoot)) throw mismatch(say("what_first_root"), firstRoot, fr);
  if (!equalBytes(sr, secondRoot)) throw mismatch(say("what_second_root"), secondRoot, sr);
}

// -- C2SP signed notes (ledger/signed_note.py) -------------------------------------------------

/** Throw VerifyError unless `name` is a key name: non-empty, no space, control or '+'. */
export function checkKeyName(name) {
  if (typeof name !== "string" || !name) throw fail("key_name_empty");
  for (const c of name) {
    const code = c.codePointAt(0);
    if (c === "+" || code < 0x20 || PY_SPACES.has(code)) {
      throw fail("key_name_bad", { name: quoted(name) });
    }
  }
}

function checkText(text) {
  if (typeof text !== "string" || !text.endsWith("\n")) {
    throw fail("note_text_newline");
  }
  for (const c of text) {
    if (c.codePointAt(0) < 0x20 && c !== "\n") {
      throw fail("note_text_control");
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
    throw fail("signature_line_dash", { line: quoted(line.slice(0, 60)) });
  }
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) throw fail("signature_line_shape");
  const name = rest.slice(0, space);
  checkKeyName(name);
  const raw = b64decode(rest.slice(space + 1), say("what_signature_of", { name }));
  if (raw.length <= KEY_ID_SIZE) {
    throw fail("signature_too_short", { name });
  }
  return { name, keyId: raw.slice(0, KEY_ID_SIZE), signature: raw.slice(KEY_ID_SIZE) };
}

/** Split a signed note into {text, signatures}, checking its syntax only; throw VerifyError. */
export function parseNote(message) {
  if (typeof message !== "string") throw fail("note_not_text");
  if (!message.isWellFormed()) throw fail("note_not_unicode");
  if (!message.endsWith("\n")) throw fail("note_no_newline");
  const split = message.lastIndexOf("\n\n");
  if (split < 0) throw fail("note_no_blank_line");
  const text = message.slice(0, split + 1);
  const lines = message.slice(split + 2);
  checkText(text);
  if (!lines) throw fail("note_no_signature");
  const signatures = lines.slice(0, -1).split("\n").map(parseSignatureLine);
  if (signatures.length > MAX_SIGNATURES) {
    throw fail("note_too_many_signatures", { max: MAX_SIGNATURES });
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
      throw fail("note_signature_fails", { name: sig.name });
    }
    verified.add(sig.name);
  }
  if (!verified.size) throw fail("note_no_known_key");
  return verified;
}

// -- checkpoints (ledger/checkpoint.py) --------------------------------------------------------

function decimal(text, what) {
  if (!DECIMAL.test(text) || BigInt(text) > MAX_NUMBER) {
    throw fail("checkpoint_not_decimal", { what, text: quoted(text.slice(0, 40)) });
  }
  return BigInt(text);
}

/** Parse a checkpoint note text: {origin, size, root, extensions}; throw VerifyError. */
export function parseCheckpointText(text) {
  checkText(text);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw fail("checkpoint_lines");
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  const root = b64decode(rootLine, say("what_checkpoint_root"));
  if (root.length !== HASH_SIZE) throw fail("checkpoint_root_size");
  const size = decimal(sizeLine, say("what_cp_tree_size"));
  if ([origin, ...extensions].some((line) => !line)) {
    throw fail("checkpoint_empty_line");
  }
  return { origin, size, root, extensions };
}

/** Return the block {height, hash} a ledger checkpoint names; throw unless exactly one. */
export function checkpointBlock(checkpoint) {
  if (checkpoint.extensions.length !== 1) {
    throw fail("checkpoint_one_extension");
  }
  const match = BLOCK_LINE.exec(checkpoint.extensions[0]);
  if (!match) throw fail("checkpoint_block_line");
  return { height: decimal(match[1], say("what_cp_block_height")), hash: match[2] };
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
    throw fail("checkpoint_origin", { origin: quoted(signed.checkpoint.origin), expected: quoted(expected) });
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
  if (!nodes.length) throw fail("no_nodes_registered");
  const cosigners = await verifyNote(signed.note, new Map(nodes.map((n) => [n.id, n.key])));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const orgs = new Set([...cosigners].map((id) => byId.get(id).org));
  const need = quorumSize(nodes);
  const total = new Set(nodes.map((n) => n.org)).size;
  if (orgs.size < need) {
    throw fail("no_quorum", { orgs: orgs.size, need });
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
    throw fail("not_an_object", { what });
  }
  const have = Object.keys(value).sort().join(",");
  if (keys && have !== [...keys].sort().join(",")) {
    throw fail("keys_exactly", { what, keys: keys.join(", "), have: have || say("nothing") });
  }
  return value;
}

/** Return the transaction-log leaf data of a wire envelope {body, signatures}; throw VerifyError. */
export function envelopeLeafData(envelope, what = say("what_envelope")) {
  plainObject(envelope, ["body", "signatures"], what);
  if (typeof envelope.body !== "string") throw fail("body_not_text", { what });
  if (!Array.isArray(envelope.signatures)) throw fail("signatures_not_list", { what });
  const signatures = envelope.signatures.map((s, i) => {
    plainObject(s, ["sig", "signer"], say("what_signature_i", { what, i }));
    if (typeof s.sig !== "string" || typeof s.signer !== "string") {
      throw fail("signature_not_text", { what, i });
    }
    return `{"sig":${canonicalString(s.sig)},"signer":${canonicalString(s.signer)}}`;
  });
  const text = `{"body":${canonicalString(envelope.body)},"signatures":[${signatures.join(",")}]}`;
  return utf8(text, what);
}

/** Return {txId, leaf, body} of a wire envelope: the body's SHA-256 and the log leaf hash. */
export async function envelopeFacts(envelope, what = say("what_envelope")) {
  const data = envelopeLeafData(envelope, what);
  const txId = hexOf(await sha256(utf8(envelope.body, say("what_body_of", { what }))));
  let body;
  try {
    body = JSON.parse(envelope.body);
  } catch {
    throw fail("body_not_json", { what });
  }
  plainObject(body, null, say("what_body_of", { what }));
  return { txId, leaf: await leafHash(data), body };
}

/** Return the genesis' facts: {chainId, txId, leaf, nodes} with node keys as bytes. */
export async function parseGenesis(genesis) {
  plainObject(genesis, ["chain_id", "time", "transaction"], say("what_genesis"));
  const facts = await envelopeFacts(genesis.transaction, say("what_genesis_tx"));
  const body = facts.body;
  if (body.chain_id !== genesis.chain_id) throw fail("genesis_other_chain");
  if (body.contract !== "registry" || body.action !== "genesis") {
    throw fail("genesis_not_registry");
  }
  const args = plainObject(body.args, null, say("what_genesis_args"));
  const listed = args.nodes === undefined ? [] : args.nodes;
  if (!Array.isArray(listed)) throw fail("genesis_nodes_not_list");
  const nodes = listed.map((n, i) => {
    plainObject(n, ["id", "org", "public_key"], say("what_genesis_node", { i }));
    if (typeof n.id !== "string" || !NODE_ID.test(n.id)) {
      throw fail("genesis_node_no_id", { i });
    }
    if (typeof n.org !== "string" || !n.org) throw fail("node_no_org", { id: n.id });
    if (typeof n.public_key !== "string" || !HEX_KEY.test(n.public_key)) {
      throw fail("node_key_not_hex", { id: n.id });
    }
    return { id: n.id, org: n.org, publicKey: n.public_key, key: hashOfHex(n.public_key, say("what_a_key")) };
  });
  if (new Set(nodes.map((n) => n.id)).size !== nodes.length) {
    throw fail("genesis_node_twice");
  }
  return { chainId: genesis.chain_id, txId: facts.txId, leaf: facts.leaf, nodes };
}

// -- the verdict ---------------------------------------------------------------------------------

class Verdict {
  constructor() {
    this.steps = [];
  }

  /** Run `check` as step `name`: it returns the step's message; a throw fails the step. */
  async step(name, check) {
    try {
      this.push(name, true, await check());
      return true;
    } catch (error) {
      this.push(name, false, error instanceof VerifyError ? error.words
        : say("could_not_check", { error: error && error.message ? error.message : String(error) }));
      return false;
    }
  }

  /** Record step `name`: `message` in words (`message`) and in English (`detail`). */
  push(name, ok, message, extra = {}) {
    this.steps.push({ name, ok, ...extra, detail: wordsOf(message), message });
  }

  skip(name, why) {
    this.push(name, false, say("skipped", { why }), { skipped: true });
  }

  stopped(error) {
    this.push("verifier", false, say("verifier_stopped", { error: String(error && error.message) }));
  }
}

function short(hex) {
  return `${hex.slice(0, 12)}\u2026`;
}

function hashList(values, what) {
  if (!Array.isArray(values)) throw fail("not_a_hash_list", { what });
  return values.map((v, i) => hashOfHex(v, say("what_item", { what, i })));
}

function nodesFromTrust(value) {
  if (!Array.isArray(value)) throw fail("nodes_not_list");
  return value.map((n, i) => {
    if (n && n.key instanceof Uint8Array) return n;
    plainObject(n, null, say("what_node", { i }));
    return { id: n.id, org: n.org, publicKey: n.public_key, key: hashOfHex(n.public_key, say("what_node_key", { id: n.id })) };
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
 * Returns {ok, fork, chain_id, tx_id, transaction, checkpoint,
 *          steps: [{name, ok, detail (English), message (say)}],
 *          trusted: what was taken on trust, keep: what the page may now trust}.
 */
export async function verifyTransaction(bundle, trusted) {
  const verdict = new Verdict();
  const state = { trusted: plainTrust(trusted), fork: null };
  try {
    await runTransactionChecks(verdict, bundle, state);
  } catch (error) {
    verdict.stopped(error);
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
    return { problem: say("trust_not_object") };
  }
  const text = (key) => (trusted[key] === undefined || trusted[key] === null ? null : trusted[key]);
  const t = { genesisTxId: text("genesis_tx_id"), genesisSource: text("genesis_source"),
    checkpoint: text("checkpoint"), checkpointSource: text("checkpoint_source") };
  if (t.genesisTxId !== null && (typeof t.genesisTxId !== "string" || !TX_ID.test(t.genesisTxId))) {
    return { problem: say("trust_bad_pin") };
  }
  for (const key of ["genesisSource", "checkpoint", "checkpointSource"]) {
    if (t[key] !== null && typeof t[key] !== "string") {
      return { problem: say("trust_not_text", { key }) };
    }
  }
  return t;
}

async function runTransactionChecks(verdict, bundle, state) {
  if (!(await verdict.step("format", () => checkFormat(bundle, state)))) {
    state.trusted = { genesisTxId: null, checkpoint: null };
    return skipRest(verdict, "genesis", say("why_bundle_malformed"));
  }
  if (!(await verdict.step("genesis", () => checkGenesis(bundle, state)))) {
    return skipRest(verdict, "checkpoint", say("why_no_node_keys"));
  }
  if (!(await verdict.step("checkpoint", () => checkCheckpoint(bundle, state)))) {
    return skipRest(verdict, "cosigners", say("why_checkpoint_unreadable"));
  }
  state.cosigned = await verdict.step("cosigners", () => checkQuorum(state));
  await verdict.step("genesis_link", () => checkGenesisLink(bundle, state));
  if (await verdict.step("transaction", () => checkTransaction(bundle, state))) {
    await verdict.step("inclusion", () => checkInclusion(bundle, state));
  } else {
    verdict.skip("inclusion", say("why_transaction_malformed"));
  }
  await verdict.step("consistency", () => checkAgainstTrusted(bundle, state));
}

function checkFormat(bundle, state) {
  if (state.trusted.problem) throw new VerifyError(state.trusted.problem);
  plainObject(bundle, null, say("what_bundle"));
  if (bundle.format !== BUNDLE_FORMAT) throw fail("format_wrong", { format: BUNDLE_FORMAT });
  if (typeof bundle.chain_id !== "string" || !bundle.chain_id) throw fail("format_no_chain");
  if (typeof bundle.tx_id !== "string" || !TX_ID.test(bundle.tx_id)) throw fail("format_bad_tx_id");
  for (const key of ["genesis", "transaction", "checkpoint", "inclusion", "genesis_link"]) {
    plainObject(bundle[key], null, say("what_bundle_key", { key }));
  }
  state.chainId = bundle.chain_id;
  state.txId = bundle.tx_id;
  return say("format_ok", { format: BUNDLE_FORMAT, tx: short(bundle.tx_id), chain: bundle.chain_id });
}

async function checkGenesis(bundle, state) {
  const genesis = await parseGenesis(bundle.genesis);
  if (genesis.chainId !== bundle.chain_id) {
    throw fail("genesis_founds_other", { found: genesis.chainId, chain: bundle.chain_id });
  }
  const pinned = state.trusted.genesisTxId;
  if (pinned && pinned !== genesis.txId) {
    throw fail("genesis_not_pinned", { given: genesis.txId, pinned });
  }
  if (!genesis.nodes.length) throw fail("genesis_no_nodes");
  state.genesis = genesis;
  state.firstUse = !pinned;
  const orgs = new Set(genesis.nodes.map((n) => n.org)).size;
  const names = genesis.nodes.map((n) => n.id).join(", ");
  const how = pinned ? say("how_pinned") : say("how_first_use");
  return say("genesis_ok", { names, orgs, quorum: quorumSize(genesis.nodes), tx: genesis.txId, how });
}

async function checkCheckpoint(bundle, state) {
  const served = bundle.checkpoint;
  if (typeof served.checkpoint !== "string") {
    throw typeof served.unsigned === "string" ? fail("unsigned_why", { why: served.unsigned })
      : fail("unsigned");
  }
  const signed = parseSignedCheckpoint(served.checkpoint);
  const block = checkOrigin(signed, bundle.chain_id);
  state.signed = signed;
  state.block = block;
  state.checkpointSummary = {
    size: Number(signed.checkpoint.size), height: Number(block.height), block_hash: block.hash,
    root: hexOf(signed.checkpoint.root), note: served.checkpoint, cosigners: [],
  };
  return say("checkpoint_ok", { height: block.height, size: signed.checkpoint.size,
    root: short(hexOf(signed.checkpoint.root)), origin: signed.checkpoint.origin });
}

async function checkQuorum(state) {
  const result = await checkCosigned(state.signed, state.chainId, state.genesis.nodes);
  state.checkpointSummary.cosigners = result.cosigners;
  state.checkpointSummary.quorum = result.need;
  return say("cosigners_ok", { cosigners: result.cosigners.join(", "), orgs: result.orgs,
    total: result.total, need: result.need });
}

async function checkGenesisLink(bundle, state) {
  const link = plainObject(bundle.genesis_link, null, say("what_genesis_link"));
  const size = state.signed.checkpoint.size;
  if (exactInteger(link.first, say("what_link_first")) !== 1n
      || exactInteger(link.second, say("what_link_second")) !== size) {
    throw fail("link_wrong", { size });
  }
  await verifyConsistencyProof(1n, size, state.genesis.leaf, state.signed.checkpoint.root,
    hashList(link.proof, say("what_link_proof")));
  return say("link_ok", { size });
}

async function checkTransaction(bundle, state) {
  const tx = plainObject(bundle.transaction, null, say("what_transaction"));
  const facts = await envelopeFacts(tx.envelope, say("what_tx_envelope"));
  if (facts.txId !== bundle.tx_id) throw fail("body_hash_wrong", { found: facts.txId, tx: bundle.tx_id });
  if (facts.body.chain_id !== bundle.chain_id) throw fail("tx_other_chain");
  state.leaf = facts.leaf;
  const signers = Array.isArray(facts.body.signers) ? facts.body.signers.map(String) : [];
  state.transaction = {
    contract: String(facts.body.contract), action: String(facts.body.action), signers,
    leaf_hash: hexOf(facts.leaf), log_index: Number.isSafeInteger(tx.log_index) ? tx.log_index : null,
  };
  return say("transaction_ok", { call: `${facts.body.contract}.${facts.body.action}`,
    signers: signers.join(", ") || say("nobody") });
}

async function checkInclusion(bundle, state) {
  const proof = plainObject(bundle.inclusion, null, say("what_inclusion_proof"));
  if (proof.tx_id !== bundle.tx_id) throw fail("proof_other_tx");
  const size = state.signed.checkpoint.size;
  if (exactInteger(proof.tree_size, say("what_proof_size")) !== size) {
    throw fail("proof_other_size", { given: proof.tree_size, size });
  }
  const index = exactInteger(proof.leaf_index, say("what_proof_index"));
  const told = bundle.transaction.log_index;
  if (told !== undefined && told !== null && exactInteger(told, say("what_tx_log_index")) !== index) {
    throw fail("proof_other_leaf", { index, told });
  }
  const path = hashList(proof.proof, say("what_inclusion_proof"));
  await verifyInclusionProof(state.leaf, index, size, path, state.signed.checkpoint.root);
  return say("inclusion_ok", { index, size, hashes: path.length });
}

async function checkAgainstTrusted(bundle, state) {
  const previous = state.trusted.checkpoint;
  const current = bundle.checkpoint.checkpoint;
  if (!previous) {
    state.keepCheckpoint = current;
    return say("first_checkpoint");
  }
  const result = await verifyConsistency(previous, current, bundle.consistency, state.genesis.nodes);
  state.previous = result.from;
  if (result.fork) state.fork = result.fork;
  if (!result.ok) throw new VerifyError(result.message);
  state.keepCheckpoint = result.to && result.from && result.to.size >= result.from.size ? current : previous;
  return result.message;
}

/** Check that two checkpoints are of one log; report a fork if both are cosigned and none joins them.
 *
 * `fromCheckpoint`, `toCheckpoint`: signed notes (the browser's trusted one, the current one).
 * `proof`: the node's consistency answer {first, second, proof} or a list of hex hashes, between
 * the smaller and the larger size.  `nodes` ({id, org, public_key}, from the pinned genesis): when
 * given, both checkpoints must be quorum-cosigned, and only then is a failure a fork.
 * Returns {ok, fork: null | evidence, detail (English), message (say), from, to, steps}; never
 * throws.  The evidence's `reason` is English; `reason_message` is the same reason as a message.
 */
export async function verifyConsistency(fromCheckpoint, toCheckpoint, proof, nodes) {
  const verdict = new Verdict();
  const out = { ok: false, fork: null, detail: "", from: null, to: null };
  try {
    await consistencyChecks(verdict, out, fromCheckpoint, toCheckpoint, proof, nodes);
  } catch (error) {
    verdict.stopped(error);
  }
  out.steps = verdict.steps;
  out.ok = verdict.steps.every((s) => s.ok);
  const shown = out.ok ? verdict.steps[verdict.steps.length - 1] : verdict.steps.find((s) => !s.ok);
  out.detail = shown.detail;
  out.message = shown.message;
  return out;
}

function describe(signed, block) {
  return { size: Number(signed.checkpoint.size), height: Number(block.height), block_hash: block.hash, root: hexOf(signed.checkpoint.root) };
}

async function readCheckpoint(which, check) {
  try {
    return await check();
  } catch (error) {
    if (!(error instanceof VerifyError)) throw error;
    const values = { error: error.words };
    throw which === "trusted" ? fail("trusted_unreadable", values) : fail("current_unreadable", values);
  }
}

async function consistencyChecks(verdict, out, fromNote, toNote, proof, nodes) {
  const read = {};
  for (const [label, note] of [["from", fromNote], ["to", toNote]]) {
    const which = label === "from" ? "trusted" : "current";
    const ok = await verdict.step(`${label}_checkpoint`, () => readCheckpoint(which, async () => {
      read[label] = parseSignedCheckpoint(note);
      read[`${label}Block`] = checkpointBlock(read[label].checkpoint);
      out[label] = describe(read[label], read[`${label}Block`]);
      if (nodes !== undefined && nodes !== null) {
        const chain = read[label].checkpoint.origin.slice(ORIGIN_PREFIX.length);
        const result = await checkCosigned(read[label], chain, nodesFromTrust(nodes));
        const values = { height: out[label].height, size: out[label].size,
          cosigners: result.cosigners.join(", "), orgs: result.orgs, total: result.total, need: result.need };
        return which === "trusted" ? say("trusted_cosigned", values) : say("current_cosigned", values);
      }
      const values = { height: out[label].height, size: out[label].size };
      return which === "trusted" ? say("trusted_read", values) : say("current_read", values);
    }));
    if (!ok) return;
  }
  const cosigned = nodes !== undefined && nodes !== null;
  const evidence = (reason, hashes) => ({
    reason: wordsOf(reason), reason_message: reason, trusted_checkpoint: fromNote,
    served_checkpoint: toNote, consistency_proof: hashes ?? [], cosigned,
  });
  await verdict.step("consistency", async () => {
    const [a, b] = [read.from, read.to];
    if (a.checkpoint.origin !== b.checkpoint.origin) {
      throw fail("two_logs", { first: a.checkpoint.origin, second: b.checkpoint.origin });
    }
    const fork = (reason, hashes) => {
      out.fork = evidence(reason, hashes);
      return fail("fork", { reason });
    };
    const [sa, sb, ha, hb] = [a.checkpoint.size, b.checkpoint.size, read.fromBlock.height, read.toBlock.height];
    if (sa === sb) {
      if (!equalBytes(a.checkpoint.root, b.checkpoint.root)) throw fork(say("fork_same_size"));
      if (ha === hb && read.fromBlock.hash !== read.toBlock.hash) throw fork(say("fork_same_height"));
      return say("same_log", { size: sb });
    }
    if ((sb > sa) !== (hb > ha)) throw fork(say("fork_smaller_log"));
    const [first, second] = sa < sb ? [a, b] : [b, a];
    const answer = Array.isArray(proof) ? { first: Number(first.checkpoint.size), second: Number(second.checkpoint.size), proof } : proof;
    const sizes = { first: first.checkpoint.size, second: second.checkpoint.size };
    if (answer === null || answer === undefined || typeof answer !== "object") {
      throw fail("no_consistency_given", sizes);
    }
    if (typeof answer.error === "string") throw fail("node_refused", { ...sizes, error: answer.error });
    if (exactInteger(answer.first, say("what_consistency_first")) !== first.checkpoint.size
        || exactInteger(answer.second, say("what_consistency_second")) !== second.checkpoint.size) {
      throw fail("consistency_other_sizes", { ...sizes, given_first: answer.first, given_second: answer.second });
    }
    const hashes = hashList(answer.proof, say("what_consistency_proof"));
    try {
      await verifyConsistencyProof(first.checkpoint.size, second.checkpoint.size, first.checkpoint.root, second.checkpoint.root, hashes);
    } catch (error) {
      if (!(error instanceof VerifyError)) throw error;
      throw fork(say("fork_no_consistency", { ...sizes, error: error.words }), answer.proof);
    }
    return sb > sa
      ? say("extends", { second: sb, first: sa, hashes: hashes.length })
      : say("older", { size: sb, trusted: sa });
  });
}

/** What every verdict takes on trust, as messages (verdict.trusted.assumptions in English). */
export const ASSUMPTIONS = Object.freeze(["assume_code", "assume_crypto", "assume_quorum",
  "assume_inclusion"].map((id) => say(id)));

function trustedSummary(state) {
  const genesis = state.genesis;
  const pinned = state.trusted.genesisTxId;
  return {
    genesis: genesis ? {
      tx_id: genesis.txId,
      first_use: !pinned,
      source: pinned ? (state.trusted.genesisSource || wordsOf(say("source_pinned")))
        : wordsOf(say("source_first_use")),
    } : null,
    nodes: genesis ? genesis.nodes.map((n) => ({ id: n.id, org: n.org, public_key: n.publicKey })) : [],
    quorum: genesis ? quorumSize(genesis.nodes) : null,
    previous_checkpoint: state.trusted.checkpoint ? {
      ...(state.previous ?? {}), source: state.trusted.checkpointSource || wordsOf(say("source_kept")),
    } : null,
    assumptions: ASSUMPTIONS.map((m) => wordsOf(m)),
  };
}
