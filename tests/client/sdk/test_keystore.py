"""Keystores: a password-sealed signing key whose identity fields cannot be altered unnoticed.

The seed is sealed with AES-256-GCM under a scrypt key; uscc, name and public
key are associated data.  Any change to the file, or a wrong password, is a
KeystoreError, and the file is readable by its owner only.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from client.sdk.keystore import (
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    Identity,
    KeystoreError,
    _associated,
    _derive,
    generate_key,
    load_keystore,
    save_keystore,
)
from ledger.crypto import Domain, PrivateKey, b64encode
from tests.builders import uscc_for

PASSWORD = "correct horse battery staple"
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def identity() -> Identity:
    return Identity(uscc_for(1), "Shanghai Core Manufacturing Co.", generate_key())


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, identity: Identity) -> Doc:
    """The JSON document of a keystore saved once for the module."""
    path = tmp_path_factory.mktemp("keystore") / "core.json"
    save_keystore(path, identity, PASSWORD)
    doc: Doc = json.loads(path.read_text(encoding="utf-8"))
    return doc


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def flip_b64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_round_trip(tmp_path: Path, identity: Identity) -> None:
    path = tmp_path / "nested" / "dir" / "core.json"
    save_keystore(path, identity, PASSWORD)
    loaded = load_keystore(path, PASSWORD)
    assert loaded == identity
    assert loaded.key.seed == identity.key.seed
    message = b"request bytes"
    signature = loaded.key.sign(Domain.REQUEST, message)
    identity.key.public_key.verify(Domain.REQUEST, message, signature)


@pytest.mark.parametrize("password", ["", "密码-пароль-🔑", "x" * 1000])
def test_round_trip_with_unusual_passwords(tmp_path: Path, identity: Identity,
                                           password: str) -> None:
    save_keystore(tmp_path / "k.json", identity, password)
    assert load_keystore(tmp_path / "k.json", password) == identity


def test_the_file_is_what_it_says(sealed: Doc, identity: Identity) -> None:
    assert sealed["version"] == 1
    assert (sealed["uscc"], sealed["name"]) == (identity.uscc, identity.name)
    assert sealed["public_key"] == identity.key.public_key.hex()
    assert sealed["kdf"]["name"] == "scrypt"
    assert (sealed["kdf"]["n"], sealed["kdf"]["r"], sealed["kdf"]["p"]) == (
        SCRYPT_N, SCRYPT_R, SCRYPT_P)
    assert sealed["cipher"]["name"] == "aes-256-gcm"
    text = json.dumps(sealed)
    assert identity.key.seed.hex() not in text
    assert b64encode(identity.key.seed) not in text


def test_each_save_uses_fresh_salt_and_nonce(tmp_path: Path, identity: Identity) -> None:
    save_keystore(tmp_path / "a.json", identity, PASSWORD)
    save_keystore(tmp_path / "b.json", identity, PASSWORD)
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a["kdf"]["salt"] != b["kdf"]["salt"]
    assert a["cipher"]["nonce"] != b["cipher"]["nonce"]
    assert a["cipher"]["ciphertext"] != b["cipher"]["ciphertext"]


def test_file_mode_is_0600(tmp_path: Path, identity: Identity) -> None:
    path = tmp_path / "k.json"
    save_keystore(path, identity, PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_overwriting_a_loose_file_makes_it_0600(tmp_path: Path, identity: Identity) -> None:
    path = tmp_path / "k.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    save_keystore(path, identity, PASSWORD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wrong_password(tmp_path: Path, sealed: Doc) -> None:
    path = write(tmp_path / "k.json", sealed)
    with pytest.raises(KeystoreError, match="wrong password or tampered file"):
        load_keystore(path, PASSWORD + "!")
    with pytest.raises(KeystoreError):
        load_keystore(path, "")


def _set(*keys: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value(target[keys[-1]]) if callable(value) else value
    return change


TAMPERING = {
    "uscc": _set("uscc", value=uscc_for(2)),
    "name": _set("name", value="Someone Else Ltd."),
    "public_key": _set("public_key", value=generate_key().public_key.hex()),
    "ciphertext": _set("cipher", "ciphertext", value=flip_b64),
    "ciphertext-truncated": _set("cipher", "ciphertext", value=lambda t: b64encode(
        base64.b64decode(t)[:-1])),
    "nonce": _set("cipher", "nonce", value=flip_b64),
    "salt": _set("kdf", "salt", value=flip_b64),
    "kdf-n": _set("kdf", "n", value=SCRYPT_N // 2),
    "uscc-type": _set("uscc", value=12345),
}


@pytest.mark.parametrize("field", list(TAMPERING))
def test_tampering_is_detected(tmp_path: Path, sealed: Doc, field: str) -> None:
    doc = json.loads(json.dumps(sealed))
    TAMPERING[field](doc)
    assert doc != sealed
    with pytest.raises(KeystoreError):
        load_keystore(write(tmp_path / "k.json", doc), PASSWORD)


@pytest.mark.parametrize("content", [
    "", "not json", "[]", "{}", '{"kdf": {}, "cipher": {}}', "null",
], ids=["empty", "not-json", "list", "empty-object", "empty-parts", "null"])
def test_malformed_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "k.json"
    path.write_text(content)
    with pytest.raises(KeystoreError):
        load_keystore(path, PASSWORD)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="cannot read keystore"):
        load_keystore(tmp_path / "absent.json", PASSWORD)


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(KeystoreError):
        load_keystore(path, PASSWORD)


@pytest.mark.parametrize("change", [
    _set("kdf", "n", value=1000),
    _set("kdf", "n", value="32768"),
    _set("cipher", "nonce", value=""),
], ids=["n-not-power-of-two", "n-string", "empty-nonce"])
def test_bad_parameters(tmp_path: Path, sealed: Doc, change: Callable[[Doc], None]) -> None:
    doc = json.loads(json.dumps(sealed))
    change(doc)
    with pytest.raises(KeystoreError):
        load_keystore(write(tmp_path / "k.json", doc), PASSWORD)


@pytest.mark.parametrize("keys", [("cipher", "ciphertext"), ("cipher", "nonce"),
                                  ("kdf", "salt")], ids=["ciphertext", "nonce", "salt"])
def test_non_base64_fields_are_keystore_errors(tmp_path: Path, sealed: Doc,
                                              keys: tuple[str, str]) -> None:
    doc = json.loads(json.dumps(sealed))
    _set(*keys, value="!!! not base64 !!!")(doc)
    with pytest.raises(KeystoreError):
        load_keystore(write(tmp_path / "k.json", doc), PASSWORD)


def test_absurd_kdf_parameters_are_keystore_errors(tmp_path: Path, sealed: Doc) -> None:
    doc = json.loads(json.dumps(sealed))
    doc["kdf"]["n"] = 2**40
    with pytest.raises(KeystoreError):
        load_keystore(write(tmp_path / "k.json", doc), PASSWORD)


def test_a_sealed_key_that_does_not_match_its_public_key(tmp_path: Path,
                                                        identity: Identity) -> None:
    """Encrypted with the right password but for another key: still refused."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    other = PrivateKey(bytes(range(32)))
    salt, nonce = b"s" * 16, b"n" * 12
    public = identity.key.public_key.hex()
    sealed = AESGCM(_derive(PASSWORD, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, other.seed, _associated(identity.uscc, identity.name, public))
    doc = {
        "version": 1, "uscc": identity.uscc, "name": identity.name, "public_key": public,
        "kdf": {"name": "scrypt", "salt": b64encode(salt), "n": SCRYPT_N, "r": SCRYPT_R,
                "p": SCRYPT_P},
        "cipher": {"name": "aes-256-gcm", "nonce": b64encode(nonce),
                   "ciphertext": b64encode(sealed)},
    }
    with pytest.raises(KeystoreError, match="key does not match"):
        load_keystore(write(tmp_path / "k.json", doc), PASSWORD)



@pytest.mark.parametrize("text", ["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                                  "not json at all", "[1, 2]", '{"uscc": "x"}'])
def test_a_file_that_is_not_a_keystore_is_named_so(tmp_path: Path, text: str) -> None:
    path = tmp_path / "given.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KeystoreError) as refused:
        load_keystore(path, "pw")
    said = str(refused.value)
    assert f"{path} is not a keystore" in said and "Expecting value" not in said
    assert ("PEM file" in said) == text.startswith("-----BEGIN")
