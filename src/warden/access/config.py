"""The ``identity:`` section of the config, and the ``jit`` rule of a connection.

This module stands alone (it imports nothing from :mod:`warden.config`), so
the main config model can import it without a cycle. Durations are written
``90s``, ``15m``, ``1h``, ``7d`` or a number of seconds.

Example::

    identity:
      issuer: https://warden.example.com
      token_ttl: 1h
      oidc:
        issuer: https://login.microsoftonline.com/<tenant>/v2.0
        client_id: 6731de76-...
        client_secret: {env: WARDEN_OIDC_SECRET}
      groups:
        - claim: roles                # each app role becomes a group
        - claim: groups               # Entra group object ids -> Warden groups
          values: {8f7c5a2e-...: sre}
      overage_groups: [needs-review]
      trust:
        - name: github
          issuer: https://token.actions.githubusercontent.com
          audience: https://warden.example.com
          subject: "repo:acme/*:ref:refs/heads/main"
          groups: [ci]
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from warden.refs import CredentialRef as SecretRef

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$")
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


def parse_duration(value: Any) -> float:
    """``"1h"`` -> 3600.0; a bare number is seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 90s, 15m, 1h, 7d")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError("a duration is a number of seconds or text like 90s, 15m, 1h, 7d")


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


def is_loopback_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")


def check_remote_url(url: str) -> str:
    """IdP URLs must be https; plain http only on the loopback interface (tests, dev)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if is_loopback_http(url):
        return url.rstrip("/")
    raise ValueError("must be an https:// URL (http:// only for localhost)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClaimRule(_Strict):
    """How one IdP claim (or SAML attribute) becomes Warden groups.

    Three forms, chosen by the fields given:

    * ``{claim: roles}``: every value becomes a group (with ``prefix``);
    * ``{claim: groups, values: {<id>: sre}}``: only listed values count,
      each mapped to the group named;
    * ``{claim: email, match: "*@example.com", group: staff}``: any value
      matching the glob gives ``group``.

    ``claim`` may be a dotted path into nested claims
    (``realm_access.roles`` for Keycloak).
    """

    claim: str = Field(min_length=1)
    prefix: str = ""
    values: dict[str, str] | None = None
    match: str | None = None
    group: str | None = None

    @model_validator(mode="after")
    def _form(self) -> ClaimRule:
        if self.values is not None and (self.match is not None or self.group is not None):
            raise ValueError("give either 'values' or 'match' with 'group', not both")
        if (self.match is None) != (self.group is None):
            raise ValueError("'match' and 'group' go together")
        if self.prefix and (self.values is not None or self.match is not None):
            raise ValueError("'prefix' applies only when every value becomes a group")
        targets = list((self.values or {}).values()) + ([self.group] if self.group else [])
        for target in targets:
            if not _GROUP.match(target):
                raise ValueError(f"{target!r} is not a valid group name")
        return self

    def groups_for(self, value: str) -> list[str]:
        if self.values is not None:
            mapped = self.values.get(value)
            return [mapped] if mapped else []
        if self.match is not None:
            assert self.group is not None
            return [self.group] if fnmatch.fnmatchcase(value, self.match) else []
        name = self.prefix + value
        return [name] if _GROUP.match(name) else []


class OidcConfig(_Strict):
    """A company IdP for people, by OpenID Connect discovery (code + PKCE)."""

    issuer: str
    client_id: str = Field(min_length=1)
    client_secret: SecretRef | None = Field(
        None, description="for confidential clients (Entra web apps); omit for public clients"
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    subject_claim: str = Field(
        "sub", description="claim used as the Warden subject (e.g. email, preferred_username)"
    )
    name_claim: str = "name"
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    extra_params: dict[str, str] = Field(
        default_factory=dict, description="added to the authorization request (e.g. prompt)"
    )

    @model_validator(mode="after")
    def _check(self) -> OidcConfig:
        check_remote_url(self.issuer)
        if "openid" not in self.scopes:
            raise ValueError("scopes must include 'openid'")
        _check_algorithms(self.algorithms)
        return self


class SamlConfig(_Strict):
    """A SAML 2.0 IdP for web sign-in. Signed assertions are always required."""

    idp_entity_id: str
    idp_sso_url: str
    idp_certificate: str | None = Field(None, description="PEM or base64 of the IdP signing cert")
    idp_certificate_file: Path | None = None
    sp_entity_id: str | None = Field(None, description="default: <issuer>/auth/saml/metadata")
    subject_attribute: str | None = Field(
        None, description="attribute used as the subject; default the NameID"
    )
    name_attribute: str | None = "displayName"

    @model_validator(mode="after")
    def _cert(self) -> SamlConfig:
        if (self.idp_certificate is None) == (self.idp_certificate_file is None):
            raise ValueError("give exactly one of 'idp_certificate' or 'idp_certificate_file'")
        check_remote_url(self.idp_sso_url)
        return self

    def certificate(self) -> str:
        if self.idp_certificate is not None:
            return self.idp_certificate
        assert self.idp_certificate_file is not None
        return self.idp_certificate_file.read_text(encoding="utf-8")


class TrustRule(_Strict):
    """Which external OIDC tokens (CI jobs, workloads) may be exchanged, for what.

    A token is accepted by the first rule whose ``issuer`` equals its ``iss``,
    whose ``audience`` is in its ``aud``, whose ``subject`` glob matches its
    ``sub`` and whose ``claims`` globs all match.
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    issuer: str
    audience: str = Field(min_length=1)
    subject: str = Field("*", description="glob on the token's sub claim")
    claims: dict[str, str] = Field(
        default_factory=dict, description="claim -> glob, all must match"
    )
    groups: list[str] = Field(default_factory=list)
    claim_groups: list[ClaimRule] = Field(default_factory=list)
    subject_claim: str = "sub"
    jwks_uri: str | None = Field(None, description="default: from the issuer's discovery")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    ttl: Duration | None = Field(None, description="gateway token lifetime; default token_ttl")
    single_use: bool = Field(True, description="refuse a token (by jti) that was exchanged before")

    @model_validator(mode="after")
    def _check(self) -> TrustRule:
        check_remote_url(self.issuer)
        if self.jwks_uri is not None:
            check_remote_url(self.jwks_uri)
        _check_algorithms(self.algorithms)
        for group in self.groups:
            if not _GROUP.match(group):
                raise ValueError(f"{group!r} is not a valid group name")
        return self

    def matches(self, claims: dict[str, Any]) -> bool:
        if claims.get("iss") != self.issuer:
            return False
        audience = claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(audiences, list) or self.audience not in audiences:
            return False
        subject = claims.get("sub")
        if not isinstance(subject, str) or not fnmatch.fnmatchcase(subject, self.subject):
            return False
        for claim, pattern in self.claims.items():
            value = claims.get(claim)
            if isinstance(value, bool) or not isinstance(value, str | int):
                return False
            if not fnmatch.fnmatchcase(str(value), pattern):
                return False
        return True


class JitRule(_Strict):
    """A connection that needs a time-bound grant (``access.jit`` on a connection).

    Who may *ask* is the connection's access list; ``approvers`` (groups)
    decide; nobody approves their own request.
    """

    approvers: list[str] = Field(min_length=1)
    approvals: int = Field(1, ge=1, le=5, description="distinct approvers needed")
    max_duration: Duration = 8 * 3600.0
    default_duration: Duration = 3600.0
    pending_ttl: Duration = Field(24 * 3600.0, description="an unanswered request lapses")

    @model_validator(mode="after")
    def _check(self) -> JitRule:
        if self.default_duration > self.max_duration:
            raise ValueError("default_duration is longer than max_duration")
        return self


class LocalAccountsConfig(_Strict):
    enabled: bool = True
    bootstrap: bool = Field(
        True, description="on first start, create an admin account and print its password once"
    )
    bootstrap_user: str = "admin"


class IdentityConfig(_Strict):
    """Who people and machines are, and how they prove it."""

    issuer: str | None = Field(
        None, description="this gateway's public URL (the iss of its tokens); default from listen"
    )
    token_ttl: Duration = 3600.0
    session_ttl: Duration = Field(
        12 * 3600.0, description="how long `warden login` lasts before signing in again"
    )
    key_rotation: Duration = Field(7 * 86400.0, description="a new signing key this often")
    leeway: float = Field(30.0, ge=0, le=300, description="clock skew allowed, seconds")
    sync_interval: Duration = Field(
        5.0, description="how often revocations and grants are re-read from the store"
    )
    oidc: OidcConfig | None = None
    saml: SamlConfig | None = None
    groups: list[ClaimRule] = Field(default_factory=list)
    overage_groups: list[str] = Field(
        default_factory=list,
        description="groups given when the IdP says the groups claim overflowed (Entra)",
    )
    trust: list[TrustRule] = Field(default_factory=list)
    local_accounts: LocalAccountsConfig = Field(default_factory=LocalAccountsConfig)

    @model_validator(mode="after")
    def _check(self) -> IdentityConfig:
        if self.issuer is not None:
            parts = urlsplit(self.issuer)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("issuer must be the gateway's http(s) URL")
        names = [rule.name for rule in self.trust]
        duplicate = sorted({n for n in names if names.count(n) > 1})
        if duplicate:
            raise ValueError(f"trust rule names must be unique: {', '.join(duplicate)}")
        return self


def _check_algorithms(algorithms: list[str]) -> None:
    if not algorithms:
        raise ValueError("list at least one signing algorithm")
    bad = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
    if bad:
        raise ValueError(
            f"algorithms {bad} are not allowed: only asymmetric signatures "
            f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))})"
        )
