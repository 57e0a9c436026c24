"""Just-in-time access: time-bound grants for connections marked ``jit``.

A person who may use a JIT connection (its access list) asks for it for a
while with a reason. Approvers (members of the rule's ``approvers`` groups)
approve or deny; the requester never counts as an approver of their own
request, and one approver counts once. When ``approvals`` distinct approvers
have approved, the request becomes a grant until ``granted_at + duration``;
one denial ends it. A pending request lapses after ``pending_until``. A grant
can be revoked before it ends. Every step is audited by the service.

Rows move through one table of states; anything else is refused:

======== =================================================
pending  -> approved (enough approvals), denied, lapsed
approved -> expired (time), revoked
======== =================================================
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Connection, Row

from warden.access import schema
from warden.access.config import JitRule
from warden.access.store import AccessStore
from warden.pipeline.types import Identity

MAX_REASON = 1000


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    LAPSED = "lapsed"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Problem(enum.StrEnum):
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"


class GrantError(Exception):
    """A request or decision that was refused; the message is safe to show."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Vote:
    approver: str
    decision: str
    comment: str
    at: int


@dataclass(frozen=True, slots=True)
class AccessRequest:
    id: str
    connection: str
    subject: str
    display_name: str | None
    reason: str
    duration: int
    approvals_required: int
    status: Status
    created_at: int
    pending_until: int
    decided_at: int | None = None
    granted_at: int | None = None
    expires_at: int | None = None
    votes: tuple[Vote, ...] = field(default=())

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "connection": self.connection,
            "subject": self.subject,
            "display_name": self.display_name,
            "reason": self.reason,
            "duration": self.duration,
            "approvals_required": self.approvals_required,
            "approvals": sum(1 for v in self.votes if v.decision == "approve"),
            "status": self.status.value,
            "created_at": self.created_at,
            "pending_until": self.pending_until,
            "decided_at": self.decided_at,
            "granted_at": self.granted_at,
            "expires_at": self.expires_at,
            "votes": [
                {"approver": v.approver, "decision": v.decision, "comment": v.comment, "at": v.at}
                for v in self.votes
            ],
        }


@dataclass(frozen=True, slots=True)
class Decided:
    request: AccessRequest
    granted: bool
    """This decision turned the request into an active grant."""


class Grants:
    def __init__(self, store: AccessStore) -> None:
        self._store = store

    def request(
        self, identity: Identity, connection: str, rule: JitRule, duration: float, reason: str
    ) -> AccessRequest:
        """Blocking. File a request (the caller checked the access list)."""
        reason = reason.strip()
        if not reason:
            raise GrantError(Problem.INVALID, "give a reason for the request")
        if len(reason) > MAX_REASON:
            raise GrantError(Problem.INVALID, f"the reason is longer than {MAX_REASON} characters")
        if duration <= 0 or duration > rule.max_duration:
            raise GrantError(
                Problem.INVALID,
                f"connection {connection!r} grants at most {_human(rule.max_duration)}",
            )
        t = schema.requests
        now = self._store.now()
        with self._store.write() as conn:
            open_request = conn.execute(
                select(t.c.id).where(
                    t.c.subject == identity.subject,
                    t.c.connection == connection,
                    t.c.status == Status.PENDING.value,
                    t.c.pending_until > now,
                )
            ).first()
            if open_request is not None:
                raise GrantError(
                    Problem.CONFLICT,
                    f"you already have a pending request for {connection!r}: {open_request.id}",
                )
            request_id = "req_" + secrets.token_hex(8)
            conn.execute(
                t.insert().values(
                    id=request_id,
                    connection=connection,
                    subject=identity.subject,
                    display_name=identity.display_name,
                    reason=reason,
                    duration=int(duration),
                    approvals_required=rule.approvals,
                    status=Status.PENDING.value,
                    created_at=now,
                    pending_until=now + int(rule.pending_ttl),
                )
            )
            return self._load(conn, request_id)

    def decide(
        self,
        request_id: str,
        approver: Identity,
        *,
        approve: bool,
        rule: JitRule | None,
        comment: str = "",
    ) -> Decided:
        """Blocking. One approver's decision on a pending request."""
        t = schema.requests
        now = self._store.now()
        with self._store.write() as conn:
            current = self._find(conn, request_id)
            if rule is None:
                raise GrantError(
                    Problem.CONFLICT,
                    f"connection {current.connection!r} no longer needs just-in-time access",
                )
            if not set(rule.approvers) & approver.groups:
                raise GrantError(
                    Problem.FORBIDDEN,
                    f"{approver.subject} is not an approver for {current.connection!r} "
                    f"(approvers: {', '.join(rule.approvers)})",
                )
            if approver.subject == current.subject:
                raise GrantError(Problem.FORBIDDEN, "nobody approves their own request")
            if current.status is not Status.PENDING or current.pending_until <= now:
                raise GrantError(
                    Problem.CONFLICT, f"request {request_id} is {current.status.value}, not pending"
                )
            if any(v.approver == approver.subject for v in current.votes):
                raise GrantError(Problem.CONFLICT, f"you already decided on {request_id}")
            conn.execute(
                schema.votes.insert().values(
                    request_id=request_id,
                    approver=approver.subject,
                    decision="approve" if approve else "deny",
                    comment=comment.strip()[:MAX_REASON],
                    at=now,
                )
            )
            granted = False
            pending = and_(t.c.id == request_id, t.c.status == Status.PENDING.value)
            if not approve:
                conn.execute(
                    update(t).where(pending).values(status=Status.DENIED.value, decided_at=now)
                )
            else:
                approvals = 1 + sum(1 for v in current.votes if v.decision == "approve")
                needed = max(current.approvals_required, rule.approvals)
                if approvals >= needed:
                    result = conn.execute(
                        update(t)
                        .where(pending)
                        .values(
                            status=Status.APPROVED.value,
                            decided_at=now,
                            granted_at=now,
                            expires_at=now + current.duration,
                        )
                    )
                    granted = result.rowcount == 1
            return Decided(self._load(conn, request_id), granted)

    def revoke(self, request_id: str) -> AccessRequest:
        """Blocking. End an active grant now (or withdraw a pending request)."""
        t = schema.requests
        now = self._store.now()
        with self._store.write() as conn:
            current = self._find(conn, request_id)
            if current.status not in (Status.APPROVED, Status.PENDING):
                raise GrantError(
                    Problem.CONFLICT, f"request {request_id} is {current.status.value}"
                )
            conn.execute(
                update(t)
                .where(t.c.id == request_id, t.c.status == current.status.value)
                .values(status=Status.REVOKED.value, expires_at=now, decided_at=now)
            )
            return self._load(conn, request_id)

    def get(self, request_id: str) -> AccessRequest:
        with self._store.read() as conn:
            return self._find(conn, request_id)

    def active(self, subject: str, connection: str) -> AccessRequest | None:
        """Blocking. The grant that lets ``subject`` use ``connection`` now, if any."""
        t = schema.requests
        now = self._store.now()
        with self._store.read() as conn:
            row = conn.execute(
                select(t)
                .where(
                    t.c.subject == subject,
                    t.c.connection == connection,
                    t.c.status == Status.APPROVED.value,
                    t.c.expires_at > now,
                )
                .order_by(t.c.expires_at.desc())
            ).first()
            return None if row is None else _request(row, ())

    def all_active(self) -> list[AccessRequest]:
        t = schema.requests
        now = self._store.now()
        with self._store.read() as conn:
            rows = conn.execute(
                select(t).where(t.c.status == Status.APPROVED.value, t.c.expires_at > now)
            ).all()
        return [_request(row, ()) for row in rows]

    def search(
        self,
        *,
        statuses: Iterable[Status] = (),
        subject: str | None = None,
        connections: Iterable[str] | None = None,
        limit: int = 200,
    ) -> list[AccessRequest]:
        t = schema.requests
        query = select(t).order_by(t.c.created_at.desc()).limit(limit)
        wanted = [s.value for s in statuses]
        if wanted:
            query = query.where(t.c.status.in_(wanted))
        if subject is not None:
            query = query.where(t.c.subject == subject)
        if connections is not None:
            query = query.where(t.c.connection.in_(list(connections)))
        with self._store.read() as conn:
            rows = conn.execute(query).all()
            votes = self._votes(conn, [row.id for row in rows])
        return [_request(row, votes.get(row.id, ())) for row in rows]

    def close_due(self) -> list[AccessRequest]:
        """Blocking. Grants past their end become ``expired``, stale requests
        ``lapsed``. Returns those this call changed (so one replica audits each)."""
        t = schema.requests
        now = self._store.now()
        changed: list[AccessRequest] = []
        with self._store.write() as conn:
            due = conn.execute(
                select(t.c.id, t.c.status).where(
                    ((t.c.status == Status.APPROVED.value) & (t.c.expires_at <= now))
                    | ((t.c.status == Status.PENDING.value) & (t.c.pending_until <= now))
                )
            ).all()
            for request_id, status in due:
                target = Status.EXPIRED if status == Status.APPROVED.value else Status.LAPSED
                result = conn.execute(
                    update(t)
                    .where(t.c.id == request_id, t.c.status == status)
                    .values(status=target.value)
                )
                if result.rowcount == 1:
                    changed.append(self._load(conn, request_id))
        return changed

    def _find(self, conn: Connection, request_id: str) -> AccessRequest:
        if not request_id.startswith("req_") or len(request_id) > 32:
            raise GrantError(Problem.NOT_FOUND, f"no access request {request_id!r}")
        row = conn.execute(
            select(schema.requests).where(schema.requests.c.id == request_id)
        ).first()
        if row is None:
            raise GrantError(Problem.NOT_FOUND, f"no access request {request_id!r}")
        return _request(row, self._votes(conn, [request_id]).get(request_id, ()))

    def _load(self, conn: Connection, request_id: str) -> AccessRequest:
        return self._find(conn, request_id)

    def _votes(self, conn: Connection, ids: list[str]) -> dict[str, tuple[Vote, ...]]:
        if not ids:
            return {}
        v = schema.votes
        rows = conn.execute(select(v).where(v.c.request_id.in_(ids)).order_by(v.c.at)).all()
        out: dict[str, list[Vote]] = {}
        for row in rows:
            out.setdefault(row.request_id, []).append(
                Vote(row.approver, row.decision, row.comment, row.at)
            )
        return {key: tuple(value) for key, value in out.items()}


def _request(row: Row[object], votes: tuple[Vote, ...]) -> AccessRequest:
    return AccessRequest(
        id=row.id,
        connection=row.connection,
        subject=row.subject,
        display_name=row.display_name,
        reason=row.reason,
        duration=int(row.duration),
        approvals_required=int(row.approvals_required),
        status=Status(row.status),
        created_at=int(row.created_at),
        pending_until=int(row.pending_until),
        decided_at=row.decided_at,
        granted_at=row.granted_at,
        expires_at=row.expires_at,
        votes=votes,
    )


def _human(seconds: float) -> str:
    seconds = int(seconds)
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
