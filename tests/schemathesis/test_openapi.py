"""Schemathesis against a live `cloudphone up`: every operation of /v1/openapi.json, with data
generated from the document, signed as docs/api-signing.md says. A server error or an answer that
the document does not describe (status, content type, body schema) fails the test.

Run by ./dev test, which starts the server and sets CLOUDPHONE_URL, CLOUDPHONE_ACCESS_KEY and
CLOUDPHONE_SECRET_KEY.
"""

import hashlib
import hmac
import json
import os
import pathlib
import secrets
import time
import urllib.parse

import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# No server error, and every answer as the document describes it: status, content type, headers
# and body schema. (The checks that send requests without or with made-up credentials cannot
# apply: our session signs every request; authentication failures are tested in
# crates/server/tests/api.rs. Whether the document's schemas are as strict as the server's
# checks, a model name that must be in the catalogue, say, is not what "schema violation"
# means here.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

BASE = os.environ["CLOUDPHONE_URL"].rstrip("/")
ACCESS_KEY = os.environ["CLOUDPHONE_ACCESS_KEY"]
SECRET_KEY = os.environ["CLOUDPHONE_SECRET_KEY"]
VECTORS = pathlib.Path(__file__).parents[2] / "crates/protocol/vectors/signing.json"

UNRESERVED = "-_.~"


def encode(text: str) -> str:
    return urllib.parse.quote(text, safe=UNRESERVED)


def canonical_query(raw: str) -> str:
    pairs = []
    for part in filter(None, raw.split("&")):
        key, _, value = part.partition("=")
        pairs.append((encode(urllib.parse.unquote(key)), encode(urllib.parse.unquote(value))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def string_to_sign(method, path, query, timestamp, nonce, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([method, path, canonical_query(query), timestamp, nonce, digest])


def sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class Signed(requests.auth.AuthBase):
    """Signs the request exactly as it goes on the wire (after the body is serialised)."""

    def __call__(self, request):
        url = urllib.parse.urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        text = string_to_sign(request.method, url.path, url.query, timestamp, nonce, body)
        request.headers["X-CP-Access-Key"] = ACCESS_KEY
        request.headers["X-CP-Timestamp"] = timestamp
        request.headers["X-CP-Nonce"] = nonce
        request.headers["X-CP-Signature"] = sign(SECRET_KEY, text)
        return request


def test_our_signing_matches_the_shared_vectors():
    vectors = json.loads(VECTORS.read_text())
    for v in vectors["signatures"]:
        text = string_to_sign(v["method"], v["path"], v["raw_query"], v["timestamp"], v["nonce"], v["body"].encode())
        assert text == v["string_to_sign"]
        assert sign(v["secret_key"], text) == v["signature"]


schema = schemathesis.openapi.from_url(f"{BASE}/v1/openapi.json")
session = requests.Session()
session.auth = Signed()


@schema.parametrize()
@settings(max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25")), deadline=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case):
    case.call_and_validate(session=session, timeout=90, checks=CHECKS)
