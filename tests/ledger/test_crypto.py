"""ledger.crypto: RFC 8032 known answers, domain separation and strict input handling."""

from __future__ import annotations

import base64
import hashlib
import itertools

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto import (
    Domain,
    PrivateKey,
    PublicKey,
    b64decode,
    b64encode,
    sha256,
    sha256_hex,
    verify_raw_ed25519,
)
from ledger.errors import SignatureError
from ledger.request_auth import HEADER_SIGNATURE, RequestToSign, sign_request

TEST_1024_MESSAGE = "".join([
    "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1",
    "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d",
    "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a",
    "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
    "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10",
    "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1",
    "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d",
    "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
    "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b",
    "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba",
    "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b",
    "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
    "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d",
    "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df",
    "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7",
    "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
    "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09",
    "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f",
    "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161",
    "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
    "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca",
    "c60c905c15fc910840b94c00a0b9d0",
])

# RFC 8032 section 7.1: (name, secret key, public key, message, signature), all hex.
RFC8032_VECTORS = [
    ("TEST 1",
     "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("TEST 2",
     "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("TEST 3",
     "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
     "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ("TEST 1024",
     "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     TEST_1024_MESSAGE,
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350"
     "aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"),
    ("TEST SHA(abc)",
     "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589"
     "09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
]
VECTOR_IDS = [v[0] for v in RFC8032_VECTORS]
SEED = bytes(range(32))
KEY = PrivateKey(SEED)


def test_vector_messages_are_what_the_rfc_says() -> None:
    assert len(bytes.fromhex(TEST_1024_MESSAGE)) == 1023
    assert bytes.fromhex(RFC8032_VECTORS[4][3]) == hashlib.sha512(b"abc").digest()


@pytest.mark.parametrize(("name", "sk", "pk", "msg", "sig"), RFC8032_VECTORS, ids=VECTOR_IDS)
def test_rfc8032_vectors(name: str, sk: str, pk: str, msg: str, sig: str) -> None:
    seed, public, message, signature = (bytes.fromhex(x) for x in (sk, pk, msg, sig))
    key = PrivateKey(seed)
    assert key.public_key == PublicKey(public)
    assert key.public_key.hex() == pk
    assert verify_raw_ed25519(public, message, signature)
    assert bytes(nacl.signing.SigningKey(seed).sign(message).signature) == signature
    # our domain-tagged signature is plain Ed25519 over tag + message
    tagged = key.sign(Domain.TRANSACTION, message)
    assert verify_raw_ed25519(public, Domain.TRANSACTION.value + message, tagged)
    assert not verify_raw_ed25519(public, message, tagged)
    with pytest.raises(SignatureError):  # the raw RFC signature carries no domain tag
        PublicKey(public).verify(Domain.TRANSACTION, message, signature)


def test_sha256_known_answers() -> None:
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_hex(b"") == empty and sha256(b"") == bytes.fromhex(empty)
    assert sha256_hex(b"abc") == abc


def test_domain_tags_are_prefix_free() -> None:
    tags = [d.value for d in Domain]
    assert len(set(tags)) == len(tags)
    for a, b in itertools.permutations(tags, 2):
        assert not b.startswith(a)


@pytest.mark.parametrize(("signed_as", "checked_as"), list(itertools.permutations(Domain, 2)))
def test_domain_separation(signed_as: Domain, checked_as: Domain) -> None:
    message = b'{"chain_id":"c","method":"GET"}'
    signature = KEY.sign(signed_as, message)
    KEY.public_key.verify(signed_as, message, signature)
    with pytest.raises(SignatureError):
        KEY.public_key.verify(checked_as, message, signature)


def test_transaction_signature_is_not_a_request_signature() -> None:
    signature = KEY.sign(Domain.TRANSACTION, b"body")
    with pytest.raises(SignatureError, match="does not verify"):
        KEY.public_key.verify(Domain.REQUEST, b"body", signature)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=150, deadline=None)
@given(message=st.binary(min_size=1, max_size=200), data=st.data())
def test_any_flipped_message_bit_is_rejected(message: bytes, data: st.DataObject) -> None:
    signature = KEY.sign(Domain.TRANSACTION, message)
    bit = data.draw(st.integers(0, len(message) * 8 - 1))
    with pytest.raises(SignatureError):
        KEY.public_key.verify(Domain.TRANSACTION, _flip(message, bit), signature)


@settings(max_examples=150, deadline=None)
@given(message=st.binary(max_size=64), bit=st.integers(0, 64 * 8 - 1))
def test_any_flipped_signature_bit_is_rejected(message: bytes, bit: int) -> None:
    signature = KEY.sign(Domain.BLOCK_HEADER, message)
    with pytest.raises(SignatureError):
        KEY.public_key.verify(Domain.BLOCK_HEADER, message, _flip(signature, bit))


@settings(max_examples=150, deadline=None)
@given(message=st.binary(max_size=64), bit=st.integers(0, 32 * 8 - 1))
def test_any_flipped_public_key_bit_is_rejected(message: bytes, bit: int) -> None:
    signature = KEY.sign(Domain.ATTESTATION, message)
    flipped = _flip(KEY.public_key.raw, bit)
    with pytest.raises(SignatureError):
        PublicKey(flipped).verify(Domain.ATTESTATION, message, signature)
    assert not verify_raw_ed25519(flipped, Domain.ATTESTATION.value + message, signature)


def test_signature_by_other_key_rejected() -> None:
    other = PrivateKey(bytes(32))
    signature = other.sign(Domain.TRANSACTION, b"m")
    with pytest.raises(SignatureError):
        KEY.public_key.verify(Domain.TRANSACTION, b"m", signature)


@pytest.mark.parametrize("size", [0, 1, 31, 33, 64])
def test_wrong_length_keys_rejected(size: int) -> None:
    with pytest.raises(SignatureError):
        PublicKey(bytes(size))
    with pytest.raises(SignatureError):
        PrivateKey(bytes(size))


@pytest.mark.parametrize("size", [0, 32, 63, 65, 128])
def test_wrong_length_signature_rejected(size: int) -> None:
    with pytest.raises(SignatureError, match="64 bytes"):
        KEY.public_key.verify(Domain.TRANSACTION, b"m", bytes(size))
    assert not verify_raw_ed25519(KEY.public_key.raw, b"m", bytes(size))


def test_verify_raw_rejects_bad_key_lengths() -> None:
    signature = bytes(nacl.signing.SigningKey(SEED).sign(b"m").signature)
    assert verify_raw_ed25519(KEY.public_key.raw, b"m", signature)
    assert not verify_raw_ed25519(KEY.public_key.raw[:31], b"m", signature)
    assert not verify_raw_ed25519(b"", b"m", signature)


@pytest.mark.parametrize("text", ["zz" * 32, "ab" * 31, "ab" * 33, "abc", "", "0x" + "ab" * 31])
def test_public_key_from_bad_hex(text: str) -> None:
    with pytest.raises(SignatureError):
        PublicKey.from_hex(text)


def test_public_key_hex_round_trip() -> None:
    assert PublicKey.from_hex(KEY.public_key.hex()) == KEY.public_key
    with pytest.raises(SignatureError):  # one spelling per key: lower-case only
        PublicKey.from_hex(KEY.public_key.hex().upper())


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=100))
def test_b64_round_trip(data: bytes) -> None:
    text = b64encode(data)
    assert text == base64.b64encode(data).decode()
    assert b64decode(text, what="x") == data


@pytest.mark.parametrize("text", [
    "abc", "QQ", "QQ=", "QQ===", "Q===", "=QQ=", "QQ==QQ==x", "ab$=", "é", "QQ ==", "QQ==\n",
    " QQ==", "-_-_", "YWJj\x00", "\ud800",
])
def test_b64decode_rejects_malformed(text: str) -> None:
    with pytest.raises(SignatureError, match="signature of x is not valid base64"):
        b64decode(text, what="signature of x")


def test_private_key_repr_does_not_leak_seed() -> None:
    seed = hashlib.sha256(b"secret").digest()
    key = PrivateKey(seed)
    for text in (repr(key), str(key), f"{key}", repr([key]), repr({"k": key})):
        assert seed.hex() not in text
        assert seed.hex().upper() not in text
        assert repr(seed) not in text
        assert base64.b64encode(seed).decode() not in text
        assert key.public_key.hex() in text


def test_signed_request_uses_request_domain() -> None:
    request = RequestToSign("unit-chain", "node-1", "get", "/v1/blocks?from=1",
                            "2026-01-05T08:00:00Z", "00" * 16, b"")
    assert request.message() == (
        b'{"body_sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",'
        b'"chain_id":"unit-chain","method":"GET","node":"node-1","nonce":"' + b"0" * 32
        + b'","path":"/v1/blocks?from=1","time":"2026-01-05T08:00:00Z"}'
    )
    headers = sign_request(request, "M", KEY)
    signature = b64decode(headers[HEADER_SIGNATURE], what="signature")
    KEY.public_key.verify(Domain.REQUEST, request.message(), signature)
    with pytest.raises(SignatureError):
        KEY.public_key.verify(Domain.TRANSACTION, request.message(), signature)
