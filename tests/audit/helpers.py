"""Builders shared by the audit tests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, text

from warden.audit import schema
from warden.audit.recorder import Recorder
from warden.audit.store import Store
from warden.pipeline.record import RecordKind
from warden.pipeline.types import Exchange, Identity


def exchange(
    exchange_id: str = "ex-1",
    session_id: str = "sess-1",
    *,
    subject: str = "alice",
    groups: frozenset[str] = frozenset({"dev"}),
    connection: str = "claude",
) -> Exchange:
    return Exchange(
        id=exchange_id,
        session_id=session_id,
        connection=connection,
        connection_type="anthropic",
        identity=Identity(subject, groups, "service-token"),
        operation="messages",
        streaming=True,
        client_address="127.0.0.1",
        user_agent="claude-cli/1.0",
    )


def sse(text_delta: str) -> dict[str, Any]:
    data = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text_delta},
    }
    return {"event": "content_block_delta", "data": json.dumps(data)}


async def conversation(
    recorder: Recorder, ex: Exchange, *, deltas: int = 3, outcome: str = "ok"
) -> None:
    """One exchange the way the pipeline records it."""
    await recorder.record(
        ex,
        RecordKind.REQUEST,
        {
            "method": "POST",
            "path": "/v1/messages",
            "body": {"messages": [{"role": "user", "content": "key [REDACTED:aws-access-key]"}]},
        },
    )
    await recorder.record(ex, RecordKind.RESPONSE_START, {"status": 200})
    for i in range(deltas):
        await recorder.record(ex, RecordKind.RESPONSE_EVENT, {"t": i / 10, **sse(f"part {i} ")})
    await recorder.record(
        ex,
        RecordKind.DECISION,
        {"flow": "rewrite", "rule": "aws-access-key", "action": "mask", "direction": "request"},
    )
    await recorder.record(ex, RecordKind.END, {"outcome": outcome, "status": 200})


def event_rows(store: Store, chain_id: str | None = None) -> list[Any]:
    ev = schema.events
    query = select(ev).order_by(ev.c.chain_id, ev.c.seq)
    if chain_id is not None:
        query = query.where(ev.c.chain_id == chain_id)
    with store.engine.connect() as conn:
        return list(conn.execute(query))


def execute(store: Store, sql: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)
