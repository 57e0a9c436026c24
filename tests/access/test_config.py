"""The identity section: durations, claim rules, trust rules, pinned algorithms."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from warden.access.claims import map_groups
from warden.access.config import ClaimRule, IdentityConfig, JitRule, TrustRule, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), (30, 30)]
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1w", "-1h", "soon", True, None])
def test_bad_durations(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("algorithm", ["none", "HS256", "HS512", "RS1"])
def test_only_asymmetric_algorithms_are_accepted(algorithm: str) -> None:
    with pytest.raises(ValidationError, match="not allowed"):
        TrustRule(name="x", issuer="https://i.example.com", audience="a", algorithms=[algorithm])
    with pytest.raises(ValidationError, match="not allowed"):
        IdentityConfig.model_validate(
            {
                "oidc": {
                    "issuer": "https://i.example.com",
                    "client_id": "c",
                    "algorithms": [algorithm],
                }
            }
        )


@pytest.mark.parametrize(
    "issuer", ["http://idp.example.com", "ftp://x", "https://", "http://10.0.0.1"]
)
def test_issuers_must_be_https_except_on_loopback(issuer: str) -> None:
    with pytest.raises(ValidationError, match="https"):
        TrustRule(name="x", issuer=issuer, audience="a")


def test_loopback_http_is_fine_and_issuers_stay_exact() -> None:
    # An issuer is compared with `iss` byte for byte (Entra v1's ends in "/").
    rule = TrustRule(name="x", issuer="http://127.0.0.1:9000/", audience="a")
    assert rule.issuer == "http://127.0.0.1:9000/"


def test_trust_rule_matching() -> None:
    rule = TrustRule(
        name="gh",
        issuer="https://token.actions.githubusercontent.com",
        audience="https://warden.example.com",
        subject="repo:acme/*:ref:refs/heads/main",
        claims={"repository_owner": "acme", "run_attempt": "*"},
    )
    good = {
        "iss": rule.issuer,
        "aud": ["https://warden.example.com", "other"],
        "sub": "repo:acme/app:ref:refs/heads/main",
        "repository_owner": "acme",
        "run_attempt": 1,
    }
    assert rule.matches(good)
    assert not rule.matches({**good, "aud": "other"})
    assert not rule.matches({**good, "repository_owner": ["acme"]})
    assert not rule.matches({**good, "run_attempt": True})
    assert not rule.matches({**good, "sub": "repo:acme/app:ref:refs/heads/main2"})


def test_claim_rules() -> None:
    rules = [
        ClaimRule(claim="roles", prefix="app:"),
        ClaimRule(claim="groups", values={"guid-1": "sre"}),
        ClaimRule(claim="email", match="*@example.com", group="staff"),
        ClaimRule(claim="realm_access.roles"),
    ]
    claims = {
        "roles": ["Approver", "bad name!"],
        "groups": ["guid-1", "guid-2"],
        "email": "a@example.com",
        "realm_access": {"roles": ["kc-admin"]},
    }
    result = map_groups(claims, rules)
    assert result.groups == {"app:Approver", "sre", "staff", "kc-admin"}
    assert not result.overage


def test_entra_overage_gives_the_fallback_groups() -> None:
    rules = [ClaimRule(claim="groups", values={"guid-1": "sre"}), ClaimRule(claim="roles")]
    via_claim_names = {"_claim_names": {"groups": "src1"}, "roles": ["Reader"]}
    result = map_groups(via_claim_names, rules, overage_groups=["unknown-groups"])
    assert result.overage and result.groups == {"Reader", "unknown-groups"}
    implicit = {"hasgroups": True}
    assert map_groups(implicit, rules, overage_groups=["u"]).groups == {"u"}


@pytest.mark.parametrize(
    "rule",
    [
        {"claim": "g", "values": {"a": "b"}, "group": "c"},
        {"claim": "g", "match": "*"},
        {"claim": "g", "prefix": "p", "values": {"a": "b"}},
        {"claim": "g", "values": {"a": "not a group!"}},
    ],
)
def test_bad_claim_rules(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ClaimRule.model_validate(rule)


def test_jit_rule() -> None:
    rule = JitRule.model_validate({"approvers": ["leads"], "approvals": 2, "max_duration": "4h"})
    assert rule.max_duration == 14400 and rule.default_duration == 3600
    with pytest.raises(ValidationError):
        JitRule.model_validate({"approvers": []})
    with pytest.raises(ValidationError, match="longer than max_duration"):
        JitRule.model_validate({"approvers": ["x"], "max_duration": "30m"})


def test_duplicate_trust_rule_names() -> None:
    rule = {"name": "x", "issuer": "https://i.example.com", "audience": "a"}
    with pytest.raises(ValidationError, match="unique"):
        IdentityConfig.model_validate({"trust": [rule, rule]})
