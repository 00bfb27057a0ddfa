"""C2SP signed notes (https://c2sp.org/signed-note): a text signed by one or more keys.

Log checkpoints (ledger/checkpoint.py) travel as signed notes so that the
tools of the transparency ecosystem (golang.org/x/mod/sumdb/note, witnesses,
monitors) can read and verify what our nodes sign.  A note is

    <text, one or more lines, each ending in a newline>
    <a blank line>
    — <key name> <base64(4-byte key ID || signature)>     (one line per signature)

Only Ed25519 keys (signature type 0x01) are supported: the key ID is the
first four bytes of SHA-256(key name || 0x0A || 0x01 || public key), and the
signature is plain Ed25519 over the note text (which ends with its newline).
That unframed signature is why notes go through `PrivateKey.sign_unframed`,
which refuses anything that begins like one of our domain-tagged messages.

Verification follows the spec: signatures from unknown keys (another name, or
a known name with another key ID) are ignored; a signature from a known key
that fails to verify rejects the whole note; a note with no verified
signature is rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from ledger.crypto import PUBLIC_KEY_SIZE, PrivateKey, PublicKey, b64decode, b64encode
from ledger.errors import SchemaError, SignatureError

EM_DASH = "\u2014"
SIGNATURE_PREFIX = EM_DASH + " "
ED25519_TYPE = b"\x01"
KEY_ID_SIZE = 4
MAX_SIGNATURES = 100  # the spec asks for at least 16; Go's reference stops at 100


def check_key_name(name: str) -> None:
    """Raise SchemaError unless `name` is a valid key name: non-empty, no spaces, no '+'."""
    if not isinstance(name, str) or not name:
        raise SchemaError("a note key name is a non-empty string")
    if "+" in name or any(c.isspace() or ord(c) < 0x20 for c in name):
        raise SchemaError(f"note key name {name!r} contains a space, a control character or '+'")


def check_text(text: str) -> None:
    """Raise SchemaError unless `text` can be a note text.

    It must be non-empty, end in a newline, and hold no ASCII control
    character but newline (the spec's rule for the whole note).
    """
    if not isinstance(text, str) or not text.endswith("\n"):
        raise SchemaError("a note text is non-empty and ends with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise SchemaError("a note holds no control character other than newline")


def key_id(name: str, public_key: PublicKey) -> bytes:
    """Return the 4-byte key ID of Ed25519 key `public_key` named `name`."""
    check_key_name(name)
    material = name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key.raw
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def verifier_key(name: str, public_key: PublicKey) -> str:
    """Return the key in Go's verifier-key form: `name+<key ID hex>+<base64(0x01 || key)>`.

    That is how operators configure sumdb/note verifiers and witnesses.
    """
    return f"{name}+{key_id(name, public_key).hex()}+{b64encode(ED25519_TYPE + public_key.raw)}"


def parse_verifier_key(text: str) -> tuple[str, PublicKey]:
    """Parse a Go verifier key; raise SchemaError if malformed or not a consistent Ed25519 key."""
    name, _, rest = text.partition("+")
    hash_hex, _, material = rest.partition("+")
    check_key_name(name)
    try:
        raw = b64decode(material, what="verifier key")
    except SignatureError as exc:
        raise SchemaError(str(exc)) from exc
    if len(raw) != 1 + PUBLIC_KEY_SIZE or raw[:1] != ED25519_TYPE:
        raise SchemaError("a verifier key is an Ed25519 key: 0x01 and 32 bytes")
    key = PublicKey(raw[1:])
    if hash_hex != key_id(name, key).hex():
        raise SchemaError("the verifier key's ID does not match its name and key")
    return name, key


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name and ID, and the signature over the note text."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if len(self.key_id) != KEY_ID_SIZE or not self.signature:
            raise SchemaError("a note signature is a 4-byte key ID and a non-empty signature")

    def line(self) -> str:
        """Return the signature line, newline included."""
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note text and its signatures, in the order they appear."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        check_text(self.text)
        if not 0 < len(self.signatures) <= MAX_SIGNATURES:
            raise SchemaError(f"a signed note has 1 to {MAX_SIGNATURES} signatures")

    def encode(self) -> str:
        """Return the note as text: the note text, a blank line, the signature lines."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def sign_note(text: str, name: str, key: PrivateKey) -> NoteSignature:
    """Sign note `text` with `key` under key name `name`; return the signature line's content."""
    check_text(text)
    return NoteSignature(name, key_id(name, key.public_key),
                         key.sign_unframed(text.encode("utf-8")))


def parse_note(message: str | bytes) -> SignedNote:
    """Split a signed note into text and signatures, checking its syntax only.

    Bytes must be UTF-8.  Raises SchemaError naming what is malformed;
    signatures are not checked here (see `verify_note`).
    """
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SchemaError("a signed note is not valid UTF-8") from exc
    if not isinstance(message, str) or not message.endswith("\n"):
        raise SchemaError("a signed note ends with a newline")
    split = message.rfind("\n\n")
    if split < 0:
        raise SchemaError("a signed note has a blank line before its signatures")
    text, lines = message[: split + 1], message[split + 2 :]
    check_text(text)
    if not lines:
        raise SchemaError("a signed note has at least one signature line")
    return SignedNote(text, tuple(_parse_signature(line) for line in lines[:-1].split("\n")))


def _parse_signature(line: str) -> NoteSignature:
    """Parse one signature line (without its newline); raise SchemaError if malformed."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise SchemaError(f"a note signature line starts with an em dash and a space: {line!r}")
    name, space, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space:
        raise SchemaError("a note signature line is '— <key name> <base64 signature>'")
    check_key_name(name)
    try:
        raw = b64decode(encoded, what=f"the signature of {name}")
    except SignatureError as exc:
        raise SchemaError(str(exc)) from exc
    if len(raw) <= KEY_ID_SIZE:
        raise SchemaError(f"the signature of {name} is shorter than a key ID and a signature")
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def verify_note(note: SignedNote, keys: Mapping[str, PublicKey]) -> frozenset[str]:
    """Return the names of the known keys whose signatures verify.

    `keys` maps key names to Ed25519 keys.  A signature whose name or key
    ID matches no known key is ignored; a known key's signature that fails
    raises SignatureError, as does a note no known key signed.
    """
    message = note.text.encode("utf-8")
    verified = set()
    for sig in note.signatures:
        key = keys.get(sig.name)
        if key is None or key_id(sig.name, key) != sig.key_id:
            continue
        try:
            key.verify_unframed(message, sig.signature)
        except SignatureError as exc:
            raise SignatureError(f"the note signature of {sig.name} does not verify") from exc
        verified.add(sig.name)
    if not verified:
        raise SignatureError("the note has no signature from a known key")
    return frozenset(verified)
