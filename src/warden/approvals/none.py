"""Review holds when no approvals service is configured: fail closed.

A rule asked for a human, and there is nobody to ask, so the held output is
not released; the agent reads why.
"""

from __future__ import annotations

from warden.pipeline.types import Exchange
from warden.protocols.base import Hold


class NoApprovals:
    async def review(self, exchange: Exchange, hold: Hold) -> tuple[bool, str]:
        return (
            False,
            "this output needs a reviewer's approval, and no approvals service is configured",
        )
