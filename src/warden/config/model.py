"""The configuration schema, validated with pydantic.

Secrets never live in the config file itself: an upstream credential is a
*reference* (an environment variable or a file) resolved when it is used, and
a static gateway token is kept only as its SHA-256 hash.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from warden.access.config import IdentityConfig, JitRule
from warden.config.approvals import ApprovalsConfig
from warden.config.refs import CredentialRef

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_RESERVED = frozenset({"admin", "auth", "favicon.ico", "healthz", "metrics", "readyz"})
"""Connection names whose paths the gateway serves itself (``/admin/api/…``,
``/auth/…``, ``/metrics``…). ``.well-known`` cannot be a name anyway."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntraConfig(_Strict):
    """A service principal the gateway holds, for Azure OpenAI via Entra ID."""

    tenant_id: str
    client_id: str
    client_secret: CredentialRef
    authority: str = "https://login.microsoftonline.com"
    scope: str = "https://cognitiveservices.azure.com/.default"


class ConnectionType(enum.StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    AZURE_OPENAI = "azure-openai"


class Timeouts(_Strict):
    connect: float = Field(10.0, gt=0)
    read: float = Field(600.0, gt=0, description="longest silence between upstream bytes")


class AccessConfig(_Strict):
    """Who may use a connection. Empty ``groups`` means every identity; deny wins."""

    groups: list[str] = Field(default_factory=list)
    subjects: list[str] = Field(default_factory=list)
    deny_groups: list[str] = Field(default_factory=list)
    deny_subjects: list[str] = Field(default_factory=list)
    jit: JitRule | None = Field(
        None, description="just-in-time: a time-bound grant approved by `approvers` is needed"
    )


class ConnectionConfig(_Strict):
    type: ConnectionType
    upstream: str
    credential: CredentialRef | None = None
    entra: EntraConfig | None = None
    policy: str = "default"
    api_version: str | None = Field(
        None, description="azure-openai: api-version added when the client sends none"
    )
    timeouts: Timeouts = Field(default_factory=Timeouts)
    access: AccessConfig = Field(default_factory=AccessConfig)
    retention_days: float | None = Field(
        None, gt=0, description="days to keep this connection's recordings (default: store's)"
    )

    @field_validator("api_version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # YAML reads an unquoted 2024-10-21 as a date; the API wants the text.
        return None if value is None else str(value)

    @field_validator("upstream")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials(self) -> ConnectionConfig:
        if self.entra is not None and self.type is not ConnectionType.AZURE_OPENAI:
            raise ValueError("'entra' is only for azure-openai connections")
        if self.entra is not None and self.credential is not None:
            raise ValueError("give either 'credential' (api key) or 'entra', not both")
        if self.entra is None and self.credential is None:
            raise ValueError("an upstream credential is required ('credential: {env: VAR}')")
        return self


class TokenConfig(_Strict):
    """A static service token, kept only as a SHA-256 hash.

    Either ``sha256`` (hex of the token) or ``env`` (read once at load, hashed,
    and forgotten; the entry is skipped when the variable is unset or empty).
    """

    name: str
    subject: str
    groups: list[str] = Field(default_factory=list)
    sha256: str | None = None
    env: str | None = None

    @model_validator(mode="after")
    def _source(self) -> TokenConfig:
        if (self.sha256 is None) == (self.env is None):
            raise ValueError("give exactly one of 'sha256' or 'env'")
        if self.sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            raise ValueError("sha256 must be 64 lowercase hex characters")
        return self


class RecordingMode(enum.StrEnum):
    OFF = "off"
    BEST_EFFORT = "best-effort"
    STRICT = "strict"


MaskAction = Literal["redact", "mask", "hash", "tokenize", "block", "review"]


class MaskingConfig(_Strict):
    enabled: bool = True
    request_action: MaskAction = Field(
        "tokenize", description="action for credential rules on what agents send"
    )
    response_action: MaskAction = Field(
        "redact", description="action for credential rules on output"
    )
    pii: bool = Field(False, description="also apply the PII rules")
    disable: list[str] = Field(default_factory=list, description="rule ids to turn off")
    enable: list[str] = Field(default_factory=list, description="opt-in rule ids to turn on")
    actions: dict[str, MaskAction] = Field(default_factory=dict, description="rule id -> action")
    custom: list[dict[str, Any]] = Field(default_factory=list)
    binary_uploads: Literal["pass", "refuse"] = Field(
        "pass",
        description=(
            "a file upload that is not text (PDF, image), which no rule can read: "
            "'pass' relays it, recorded as not inspected; 'refuse' answers 400"
        ),
    )
    detokenize: Literal["off", "tool-input"] = Field(
        "off",
        description=(
            "'tool-input': placeholders the model writes into the arguments of a tool call "
            "the agent runs get their values back, in what the agent receives only"
        ),
    )

    @field_validator("detokenize", mode="before")
    @classmethod
    def _detokenize_off(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted `off` as false.
        return "off" if value is False else value


class GuardrailConfig(_Strict):
    enabled: bool = True
    pack: str = Field("default", description="'default' or the path of a pack file")
    rules: list[dict[str, Any]] = Field(
        default_factory=list, description="extra rules (same id as a pack rule replaces it)"
    )
    review_timeout: float = Field(600.0, gt=0)


class PolicyConfig(_Strict):
    @field_validator("recording", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted `off` as false.
        return "off" if value is False else value

    masking: MaskingConfig = Field(default_factory=MaskingConfig)
    guardrails: GuardrailConfig = Field(default_factory=GuardrailConfig)
    recording: RecordingMode = RecordingMode.BEST_EFFORT
    raw_recording: bool = False
    groups: dict[str, str] = Field(
        default_factory=dict,
        description="group -> name of another policy that applies to members of that group",
    )


class Limits(_Strict):
    max_body_bytes: int = Field(32 * 1024 * 1024, gt=0)
    max_event_bytes: int = Field(16 * 1024 * 1024, gt=0)


KeySpec = Annotated[str, Field(pattern=r"^(file:|env:|vault-transit:https?://).+$")]
"""Where the key-encryption key for raw recording is: ``warden.audit.crypto.load_key_provider``."""


class StoreConfig(_Strict):
    url: str | None = Field(None, description="default: sqlite in state_dir")
    retention_days: float | None = Field(
        None, gt=0, description="days to keep recordings; unset keeps them forever"
    )
    retention_interval: float = Field(3600.0, gt=0, description="seconds between purges")
    raw_key: KeySpec | Annotated[list[KeySpec], Field(min_length=1)] | None = Field(
        None,
        description="key-encryption key for raw recording: file:PATH, env:VAR or "
        "vault-transit:URL; a list to rotate between sources (the first wraps new keys)",
    )


Listen = Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$")]


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listen: Listen = "127.0.0.1:8080"
    state_dir: Path = Path("var")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_grace: float = Field(30.0, ge=0)
    limits: Limits = Field(default_factory=Limits)
    store: StoreConfig = Field(default_factory=StoreConfig)
    tokens: list[TokenConfig] = Field(default_factory=list)
    connections: dict[str, ConnectionConfig]
    policies: dict[str, PolicyConfig] = Field(default_factory=dict)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    admin_groups: list[str] = Field(
        default_factory=lambda: ["admin"], description="groups allowed the whole admin API"
    )

    _source: Path | None = PrivateAttr(None)
    _token_hashes: dict[str, TokenConfig] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Path | None:
        return self._source

    @source.setter
    def source(self, value: Path | None) -> None:
        self._source = value

    @property
    def token_hashes(self) -> dict[str, TokenConfig]:
        """SHA-256 hex of each usable static token -> its entry."""
        return self._token_hashes

    @field_validator("connections")
    @classmethod
    def _names(cls, value: dict[str, ConnectionConfig]) -> dict[str, ConnectionConfig]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(
                    f"connection name {name!r} must be lowercase letters, digits, '.', '_' or '-'"
                )
            if name in _RESERVED:
                raise ValueError(
                    f"connection name {name!r} is taken by the gateway's own /{name} routes; "
                    "choose another"
                )
        if not value:
            raise ValueError("define at least one connection")
        return value

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Config:
        if "default" not in self.policies:
            self.policies["default"] = PolicyConfig()
        for name, connection in self.connections.items():
            if connection.policy not in self.policies:
                raise ValueError(f"connection {name!r} names unknown policy {connection.policy!r}")
        for name, policy in self.policies.items():
            for group, target in policy.groups.items():
                if target not in self.policies:
                    raise ValueError(
                        f"policy {name!r} maps group {group!r} to unknown policy {target!r}"
                    )
        env = (info.context or {}).get("env", os.environ)
        hashes: dict[str, TokenConfig] = {}
        for token in self.tokens:
            digest = token.sha256
            if token.env is not None:
                raw = env.get(token.env, "")
                if not raw:
                    continue
                digest = hashlib.sha256(raw.encode()).hexdigest()
            assert digest is not None
            hashes[digest] = token
        self._token_hashes = hashes
        return self

    def policy_for(self, connection: str, groups: frozenset[str] = frozenset()) -> PolicyConfig:
        """The policy for a connection, or a group override (first group by name)."""
        base = self.policies[self.connections[connection].policy]
        for group in sorted(groups):
            override = base.groups.get(group)
            if override is not None:
                return self.policies[override]
        return base

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)

    def store_url(self) -> str:
        if self.store.url:
            return self.store.url
        return f"sqlite:///{self.state_dir / 'warden.db'}"
