"""References to secrets: where a value comes from, never the value itself.

A top-level module with no imports from the rest of Warden, so every
config section (the gateway's, identity's) can use the same one."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator


class CredentialRef(BaseModel):
    """Where an upstream secret comes from. Exactly one of ``env`` / ``file``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CredentialRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of 'env' or 'file'")
        return self

    def resolve(self) -> str:
        """Read the secret now (so a rotated file or env is picked up)."""
        if self.env is not None:
            value = os.environ.get(self.env, "")
            if not value:
                raise LookupError(f"environment variable {self.env} is empty or unset")
            return value
        assert self.file is not None
        return self.file.read_text(encoding="utf-8").strip()

    def describe(self) -> str:
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"
