"""The ``approvals`` section of the config (see warden.approvals)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from warden.config.refs import CredentialRef


class NotifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["log", "webhook", "slack"]
    url: CredentialRef | None = Field(
        None, description="webhook / slack: where to POST ({env: VAR} or {file: PATH})"
    )
    secret: CredentialRef | None = Field(None, description="webhook: HMAC-SHA256 signing key")

    @model_validator(mode="after")
    def _url(self) -> NotifierConfig:
        if self.type != "log" and self.url is None:
            raise ValueError(f"a {self.type} notifier needs a url")
        return self


class ApprovalsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approvers: list[str] = Field(
        default_factory=list, description="groups whose members may approve or deny"
    )
    timeout: float = Field(600.0, gt=0, description="seconds a hold waits before it is denied")
    notify: list[NotifierConfig] = Field(
        default_factory=lambda: [NotifierConfig(type="log")],
        description="who is told when something waits",
    )
