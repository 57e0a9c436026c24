"""The recording tap: how the pipeline hands what happened to the recorder.

The pipeline calls a :class:`Recorder` for every step of an exchange with a
JSON-ready payload that holds *masked* content only (what the agent and the
provider actually received after inspection). The audit package implements
it; the pipeline never knows about storage.

``record`` must not block traffic in ``best-effort`` mode (it enqueues and
counts drops). In ``strict`` mode ``settle`` waits until the exchange's events
are stored and raises :class:`RecordingFailed` when they cannot be, so the
exchange fails instead of going unrecorded. ``strict_for`` says which mode an
exchange is in: the relay records a strict exchange's output before sending
it, and a best-effort one's after (the agent does not wait for the record).
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

from warden.pipeline.types import Exchange


class RecordKind(enum.StrEnum):
    REQUEST = "request"
    """The first event of an exchange: method, path, operation, policy, and the
    body (masked) or its size; the recorder adds who sent it."""
    RESPONSE_START = "response.start"
    """A stream's status and content type."""
    RESPONSE_EVENT = "response.event"
    """one SSE event or body chunk as sent to the agent (masked), with ``t``."""
    RESPONSE_BODY = "response.body"
    """A whole response, as the step a sealed raw copy belongs to; the masked
    body travels in ``END``."""
    DECISION = "decision"
    """:meth:`Decision.as_record` plus direction."""
    HOLD = "hold"
    APPROVAL = "approval"
    ERROR = "error"
    END = "end"
    """The last event of an exchange: outcome (ok, blocked, denied, error,
    cancelled…), status, ms; for a whole response also its content type and
    its body (masked), or its size when it is not JSON."""


class RecordingFailed(Exception):
    """Strict mode: the exchange's events could not be stored."""


class Recorder(Protocol):
    async def record(
        self, exchange: Exchange, kind: RecordKind, payload: dict[str, Any]
    ) -> None: ...

    async def settle(self, exchange: Exchange) -> None: ...

    def strict_for(self, exchange: Exchange) -> bool: ...


class NullRecorder:
    """Recording turned off for a connection: nothing is kept."""

    async def record(self, exchange: Exchange, kind: RecordKind, payload: dict[str, Any]) -> None:
        return None

    async def settle(self, exchange: Exchange) -> None:
        return None

    def strict_for(self, exchange: Exchange) -> bool:
        return False
