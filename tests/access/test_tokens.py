"""Gateway tokens: issue, verify, and every forgery we know of is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.access.support import Clock
from warden.access.keys import KeyRing, PublishedKeys, SigningKey, public_jwk
from warden.access.store import AccessStore
from warden.access.tokens import (
    InvalidToken,
    Revocations,
    TokenIssuer,
    TokenVerifier,
    fingerprint,
)

ISSUER = "https://warden.example.com"


class Parts:
    def __init__(self, store: AccessStore, state: Path) -> None:
        self.ring = KeyRing(store, state, rotation=86400, max_ttl=3600, leeway=30, owner="t")
        self.published = PublishedKeys(store)
        self.revocations = Revocations(store)
        self.issuer = TokenIssuer(self.ring, ISSUER, store)
        self.verifier = TokenVerifier(self.published, self.revocations, issuer=ISSUER, leeway=30)
        self.key: SigningKey = self.ring.current()
        self.published.reload()

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": ISSUER,
            "aud": "warden",
            "sub": "alice",
            "groups": ["dev"],
            "amr": ["oidc"],
            "jti": "j1",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        base.update(overrides)
        return {k: v for k, v in base.items() if v is not None}

    def sign(self, payload: dict[str, Any], **header: Any) -> str:
        headers = {"kid": self.key.kid, "typ": "at+jwt", **header}
        return jwt.encode(payload, self.key.private, algorithm="EdDSA", headers=headers)


@pytest.fixture
def parts(store: AccessStore, tmp_path: Path) -> Parts:
    return Parts(store, tmp_path)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return (
        f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{b64(signature)}"
    )


def test_round_trip(parts: Parts) -> None:
    token, issued = parts.issuer.issue("alice", ["dev", "ops"], ["oidc"], 3600, display_name="A")
    claims = parts.verifier.verify(token)
    assert claims == issued
    assert claims.groups == frozenset({"dev", "ops"})
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": parts.key.kid, "typ": "at+jwt"}
    body = jwt.decode(token, options={"verify_signature": False})
    assert body["aud"] == "warden" and body["iss"] == ISSUER
    assert body["exp"] - body["iat"] == 3600
    assert set(body) == {"iss", "aud", "sub", "groups", "amr", "jti", "iat", "nbf", "exp", "name"}
    assert fingerprint(token) != token[:12] and len(fingerprint(token)) == 12


def test_lifetime_never_outlives_the_key(parts: Parts) -> None:
    _token, claims = parts.issuer.issue("alice", [], ["oidc"], 10**9)
    assert claims.expires_at == parts.key.expires_at


def test_alg_none_is_refused(parts: Parts) -> None:
    token = raw_token({"alg": "none", "typ": "at+jwt", "kid": parts.key.kid}, parts.claims())
    with pytest.raises(InvalidToken, match="algorithm 'none'"):
        parts.verifier.verify(token)


@pytest.mark.parametrize("secret_form", ["raw", "pem", "jwk"])
def test_hmac_with_the_public_key_as_secret_is_refused(parts: Parts, secret_form: str) -> None:
    public = parts.key.private.public_key()
    secret = {
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk": json.dumps(public_jwk(public)).encode(),
    }[secret_form]
    header = {"alg": "HS256", "typ": "at+jwt", "kid": parts.key.kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(parts.claims()).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken, match="algorithm 'HS256'"):
        parts.verifier.verify(f"{signing_input}.{b64(signature)}")


def test_rsa_and_ec_signatures_are_refused(parts: Parts) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    headers = {"kid": parts.key.kid, "typ": "at+jwt"}
    for key, alg in ((rsa_key, "RS256"), (ec_key, "ES256")):
        token = jwt.encode(parts.claims(), key, algorithm=alg, headers=headers)
        with pytest.raises(InvalidToken, match=f"algorithm '{alg}'"):
            parts.verifier.verify(token)


def test_a_foreign_ed25519_key_with_our_kid_is_refused(parts: Parts) -> None:
    attacker = Ed25519PrivateKey.generate()
    token = jwt.encode(
        parts.claims(),
        attacker,
        algorithm="EdDSA",
        headers={"kid": parts.key.kid, "typ": "at+jwt", "jwk": public_jwk(attacker.public_key())},
    )
    with pytest.raises(InvalidToken, match="InvalidSignatureError"):
        parts.verifier.verify(token)


def test_unknown_kid_is_refused(parts: Parts) -> None:
    with pytest.raises(InvalidToken, match="unknown signing key"):
        parts.verifier.verify(parts.sign(parts.claims(), kid="nope"))
    assert parts.verifier.unknown_kid(parts.sign(parts.claims(), kid="nope")) == "nope"


def test_a_tampered_payload_is_refused(parts: Parts) -> None:
    token = parts.sign(parts.claims())
    header, _payload, signature = token.split(".")
    forged = b64(json.dumps(parts.claims(groups=["admins"])).encode())
    with pytest.raises(InvalidToken, match="InvalidSignatureError"):
        parts.verifier.verify(f"{header}.{forged}.{signature}")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://evil.example.com"}, "InvalidIssuerError"),
        ({"aud": "someone-else"}, "InvalidAudienceError"),
        ({"aud": ["warden", "someone-else"]}, "InvalidAudienceError"),
        ({"exp": int(time.time()) - 31 - 60}, "ExpiredSignatureError"),
        ({"nbf": int(time.time()) + 600}, "ImmatureSignatureError"),
        ({"iat": int(time.time()) + 600}, "ImmatureSignatureError"),
        ({"exp": None}, "MissingRequiredClaimError"),
        ({"iss": None}, "MissingRequiredClaimError"),
        ({"jti": None}, "MissingRequiredClaimError"),
        ({"groups": "admins"}, "bad groups"),
        ({"sub": ""}, "bad sub"),
    ],
)
def test_claims_are_checked(parts: Parts, overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        parts.verifier.verify(parts.sign(parts.claims(**overrides)))


def test_small_clock_skew_is_tolerated(parts: Parts) -> None:
    now = int(time.time())
    claims = parts.verifier.verify(parts.sign(parts.claims(exp=now - 5, nbf=now + 5, iat=now + 5)))
    assert claims.subject == "alice"


@pytest.mark.parametrize(
    ("header", "reason"),
    [({"typ": "JWT"}, "typ"), ({"crit": ["exp"]}, "critical")],
)
def test_header_is_checked(parts: Parts, header: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        parts.verifier.verify(parts.sign(parts.claims(), **header))


@pytest.mark.parametrize("junk", ["", "abc", "a.b", "a..c", "!!.!!.!!", "x" * 20000 + ".a.b"])
def test_junk_is_refused(parts: Parts, junk: str) -> None:
    with pytest.raises(InvalidToken):
        parts.verifier.verify(junk)


def test_revoked_token_is_refused_here_and_on_other_replicas(
    parts: Parts, store: AccessStore
) -> None:
    token, claims = parts.issuer.issue("alice", [], ["oidc"], 600)
    other = Revocations(store)
    other_verifier = TokenVerifier(parts.published, other, issuer=ISSUER, leeway=30)
    parts.revocations.revoke_token(
        claims.jti, subject="alice", expires_at=claims.expires_at, actor="admin", reason="lost"
    )
    with pytest.raises(InvalidToken, match="revoked"):
        parts.verifier.verify(token)
    assert other_verifier.verify(token).jti == claims.jti  # until its next sync
    other.reload()
    with pytest.raises(InvalidToken, match="revoked"):
        other_verifier.verify(token)


def test_revoking_a_subject_ends_its_earlier_tokens_only(
    parts: Parts, store: AccessStore, clock: Clock
) -> None:
    old, _ = parts.issuer.issue("alice", [], ["oidc"], 600)
    bob, _ = parts.issuer.issue("bob", [], ["oidc"], 600)
    parts.revocations.revoke_subject("alice", actor="admin", reason="left")
    with pytest.raises(InvalidToken, match="revoked"):
        parts.verifier.verify(old)
    assert parts.verifier.verify(bob).subject == "bob"
    clock.advance(2)
    fresh, _ = parts.issuer.issue("alice", [], ["oidc"], 600)
    assert parts.verifier.verify(fresh).subject == "alice"
