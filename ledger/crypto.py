"""The one module that touches cryptographic primitives.

Hashing is SHA-256 and signing is Ed25519 (PyNaCl/libsodium).  Everything
else in the ledger calls the small recipes here, so that a second suite (the
national SM2/SM3 profile) can be added in one place.  Every signature is made
over a domain tag followed by the message, so a signature for one kind of
message can never be replayed as another kind.  The one exception is the C2SP
signed note (ledger/signed_note.py), whose standard says the signature covers the
note text alone; `sign_unframed` refuses any message that begins like a
domain tag, so the two kinds of signed message can never be confused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from ledger.errors import SignatureError

SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32
SEED_SIZE = 32
_HEX_KEY = re.compile(r"[0-9a-f]{64}")


DOMAIN_PREFIX = b"receivables-ledger/"  # every Domain tag starts with it


class Domain(Enum):
    """Type tags that separate the kinds of signed message.

    Checkpoints have no tag: they are C2SP signed notes, signed unframed
    over their text, which starts with an origin line of its own
    (ledger/checkpoint.py).
    """

    TRANSACTION = b"receivables-ledger/v1/transaction\n"
    BATCH = b"receivables-ledger/v1/batch\n"
    BLOCK_HEADER = b"receivables-ledger/v1/block-header\n"
    REQUEST = b"receivables-ledger/v1/request\n"
    ATTESTATION = b"receivables-ledger/v1/attestation\n"


def sha256(data: bytes) -> bytes:
    """Return the SHA-256 digest of `data`."""
    return hashlib.sha256(data).digest()


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 digest of `data` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def chacha20_keystream(key: bytes, size: int) -> bytes:
    """Return the first `size` bytes of ChaCha20's keystream for a 32-byte `key`.

    Nonce zero and block counter zero (RFC 8439's cipher with a 96-bit
    nonce): the expansion MuHash3072 applies to an element's SHA-256
    (ledger/state_digest.py), as Bitcoin Core's `ToNum3072` does.
    """
    cipher = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None)
    return cipher.encryptor().update(bytes(size))


def b64encode(data: bytes) -> str:
    """Return standard base64 text (with padding) for `data`."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, what: str) -> bytes:
    """Decode strict standard base64; raise SignatureError naming `what` if malformed."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError, AttributeError) as exc:
        raise SignatureError(f"{what} is not valid base64") from exc
    if b64encode(raw) != text:
        raise SignatureError(f"{what} is not in canonical base64 (one spelling per value)")
    return raw


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key (32 raw bytes)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise SignatureError("an Ed25519 public key is 32 bytes")

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        """Parse a hex public key; raise SignatureError if malformed."""
        if not isinstance(text, str) or not _HEX_KEY.fullmatch(text):
            raise SignatureError("public key must be 64 lower-case hex digits")
        return cls(bytes.fromhex(text))

    def hex(self) -> str:
        """Return the key as lowercase hex."""
        return self.raw.hex()

    def verify(self, domain: Domain, message: bytes, signature: bytes) -> None:
        """Check `signature` over `domain`+`message`; raise SignatureError if it fails.

        The error says only that the signature is invalid, never why.
        """
        if len(signature) != SIGNATURE_SIZE:
            raise SignatureError("signature is not 64 bytes")
        try:
            nacl.signing.VerifyKey(self.raw).verify(domain.value + message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
            raise SignatureError("signature does not verify") from exc

    def verify_unframed(self, message: bytes, signature: bytes) -> None:
        """Check a plain Ed25519 `signature` over `message` (no domain tag).

        For C2SP signed notes only (see `PrivateKey.sign_unframed`); raises
        SignatureError if it fails, never saying why.
        """
        if _looks_framed(message):
            raise SignatureError("an unframed signature never covers a domain-tagged message")
        if len(signature) != SIGNATURE_SIZE:
            raise SignatureError("signature is not 64 bytes")
        try:
            nacl.signing.VerifyKey(self.raw).verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
            raise SignatureError("signature does not verify") from exc


def _looks_framed(message: bytes) -> bool:
    """Return whether `message` begins like a domain-tagged message of ours."""
    return message.startswith(DOMAIN_PREFIX)


@dataclass(frozen=True, repr=False)
class PrivateKey:
    """An Ed25519 signing key, built from a 32-byte seed supplied by the caller."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_SIZE:
            raise SignatureError("an Ed25519 seed is 32 bytes")

    def __repr__(self) -> str:
        return f"PrivateKey(public={self.public_key.hex()})"

    @cached_property
    def public_key(self) -> PublicKey:
        """Return the matching public key."""
        return PublicKey(bytes(self._signer.verify_key))

    @cached_property
    def _signer(self) -> nacl.signing.SigningKey:
        return nacl.signing.SigningKey(self.seed)

    def sign(self, domain: Domain, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature over `domain`+`message`."""
        return bytes(self._signer.sign(domain.value + message).signature)

    def sign_unframed(self, message: bytes) -> bytes:
        """Return a plain Ed25519 signature over `message`, with no domain tag.

        Exists because C2SP signed notes (ledger/signed_note.py) must be signed over
        their text alone so that standard verifiers accept them.  Refuses
        (SignatureError) a message that begins with DOMAIN_PREFIX, so this
        can never produce a signature valid as a transaction, batch,
        request or attestation signature of the same key.
        """
        if _looks_framed(message):
            raise SignatureError("refusing to sign unframed a message that begins like a "
                                 "domain-tagged one")
        return bytes(self._signer.sign(message).signature)


def verify_raw_ed25519(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Return whether a plain Ed25519 signature (no domain tag) verifies.

    Exists for known-answer tests (RFC 8032) and for the benchmark's raw rate.
    """
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True
