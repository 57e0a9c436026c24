"""Review holds against SQLite and PostgreSQL: approve, deny, expire, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from tests.helpers.backends import BACKENDS, store_url_for
from warden.approvals.service import ApprovalService
from warden.approvals.store import ApprovalStore, DecisionError
from warden.pipeline.types import Channel, ChannelKind, Decision, Exchange, Flow, Identity
from warden.protocols.base import Hold


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_url_for(request.param, tmp_path) as value:
        yield value


def open_store(url: str) -> ApprovalStore:
    store = ApprovalStore(create_engine(url, poolclass=NullPool))
    store.migrate()
    return store


def exchange(subject: str = "alice") -> Exchange:
    return Exchange("ex_1", "sess_1", "claude", "anthropic", Identity(subject, frozenset({"dev"})))


def hold(context: str = "rm -rf [REDACTED:x]") -> Hold:
    decision = Decision(Flow.HOLD, "shell-rm-rf", "review", "deletes files recursively")
    return Hold(decision, Channel("content/1", ChannelKind.TOOL_INPUT), context, lambda a, m: [])


async def pending_id(store: ApprovalStore) -> str:
    for _ in range(200):
        rows = await asyncio.to_thread(store.list, "pending")
        if rows:
            return rows[0].id
        await asyncio.sleep(0.02)
    raise AssertionError("no pending request appeared")


async def test_approval_releases_the_hold(url: str) -> None:
    store = open_store(url)
    events: list[tuple[str, str, dict[str, Any]]] = []
    service = ApprovalService(
        store,
        timeout=30,
        instance_id="a",
        audit=lambda kind, actor, payload: events.append((kind, actor, payload)),
    )
    task = asyncio.create_task(service.review(exchange(), hold()))
    request_id = await pending_id(store)
    request = store.get(request_id)
    assert request is not None
    assert (request.rule, request.subject, request.context) == (
        "shell-rm-rf",
        "alice",
        "rm -rf [REDACTED:x]",
    )
    with pytest.raises(DecisionError, match="own request"):
        await service.decide(request_id, approver="alice", approve=True)
    await service.decide(request_id, approver="bob", approve=True, note="fine")
    assert await task == (True, "approved by bob")
    assert [kind for kind, _, _ in events] == ["approval.requested", "approval.decided"]
    assert all("context" not in payload for _, _, payload in events)
    with pytest.raises(DecisionError, match="already approved"):
        await service.decide(request_id, approver="carol", approve=False)
    store.engine.dispose()


async def test_denial_from_another_process_ends_the_hold(url: str) -> None:
    store = open_store(url)
    other = open_store(url)  # the CLI or another replica: its own engine
    service = ApprovalService(store, timeout=30, instance_id="a", poll=0.05)
    await service.start()
    task = asyncio.create_task(service.review(exchange(), hold()))
    request_id = await pending_id(store)
    await asyncio.to_thread(other.decide, request_id, approver="bob", approve=False, note="no")
    approved, message = await asyncio.wait_for(task, 20)
    assert not approved and "bob" in message and "no" in message
    await service.stop()
    store.engine.dispose()
    other.engine.dispose()


async def test_postgres_notify_wakes_the_waiter_without_polling(tmp_path: Path) -> None:
    with store_url_for("postgresql", tmp_path) as url:
        store = open_store(url)
        other = open_store(url)
        service = ApprovalService(store, timeout=60, instance_id="a", poll=3600)
        await service.start()
        await asyncio.sleep(0.5)  # let LISTEN take effect
        task = asyncio.create_task(service.review(exchange(), hold()))
        request_id = await pending_id(store)
        await asyncio.to_thread(other.decide, request_id, approver="bob", approve=True)
        assert await asyncio.wait_for(task, 30) == (True, "approved by bob")
        await service.stop()
        store.engine.dispose()
        other.engine.dispose()


async def test_timeout_expires_and_denies(url: str) -> None:
    store = open_store(url)
    service = ApprovalService(store, timeout=0.3, instance_id="a", poll=0.05)
    approved, message = await service.review(exchange(), hold())
    assert not approved and "in time" in message
    (request,) = store.list()
    assert request.status == "expired"
    store.engine.dispose()


async def test_a_disconnected_agent_cancels_its_request(url: str) -> None:
    store = open_store(url)
    service = ApprovalService(store, timeout=30, instance_id="a", poll=0.05)
    task = asyncio.create_task(service.review(exchange(), hold()))
    request_id = await pending_id(store)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    request = store.get(request_id)
    assert request is not None and request.status == "cancelled"
    store.engine.dispose()
