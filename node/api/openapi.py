"""The node's OpenAPI document, made true of what the node does.

FastAPI's generated document lists only its own 422 for every route, while
the node answers 400 for a bad request (it maps validation errors to 400),
401 to unsigned requests, 403, 404, 409, 413 and 431 where they apply, 422
only for a broken business rule at submission, and 503 when it cannot take
a submission or read its database.  It also says nothing of how requests
are signed, and calls the NDJSON export streams JSON.  `install_openapi`
replaces the generator: the routes' own schemas stay, and this module adds
what the routes cannot say themselves, in one place.  The test suite runs
schemathesis against this document (tests/node/test_openapi_conformance.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ledger.crypto import Domain, PrivateKey
from ledger.membership import make_uscc
from ledger.request_auth import RequestToSign, sign_request

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "a short machine code, e.g. bad_schema"},
        "detail": {"type": "string", "description": "what is wrong, in words"},
        "index": {"type": "integer", "description": "submission: the refused transaction"},
        "tx_id": {"type": ["string", "null"], "description": "submission: its id"},
    },
}

WHY = {
    "400": "The request is malformed: a parameter, query or body names the problem.",
    "401": "The request is not signed by an active member (or, for /v1/sync, a registered "
           "node), or the signature, time or nonce is wrong.",
    "403": "The caller is a member but may not do this.",
    "404": "No such record, or the caller may not see it (the two are indistinguishable).",
    "409": "A transaction or a signer's nonce was used before (replay).",
    "410": "The transaction is below the snapshot this node started from: only its log entry "
           "is here (inclusion proofs still work); ask a node with the whole chain.",
    "413": "The request body is larger than the node accepts.",
    "422": "A transaction breaks a business rule; `detail` states the rule.",
    "431": "The request's header fields are larger or more numerous than the node accepts.",
    "503": "The node cannot serve this now (it cannot order, its backlog is full, or its "
           "database cannot be read or written); retry later (see Retry-After).",
}
EVERY_REQUEST = ("400", "413", "431")  # transport limits and malformed requests, on any route
SIGNED = ("401",)
EXTRA: dict[tuple[str, str], tuple[str, ...]] = {
    ("post", "/v1/transactions"): ("409", "422", "503"),
    ("get", "/v1/transactions/{tx_id}"): ("404", "410"),
    ("get", "/v1/blocks/{height}"): ("404", "410"),
    ("get", "/v1/blocks/{height}/certificate"): ("404",),
    ("get", "/v1/notes/{note_id}"): ("404",),
    ("get", "/v1/notes"): ("403",),
    ("get", "/v1/notes/{note_id}/lineage"): ("404",),
    ("get", "/v1/receivables/{root_id}"): ("404",),
    ("get", "/v1/records/{kind}/{record_id}"): ("404",),
    ("get", "/v1/log/checkpoint"): ("404",),
    ("get", "/v1/state/digest"): ("404",),
    ("get", "/v1/log/inclusion/{tx_id}"): ("404",),
    ("get", "/v1/log/leaf/{index}"): ("404",),
    ("get", "/v1/export"): ("403", "410", "503"),
    ("get", "/v1/export/meta"): ("403", "410", "503"),
    ("get", "/v1/export/blocks"): ("403", "410", "503"),
    ("get", "/v1/export/rows/{table}"): ("403", "404", "410", "503"),
    ("post", "/v1/admin/clock"): ("403",),
}
UNSIGNED = {("get", "/v1/health")}
NODE_SIGNED = {("get", "/v1/sync/blocks")}
NDJSON = {("get", p) for p in ("/v1/export", "/v1/export/meta", "/v1/export/blocks",
                                "/v1/export/rows/{table}")}

SUCCESS: dict[tuple[str, str], tuple[str, ...]] = {  # the keys every 200 answer has
    ("get", "/v1/health"): ("ok", "chain_id", "node_id", "clock", "time"),
    ("get", "/v1/status"): ("chain_id", "node_id", "height", "head_hash", "log_size",
                            "final_height", "time", "pending"),
    ("get", "/v1/nodes"): ("nodes", "quorum"),
    ("get", "/v1/events"): ("events",),
    ("get", "/v1/members"): ("members",),
    ("get", "/v1/transactions/{tx_id}"): ("tx_id", "status"),
    ("get", "/v1/blocks"): ("blocks",),
    ("get", "/v1/blocks/{height}"): ("hash", "header"),
    ("get", "/v1/blocks/{height}/certificate"): ("height", "header_hash", "quorum", "final",
                                                 "attestations", "nodes"),
    ("get", "/v1/notes/{note_id}"): ("id", "root_id", "parent_id", "holder", "amount",
                                     "currency", "status"),
    ("get", "/v1/notes"): ("notes",),
    ("get", "/v1/notes/{note_id}/lineage"): ("lineage",),
    ("get", "/v1/receivables/{root_id}"): ("receivable", "notes"),
    ("get", "/v1/records/{kind}/{record_id}"): ("id",),
    ("get", "/v1/inbox"): ("as_of", "within_days", "items", "truncated"),
    ("get", "/v1/receivables"): ("receivables",),
    ("get", "/v1/records/{kind}"): ("records",),
    ("get", "/v1/ids/{prefix}"): ("matches",),
    ("get", "/v1/log/checkpoint"): ("chain_id", "size", "root", "height", "block_hash",
                                    "cosigners", "checkpoint", "genesis"),
    ("get", "/v1/log/inclusion/{tx_id}"): ("tx_id", "leaf_index", "tree_size", "leaf_hash",
                                           "proof", "root"),
    ("get", "/v1/log/consistency"): ("first", "second", "first_root", "second_root", "proof"),
    ("get", "/v1/log/leaf/{index}"): ("tx_id", "leaf_index", "leaf_hash"),
    ("get", "/v1/state/digest"): ("height", "block_hash", "algorithm", "digest", "cosigners",
                                    "state_note"),
    ("get", "/v1/sync/blocks"): ("blocks", "final_height"),
    ("post", "/v1/admin/clock"): ("time",),
}

POLICY_VALUE: dict[str, Any] = {
    "type": ["integer", "boolean", "array"], "items": {"type": "string"},
    "description": "an integer (fen, days, a count, basis points or percent), a switch, or a "
                   "list of USCCs; never a float"}
HEIGHT: dict[str, Any] = {"type": "integer", "minimum": 0}
POLICIES_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["height", "policies", "scheduled"],
    "properties": {
        "height": {**HEIGHT, "description": "the block the answer is as of (the node's head)"},
        "policies": {"type": "object", "description": "each policy's version in force at height",
                     "additionalProperties": {
                         "type": "object", "required": ["value", "from_height"],
                         "properties": {"value": POLICY_VALUE, "from_height": HEIGHT}}},
        "scheduled": {"type": "array", "description": "versions from a later height, in order",
                      "items": {"type": "object", "required": ["name", "value", "from_height"],
                                "properties": {"name": {"type": "string"}, "value": POLICY_VALUE,
                                               "from_height": HEIGHT}}},
    },
}
FULL_ANSWERS: dict[tuple[str, str], dict[str, Any]] = {  # routes whose 200 is described whole
    ("get", "/v1/policies"): POLICIES_SCHEMA,
}

SIGNATURE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["signer", "sig"],
    "properties": {"signer": {"type": "string", "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$"},
                   "sig": {"type": "string", "description": "Ed25519 signature, base64"}},
}
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["body", "signatures"],
    "description": "A signed transaction: `body` is the canonical JSON text (RFC 8785) of "
                   "{chain_id, contract, action, args, signers, nonce, not_before, not_after}; "
                   "each listed signer signs the domain tag "
                   f"`{Domain.TRANSACTION.value.decode().strip()}`, a line feed and the body's "
                   "UTF-8 bytes with Ed25519.",
    "properties": {"body": {"type": "string", "minLength": 2},
                   "signatures": {"type": "array", "minItems": 1, "items": SIGNATURE_SCHEMA}},
}
SUBMISSION_SCHEMA: dict[str, Any] = {"oneOf": [
    {"$ref": "#/components/schemas/Envelope"},
    {"type": "object", "additionalProperties": False, "required": ["transactions"],
     "properties": {"transactions": {"type": "array", "minItems": 1,
                                     "items": {"$ref": "#/components/schemas/Envelope"}}}},
]}

def signing_guide() -> str:
    """Return the API description's guide to signed requests, with a worked example.

    The example is computed here, by the same code the SDK signs with, so it
    stays true.
    """
    key = PrivateKey(bytes(range(32)))
    example = RequestToSign(chain_id="receivables-local", node="node-1", method="GET",
                            path="/v1/status", time="2026-01-05T09:00:00Z",
                            nonce="00112233445566778899aabbccddeeff", body=b"")
    headers = sign_request(example, make_uscc("91310000MA1FL8TQ2"), key)
    tag = Domain.REQUEST.value.decode().strip()
    shown_headers = "\n".join(f"    {name}: {value}" for name, value in headers.items())
    return f"""## Signing requests

Every request but `GET /v1/health` (and these pages) is signed by a consortium member's
Ed25519 key; the SDK's `NodeClient` (client/sdk/http.py) does it for you.  By hand:

1. Ask `GET /v1/health` (unsigned) for the node's `chain_id` and `node_id`.
2. Build the canonical JSON (RFC 8785: keys sorted, no spaces, UTF-8) of seven fields:
   `body_sha256` (hex SHA-256 of the request body bytes; of the empty body for a GET),
   `chain_id`, `method` (upper case), `node` (the id of the node addressed), `nonce` (16-64
   lower-case hex digits, never used before), `path` (the request target exactly as sent:
   path and query, percent-encoded as on the wire) and `time` (UTC, `YYYY-MM-DDTHH:MM:SSZ`).
3. Sign the bytes `{tag}`, a line feed, then that JSON, with the member's
   key.
4. Send `X-Ledger-Member` (the member's USCC), `X-Ledger-Time`, `X-Ledger-Nonce` and
   `X-Ledger-Signature` (the signature in standard base64, with padding).

The node checks the signature against the key the ledger holds for the member, that the
member is active, that the time is within the node's allowed skew (5 minutes by default) and
that the nonce is new.  A request signed for another node of the consortium does not verify
here.  Registered nodes sign `/v1/sync/blocks` the same way with their node key, naming
themselves in `X-Ledger-Node` instead of `X-Ledger-Member`.  Transactions
(`POST /v1/transactions`) carry their own signatures as well: see the `Envelope` schema.

**Worked example.**  The key whose 32-byte seed is the bytes 0, 1, ..., 31 (hex
`{key.seed.hex()}`, public key
`{key.public_key.raw.hex()}`) signs `GET /v1/status` for node `node-1` of chain
`receivables-local`.  The canonical JSON is

    {example.message().decode()}

and the headers sent are

{shown_headers}

**Request ids.**  Every answer carries `X-Request-Id`: the one the request sent (1 to 64
letters, digits, `.`, `_`, `:` or `-`), or one the node made.  The node's log names it on
every line written while handling the request, so quote it when reporting a problem."""


SECURITY_SCHEMES: dict[str, Any] = {
    "member": {"type": "apiKey", "in": "header", "name": "X-Ledger-Member",
               "description": "the signing member's USCC"},
    "node": {"type": "apiKey", "in": "header", "name": "X-Ledger-Node",
             "description": "the signing node's id (/v1/sync only)"},
    "time": {"type": "apiKey", "in": "header", "name": "X-Ledger-Time",
             "description": "when the request was signed (UTC)"},
    "nonce": {"type": "apiKey", "in": "header", "name": "X-Ledger-Nonce",
              "description": "16 to 64 lower-case hex digits, never used before"},
    "signature": {"type": "apiKey", "in": "header", "name": "X-Ledger-Signature",
                  "description": "Ed25519 signature, base64; see the API description"},
}
MEMBER_SIGNED: list[dict[str, list[str]]] = [
    {"member": [], "time": [], "nonce": [], "signature": []}]
SYNC_SIGNED: list[dict[str, list[str]]] = [
    {"node": [], "time": [], "nonce": [], "signature": []}]


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the document described above (built once, then kept)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=f"{app.description}\n\n{signing_guide()}",
                                 routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            schema["components"].setdefault("schemas", {}).update(
                Error=ERROR_SCHEMA, Envelope=ENVELOPE_SCHEMA)
            for path, operations in schema["paths"].items():
                for method, operation in operations.items():
                    _describe(operation, method, path)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe(operation: dict[str, Any], method: str, path: str) -> None:
    """Give one operation its true error answers, its security and its content types."""
    key = (method, path)
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's validation error: the node answers 400 instead
    statuses = [*EVERY_REQUEST, *EXTRA.get(key, ())]
    if key not in UNSIGNED:
        statuses += SIGNED
    for status in sorted(set(statuses)):
        responses[status] = _error(status)
    if key in UNSIGNED:
        operation["security"] = []
    else:
        operation["security"] = SYNC_SIGNED if key in NODE_SIGNED else MEMBER_SIGNED
    if key in NDJSON:
        responses["200"] = {"description": "newline-delimited JSON: one object per line",
                            "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}
    if key in SUCCESS:
        responses["200"] = _answer("the answer", SUCCESS[key])
    if key in FULL_ANSWERS:
        responses["200"] = {"description": "the answer", "content": {
            "application/json": {"schema": FULL_ANSWERS[key]}}}
    if key == ("post", "/v1/transactions"):
        _describe_submission(operation)


def _answer(description: str, required: tuple[str, ...]) -> dict[str, Any]:
    schema = {"type": "object", "required": list(required)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _describe_submission(operation: dict[str, Any]) -> None:
    """Give POST /v1/transactions its envelope body and its two success answers."""
    operation["requestBody"] = {"required": True, "content": {
        "application/json": {"schema": SUBMISSION_SCHEMA}}}
    responses = operation["responses"]
    responses["202"] = _answer("accepted and recorded: they will be ordered", ("accepted",))
    responses["200"] = _answer("with wait=true: accepted, and each one's status (`pending` if "
                               "not committed in time)", ("accepted", "results"))


def _error(status: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": WHY[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status == "503":
        answer["headers"] = {"Retry-After": {"description": "seconds to wait",
                                             "schema": {"type": "string"}}}
    return answer
