"""Review holds: a paused stream waits here for a human.

``review`` stores an approval request with the masked context, tells the
approvers, and waits for a decision, the timeout, or the agent leaving.
A decision can come from anywhere that reaches the store: this process
(the admin API), the ``warden approvals`` CLI, or another gateway replica.
With PostgreSQL the deciding transaction sends ``NOTIFY warden_approvals``
and every replica's listener wakes the matching waiter at once; with SQLite
(one host) waiters also re-read their row every ``poll`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from warden.approvals.notify import Notifier, notify_all
from warden.approvals.store import (
    APPROVED,
    CANCELLED,
    CHANNEL,
    EXPIRED,
    PENDING,
    ApprovalRequest,
    ApprovalStore,
    new_id,
)
from warden.pipeline.types import Exchange
from warden.protocols.base import Hold
from warden.server.logs import log_fields

log = logging.getLogger("warden.approvals")

MAX_CONTEXT = 4000
AdminEvent = Callable[[str, str, dict[str, Any]], Any]


class ApprovalService:
    def __init__(
        self,
        store: ApprovalStore,
        *,
        timeout: float,
        instance_id: str,
        notifiers: list[Notifier] | None = None,
        audit: AdminEvent | None = None,
        poll: float = 0.5,
    ) -> None:
        self.store = store
        self.timeout = timeout
        self.instance_id = instance_id
        self.notifiers = notifiers or []
        self.audit = audit
        self.poll = poll
        self._waiters: dict[str, asyncio.Event] = {}
        self._listener: asyncio.Task[None] | None = None

    # -- the gateway side ---------------------------------------------------
    async def review(self, exchange: Exchange, hold: Hold) -> tuple[bool, str]:
        timeout = float(exchange.state.get("review_timeout", self.timeout))
        request_id = new_id()
        exchange.state["approval_id"] = request_id
        waiter = self._waiters[request_id] = asyncio.Event()
        notify: asyncio.Task[None] | None = None
        created = asyncio.ensure_future(
            asyncio.to_thread(
                self.store.create,
                exchange_id=exchange.id,
                session_id=exchange.session_id,
                connection=exchange.connection,
                subject=exchange.identity.subject,
                groups=tuple(sorted(exchange.identity.groups)),
                rule=hold.decision.rule,
                reason=hold.decision.reason,
                channel=hold.channel.key,
                context=hold.context[-MAX_CONTEXT:],
                timeout=timeout,
                instance_id=self.instance_id,
                request_id=request_id,
            )
        )
        try:
            request = await asyncio.shield(created)
            await self._audit("approval.requested", exchange.identity.subject, request)
            notify = asyncio.create_task(notify_all(self.notifiers, request))
            return await self._wait(request, waiter, timeout)
        except asyncio.CancelledError:
            # The agent left: once the row exists, it is cancelled, not left pending.
            with contextlib.suppress(Exception):
                await asyncio.shield(created)
            await asyncio.shield(
                asyncio.to_thread(
                    self.store.finish_if_pending, request_id, CANCELLED, "the agent disconnected"
                )
            )
            raise
        finally:
            self._waiters.pop(request_id, None)
            if notify is not None and not notify.done():
                notify.cancel()

    async def _wait(
        self, request: ApprovalRequest, waiter: asyncio.Event, seconds: float
    ) -> tuple[bool, str]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout=min(self.poll, remaining))
            waiter.clear()
            current = await asyncio.to_thread(self.store.get, request.id)
            if current is not None and current.status != PENDING:
                return self._outcome(current)
        expired = await asyncio.to_thread(
            self.store.finish_if_pending, request.id, EXPIRED, "no reviewer answered in time"
        )
        current = await asyncio.to_thread(self.store.get, request.id)
        assert current is not None
        if expired:
            await self._audit("approval.expired", "warden", current)
        return self._outcome(current)

    @staticmethod
    def _outcome(request: ApprovalRequest) -> tuple[bool, str]:
        if request.status == APPROVED:
            return True, f"approved by {request.decided_by}"
        if request.status == EXPIRED:
            return False, "no reviewer approved this in time, so Warden did not release it"
        note = f": {request.note}" if request.note else ""
        return False, f"a reviewer ({request.decided_by}) denied this{note}"

    # -- the approver side --------------------------------------------------
    async def decide(
        self, request_id: str, *, approver: str, approve: bool, note: str = ""
    ) -> ApprovalRequest:
        decided = await asyncio.to_thread(
            self.store.decide, request_id, approver=approver, approve=approve, note=note
        )
        waiter = self._waiters.get(request_id)
        if waiter is not None:
            waiter.set()
        await self._audit("approval.decided", approver, decided)
        return decided

    async def _audit(self, kind: str, actor: str, request: ApprovalRequest) -> None:
        if self.audit is None:
            return
        payload = request.as_dict()
        payload.pop("context", None)  # the masked context is in the session record
        result = self.audit(kind, actor, payload)
        if asyncio.iscoroutine(result):
            await result

    # -- cross-replica wake-ups ---------------------------------------------
    async def start(self) -> None:
        if self.store.engine.dialect.name == "postgresql":
            self._listener = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener

    async def _listen(self) -> None:
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    async for note in conn.notifies():
                        waiter = self._waiters.get(note.payload)
                        if waiter is not None:
                            waiter.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Waiters still poll; reconnect after a pause.
                log_fields(
                    log, logging.WARNING, "approvals listener failed", error=type(exc).__name__
                )
                await asyncio.sleep(self.poll * 4)
