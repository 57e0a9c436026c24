"""Reading the store: sessions, their events, exports (blocking; never writes)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.sql import Select

from warden.audit import models, schema
from warden.audit.store import Store

_EXPORT_BATCH = 2000


def _session_query(f: models.SessionFilter, ids: Sequence[str] = ()) -> Select[Any]:
    se = schema.sessions
    query = select(se)
    if ids:
        query = query.where(se.c.id.in_(list(ids)))
    if f.user:
        query = query.where(se.c.subject == f.user)
    if f.connection:
        query = query.where(se.c.connection == f.connection)
    if f.since is not None:
        # Sessions active at or after ``since``.
        query = query.where(func.coalesce(se.c.ended_at, se.c.started_at) >= f.since)
    if f.until is not None:
        query = query.where(se.c.started_at <= f.until)
    if f.decision:
        sd = schema.session_decisions
        query = query.where(
            exists().where(
                sd.c.session_id == se.c.id,
                or_(sd.c.rule == f.decision, sd.c.action == f.decision, sd.c.flow == f.decision),
            )
        )
    return query


def list_sessions(store: Store, f: models.SessionFilter) -> list[models.SessionInfo]:
    """Newest first."""
    se = schema.sessions
    query = _session_query(f).order_by(se.c.started_at.desc(), se.c.id)
    if f.limit is not None:
        query = query.limit(f.limit)
    if f.offset:
        query = query.offset(f.offset)
    with store.engine.connect() as conn:
        return [models.SessionInfo.from_row(row) for row in conn.execute(query)]


def get_session(store: Store, session_id: str) -> models.SessionInfo | None:
    se = schema.sessions
    sd = schema.session_decisions
    with store.engine.connect() as conn:
        row = conn.execute(select(se).where(se.c.id == session_id)).first()
        if row is None:
            return None
        decisions = tuple(
            {"rule": d.rule, "action": d.action, "flow": d.flow}
            for d in conn.execute(
                select(sd.c.rule, sd.c.action, sd.c.flow)
                .where(sd.c.session_id == session_id)
                .order_by(sd.c.rule, sd.c.action)
            )
        )
    return replace(models.SessionInfo.from_row(row), decisions=decisions)


def session_events(store: Store, session_id: str) -> list[models.EventInfo]:
    """The session's events across every chain, in time order."""
    ev = schema.events
    query = (
        select(ev).where(ev.c.session_id == session_id).order_by(ev.c.ts, ev.c.chain_id, ev.c.seq)
    )
    with store.engine.connect() as conn:
        return [models.EventInfo.from_row(row) for row in conn.execute(query)]


def get_event(store: Store, event_id: int) -> models.EventInfo | None:
    with store.engine.connect() as conn:
        row = conn.execute(select(schema.events).where(schema.events.c.id == event_id)).first()
    return None if row is None else models.EventInfo.from_row(row)


def iter_export(
    store: Store,
    f: models.SessionFilter,
    *,
    session_ids: Sequence[str] = (),
    include_admin: bool = False,
) -> Iterator[tuple[models.EventInfo, str | None, str | None]]:
    """(event, subject, connection) for every event of the matching sessions,
    session by session in time order; then admin events in the time window."""
    ev = schema.events
    se = schema.sessions
    matching = _session_query(f, session_ids)
    ids = matching.with_only_columns(se.c.id).scalar_subquery()
    query = (
        select(ev, se.c.subject, se.c.connection)
        .select_from(ev.join(se, se.c.id == ev.c.session_id))
        .where(ev.c.session_id.in_(ids))
        .order_by(se.c.started_at, ev.c.session_id, ev.c.ts, ev.c.chain_id, ev.c.seq)
    )
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_EXPORT_BATCH).execute(query)
        for row in result:
            yield models.EventInfo.from_row(row), row.subject, row.connection
        if include_admin:
            admin = select(ev).where(ev.c.kind == models.ADMIN)
            if f.since is not None:
                admin = admin.where(ev.c.ts >= f.since)
            if f.until is not None:
                admin = admin.where(ev.c.ts <= f.until)
            admin = admin.order_by(ev.c.ts, ev.c.chain_id, ev.c.seq)
            stream = conn.execution_options(stream_results=True, yield_per=_EXPORT_BATCH)
            for row in stream.execute(admin):
                event = models.EventInfo.from_row(row)
                actor = event.payload.get("actor") if isinstance(event.payload, dict) else None
                yield event, actor, None


def admin_events(
    store: Store, *, since: int | None = None, limit: int | None = 100
) -> list[models.EventInfo]:
    """Admin events, newest first."""
    ev = schema.events
    query = select(ev).where(ev.c.kind == models.ADMIN)
    if since is not None:
        query = query.where(ev.c.ts >= since)
    query = query.order_by(ev.c.ts.desc(), ev.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        return [models.EventInfo.from_row(row) for row in conn.execute(query)]


def counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            "events": conn.execute(select(func.count()).select_from(schema.events)).scalar_one(),
            "sessions": conn.execute(
                select(func.count()).select_from(schema.sessions)
            ).scalar_one(),
            "chains": conn.execute(select(func.count()).select_from(schema.chains)).scalar_one(),
        }
