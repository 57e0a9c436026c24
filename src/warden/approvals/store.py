"""Reading and writing approval requests (sync SQLAlchemy Core).

Deciding is one conditional UPDATE (``WHERE status = 'pending'``), so two
approvers racing, or an approval racing the timeout, resolve to exactly one
outcome on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text, update

from warden.approvals.schema import VERSION_TABLE, approvals
from warden.storage import migrations

MIGRATIONS = Path(__file__).with_name("migrations")
STREAM = migrations.Stream(MIGRATIONS, VERSION_TABLE, head="a0001", lock="warden_approvals")
CHANNEL = "warden_approvals"
"""The PostgreSQL NOTIFY channel on which decisions are announced."""

PENDING, APPROVED, DENIED, EXPIRED, CANCELLED = (
    "pending",
    "approved",
    "denied",
    "expired",
    "cancelled",
)


def new_id() -> str:
    return "apr_" + secrets.token_hex(8)


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    id: str
    status: str
    created_at: int
    expires_at: int
    exchange_id: str
    session_id: str
    connection: str
    subject: str
    groups: tuple[str, ...]
    rule: str
    reason: str
    channel: str
    context: str
    instance_id: str
    decided_at: int | None = None
    decided_by: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "note": self.note,
            "exchange_id": self.exchange_id,
            "session_id": self.session_id,
            "connection": self.connection,
            "subject": self.subject,
            "groups": list(self.groups),
            "rule": self.rule,
            "reason": self.reason,
            "channel": self.channel,
            "context": self.context,
        }


class DecisionError(Exception):
    """The request cannot be decided (unknown, already decided, self-approval)."""


def _row(row: Any) -> ApprovalRequest:
    data = dict(row._mapping)
    data["groups"] = tuple(json.loads(data["groups"]))
    return ApprovalRequest(**data)


class ApprovalStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def migrate(self) -> None:
        migrations.upgrade(self.engine, STREAM)

    def create(
        self,
        *,
        exchange_id: str,
        session_id: str,
        connection: str,
        subject: str,
        groups: tuple[str, ...],
        rule: str,
        reason: str,
        channel: str,
        context: str,
        timeout: float,
        instance_id: str,
        request_id: str | None = None,
    ) -> ApprovalRequest:
        created = now_us()
        request = ApprovalRequest(
            id=request_id or new_id(),
            status=PENDING,
            created_at=created,
            expires_at=created + int(timeout * 1_000_000),
            exchange_id=exchange_id,
            session_id=session_id,
            connection=connection,
            subject=subject,
            groups=groups,
            rule=rule,
            reason=reason,
            channel=channel,
            context=context,
            instance_id=instance_id,
        )
        values = request.as_dict()
        values["groups"] = json.dumps(list(groups))
        values["instance_id"] = instance_id
        with self.engine.begin() as conn:
            conn.execute(approvals.insert().values(**values))
        return request

    def get(self, request_id: str) -> ApprovalRequest | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(approvals).where(approvals.c.id == request_id)).first()
        return None if row is None else _row(row)

    def list(self, status: str | None = None, limit: int = 100) -> list[ApprovalRequest]:
        query = select(approvals).order_by(approvals.c.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(approvals.c.status == status)
        with self.engine.connect() as conn:
            return [_row(row) for row in conn.execute(query)]

    def decide(
        self, request_id: str, *, approver: str, approve: bool, note: str = ""
    ) -> ApprovalRequest:
        current = self.get(request_id)
        if current is None:
            raise DecisionError(f"no approval request {request_id}")
        if current.status != PENDING:
            raise DecisionError(f"{request_id} is already {current.status}")
        if approver == current.subject:
            raise DecisionError("nobody approves their own request")
        self._finish(request_id, APPROVED if approve else DENIED, approver, note)
        decided = self.get(request_id)
        assert decided is not None
        if decided.decided_by != approver:
            raise DecisionError(f"{request_id} was decided concurrently: {decided.status}")
        return decided

    def finish_if_pending(self, request_id: str, status: str, note: str = "") -> bool:
        """Expire or cancel a request nobody decided; False if someone did."""
        return self._finish(request_id, status, None, note)

    def _finish(self, request_id: str, status: str, by: str | None, note: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(approvals)
                .where(approvals.c.id == request_id, approvals.c.status == PENDING)
                .values(status=status, decided_at=now_us(), decided_by=by, note=note or None)
            )
            changed = result.rowcount == 1
            if changed and conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_notify(:c, :id)"), {"c": CHANNEL, "id": request_id})
        return changed
