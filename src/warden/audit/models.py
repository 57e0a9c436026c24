"""What the store holds, as values: event kinds, sessions, events, filters."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

REQUEST = "request"
"""Opens every exchange: who (``subject``, ``groups``, ``auth_method``, client,
connection) and, when the request was read, what (``method``, ``path``,
``operation``, ``policy``, the masked ``body`` or its size)."""
END = "end"
"""Closes every exchange: ``outcome``, ``status``, ``ms``; for a whole
(non-streamed) response also its ``content_type`` and masked ``body`` (or
``bytes`` when it is not JSON)."""
RAW = "raw"
"""An encrypted raw payload: ``{"of": kind, "cipher", "data_key", "sha256", "size"}``."""
ADMIN = "admin"
"""``{"action", "actor", "details"}``: config reloads, tokens, approvals, reveals, purges."""


def format_us(value: int | None) -> str:
    """An ISO 8601 UTC time (millisecond precision) for a microsecond timestamp."""
    if value is None:
        return ""
    moment = dt.datetime.fromtimestamp(value / 1_000_000, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def safe_text(value: str, size: int) -> str:
    """``value`` fit for an indexed column: printable, valid Unicode, at most ``size``.

    Ids come from headers an agent controls; an odd one must never make a
    batch fail. A long value keeps a prefix and a digest of the whole, so it
    stays unique.
    """
    if len(value) <= size and value.isprintable() and value.isascii():
        return value
    cleaned = "".join(
        c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in value
    )
    if len(cleaned) > size:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        cleaned = cleaned[: size - 33] + "~" + digest
    return cleaned


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, *, now: dt.datetime | None = None) -> int:
    """``--since``/``--until`` values: ISO 8601 (UTC when no zone is given) or an
    age such as ``90m``, ``2h``, ``7d``. Returns microseconds since the epoch."""
    match = _RELATIVE.match(text)
    if match:
        moment = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(
            seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        )
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"{text!r} is not a time: use ISO 8601 (2025-01-31T12:00) or an age (2h, 7d)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1_000_000)


@dataclass(frozen=True, slots=True)
class SessionFilter:
    user: str | None = None
    connection: str | None = None
    since: int | None = None
    until: int | None = None
    decision: str | None = None
    """A rule id, an action or a flow (``block``, ``deny``, ``hold``...)."""
    limit: int | None = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    subject: str | None
    groups: tuple[str, ...]
    auth_method: str | None
    user_agent: str | None
    client_address: str | None
    connection: str | None
    connection_type: str | None
    started_at: int
    ended_at: int | None
    outcome: str | None
    exchanges: int
    decisions: tuple[dict[str, str], ...] = ()

    @classmethod
    def from_row(cls, row: Any) -> SessionInfo:
        groups: tuple[str, ...] = ()
        if row.groups:
            try:
                groups = tuple(json.loads(row.groups))
            except ValueError:
                groups = ()
        return cls(
            id=row.id,
            subject=row.subject,
            groups=groups,
            auth_method=row.auth_method,
            user_agent=row.user_agent,
            client_address=row.client_address,
            connection=row.connection,
            connection_type=row.connection_type,
            started_at=row.started_at,
            ended_at=row.ended_at,
            outcome=row.outcome,
            exchanges=row.exchanges,
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "subject": self.subject,
            "groups": list(self.groups),
            "auth_method": self.auth_method,
            "user_agent": self.user_agent,
            "client_address": self.client_address,
            "connection": self.connection,
            "connection_type": self.connection_type,
            "started_at": format_us(self.started_at),
            "ended_at": format_us(self.ended_at) or None,
            "outcome": self.outcome,
            "exchanges": self.exchanges,
        }
        if self.decisions:
            out["decisions"] = list(self.decisions)
        return out


@dataclass(frozen=True, slots=True)
class EventInfo:
    id: int
    chain_id: str
    seq: int
    ts: int
    kind: str
    session_id: str | None
    exchange_id: str | None
    payload_text: str
    prev_hash: str
    hash: str
    _payload: list[Any] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def from_row(cls, row: Any) -> EventInfo:
        return cls(
            id=row.id,
            chain_id=row.chain_id,
            seq=row.seq,
            ts=row.ts,
            kind=row.kind,
            session_id=row.session_id,
            exchange_id=row.exchange_id,
            payload_text=row.payload,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )

    @property
    def payload(self) -> Any:
        """The payload, parsed once (``{"unparseable": text}`` if it is not JSON)."""
        if not self._payload:
            try:
                self._payload.append(json.loads(self.payload_text))
            except ValueError:
                self._payload.append({"unparseable": self.payload_text})
        return self._payload[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "chain": self.chain_id,
            "seq": self.seq,
            "ts": format_us(self.ts),
            "ts_us": self.ts,
            "kind": self.kind,
            "session": self.session_id,
            "exchange": self.exchange_id,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }
