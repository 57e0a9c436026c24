"""The admin JSON API for recorded sessions and verification.

Mounted by the admin server, which authenticates callers first::

    GET {prefix}/sessions              ?user ?connection ?since ?until ?decision ?limit ?offset
    GET {prefix}/sessions/{id}         the session and its events
    GET {prefix}/sessions/{id}/export  ?format=jsonl|csv
    GET {prefix}/export                ?format=jsonl|csv ?admin=1 and the list filters
    GET {prefix}/verify                the verification report
    POST {prefix}/sessions/{id}/events/{event_id}/reveal   {"reason": "..."}

``since``/``until`` take ISO 8601 or an age (``2h``, ``7d``). Errors are
``{"error": "..."}`` with status 400 or 404. Store queries run in worker
threads; exports stream.

A reveal decrypts one ``raw`` event (its ``id`` in the session's events):
only for callers in the ``auditor`` group (admins are not auditors by
default), with a reason; the reveal is recorded in the gateway's chain
before anything is decrypted. The gateway's recorder (``app[RECORDER]``)
records it and holds the key-encryption key. Errors: 401 no identity, 403
not an auditor, 400 no reason, 404 no such event in that session, 409 no
raw payload was kept for it (raw recording was off, or it was purged or
altered), 503 the key-encryption key or the audit store is unavailable.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from warden.audit import export, models, queries
from warden.audit.recorder import Recorder
from warden.audit.reveal import (
    AUDITOR_GROUP,
    EventNotFound,
    KeyUnavailable,
    NotAnAuditor,
    NotRevealable,
    ReasonRequired,
    RevealError,
    reveal_async,
)
from warden.audit.store import Store
from warden.audit.verify import verify
from warden.pipeline.record import RecordingFailed
from warden.pipeline.types import Identity
from warden.server.keys import IDENTITY, RECORDER

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_CHUNK_LINES = 500
_CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}
MAX_REASON = 2000
_REVEAL_STATUS: tuple[tuple[type[RevealError], int], ...] = (
    (NotAnAuditor, 403),
    (ReasonRequired, 400),
    (EventNotFound, 404),
    (NotRevealable, 409),
    (KeyUnavailable, 503),
    (RevealError, 409),
)


class BadRequest(Exception):
    pass


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _int(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not 0 <= value <= maximum:
        raise BadRequest(f"{name} must be between 0 and {maximum}")
    return value


def _filter(request: web.Request, *, paged: bool) -> models.SessionFilter:
    query = request.query
    try:
        since = models.parse_time(query["since"]) if query.get("since") else None
        until = models.parse_time(query["until"]) if query.get("until") else None
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return models.SessionFilter(
        user=query.get("user") or None,
        connection=query.get("connection") or None,
        since=since,
        until=until,
        decision=query.get("decision") or None,
        limit=_int(request, "limit", DEFAULT_LIMIT, MAX_LIMIT) if paged else None,
        offset=_int(request, "offset", 0, 10**9) if paged else 0,
    )


def _format(request: web.Request) -> str:
    fmt = request.query.get("format", "jsonl")
    if fmt not in export.FORMATS:
        raise BadRequest(f"format must be one of {', '.join(export.FORMATS)}")
    return fmt


def _take(lines: Iterator[str]) -> str:
    return "".join(itertools.islice(lines, _CHUNK_LINES))


class AuditApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def list_sessions(self, request: web.Request) -> web.Response:
        try:
            f = _filter(request, paged=True)
        except BadRequest as exc:
            return _error(400, str(exc))
        sessions = await asyncio.to_thread(queries.list_sessions, self.store, f)
        return web.json_response(
            {"sessions": [s.as_dict() for s in sessions], "limit": f.limit, "offset": f.offset}
        )

    async def show_session(self, request: web.Request) -> web.Response:
        session_id = request.match_info["session_id"]

        def load() -> dict[str, Any] | None:
            session = queries.get_session(self.store, session_id)
            if session is None:
                return None
            events = queries.session_events(self.store, session_id)
            return {"session": session.as_dict(), "events": [e.as_dict() for e in events]}

        document = await asyncio.to_thread(load)
        if document is None:
            return _error(404, f"no session {session_id!r}")
        return web.json_response(document)

    async def export_session(self, request: web.Request) -> web.StreamResponse:
        session_id = request.match_info["session_id"]
        try:
            fmt = _format(request)
        except BadRequest as exc:
            return _error(400, str(exc))
        found = await asyncio.to_thread(queries.get_session, self.store, session_id)
        if found is None:
            return _error(404, f"no session {session_id!r}")
        rows = queries.iter_export(self.store, models.SessionFilter(), session_ids=[session_id])
        return await self._stream(request, rows, fmt, f"session-{session_id}")

    async def export_all(self, request: web.Request) -> web.StreamResponse:
        try:
            fmt = _format(request)
            f = _filter(request, paged=False)
        except BadRequest as exc:
            return _error(400, str(exc))
        admin = request.query.get("admin", "") in ("1", "true", "yes")
        rows = queries.iter_export(self.store, f, include_admin=admin)
        return await self._stream(request, rows, fmt, "sessions")

    async def _stream(
        self, request: web.Request, rows: Iterator[export.Row], fmt: str, name: str
    ) -> web.StreamResponse:
        lines = export.iter_lines(rows, fmt)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]
        response = web.StreamResponse(
            headers={
                "Content-Type": f"{_CONTENT_TYPES[fmt]}; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{safe}.{fmt}"',
            }
        )
        await response.prepare(request)
        try:
            while chunk := await asyncio.to_thread(_take, lines):
                await response.write(chunk.encode("utf-8"))
        finally:
            # Release the store connection the export holds, also on a disconnect.
            for iterator in (lines, rows):
                close = getattr(iterator, "close", None)
                if close is not None:
                    await asyncio.to_thread(close)
        await response.write_eof()
        return response

    async def verify(self, request: web.Request) -> web.Response:
        report = await asyncio.to_thread(verify, self.store)
        return web.json_response(report.as_dict())

    async def reveal(self, request: web.Request) -> web.Response:
        identity = request.get(IDENTITY)
        if not isinstance(identity, Identity):
            return _error(401, "send a gateway credential as Authorization: Bearer")
        if AUDITOR_GROUP not in identity.groups:
            return _error(403, f"{identity.subject} is not in the {AUDITOR_GROUP!r} group")
        reason = await _reason(request)
        if isinstance(reason, web.Response):
            return reason
        session_id = request.match_info["session_id"]
        try:
            event_id = int(request.match_info["event_id"])
        except ValueError:
            return _error(404, f"no event {request.match_info['event_id']!r}")
        recorder = request.app.get(RECORDER)
        if not isinstance(recorder, Recorder):
            return _error(503, "reveals need the gateway's audit recorder, which is not running")
        try:
            revealed = await reveal_async(
                self.store,
                event_id,
                actor=identity,
                reason=reason,
                keys=recorder.raw_key,
                audit=recorder,
                session_id=session_id,
                context={"via": "admin-api", "client": request.remote},
            )
        except RevealError as exc:
            status = next(code for cls, code in _REVEAL_STATUS if isinstance(exc, cls))
            return _error(status, str(exc))
        except RecordingFailed as exc:
            return _error(503, f"the reveal could not be recorded, so nothing was revealed: {exc}")
        body = {**revealed.as_dict(), "revealed_by": identity.subject, "reason": reason}
        return web.json_response(body, headers={"Cache-Control": "no-store"})


async def _reason(request: web.Request) -> str | web.Response:
    """The non-empty ``reason`` of a JSON body, or the 400 to answer with."""
    problem = 'send a JSON object with a non-empty "reason": why you reveal this payload'
    try:
        body = await request.json() if request.can_read_body else None
    except ValueError:
        return _error(400, f"the body is not JSON: {problem}")
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        return _error(400, problem)
    if len(reason) > MAX_REASON:
        return _error(400, f"the reason is longer than {MAX_REASON} characters")
    return " ".join(reason.split())


def add_routes(app: web.Application, store: Store, *, prefix: str = "/api/audit") -> None:
    """Mount the audit endpoints under ``prefix`` (the caller authenticates admins)."""
    api = AuditApi(store)
    prefix = prefix.rstrip("/")
    app.router.add_get(f"{prefix}/sessions", api.list_sessions)
    app.router.add_get(f"{prefix}/sessions/{{session_id}}", api.show_session)
    app.router.add_get(f"{prefix}/sessions/{{session_id}}/export", api.export_session)
    app.router.add_get(f"{prefix}/export", api.export_all)
    app.router.add_get(f"{prefix}/verify", api.verify)
    app.router.add_post(f"{prefix}/sessions/{{session_id}}/events/{{event_id}}/reveal", api.reveal)
