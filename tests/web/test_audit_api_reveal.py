"""``POST /admin/api/audit/sessions/{id}/events/{event_id}/reveal`` over a real
store (SQLite and PostgreSQL) and a running recorder.

A small middleware stands in for ``admin_auth`` here: it sets
``request["identity"]`` from a test header. ``test_reveal_gateway.py`` runs
the real one in a real gateway.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.audit.helpers import event_rows, exchange
from warden.audit import schema
from warden.audit.crypto import LocalKeyProvider
from warden.audit.recorder import Recorder
from warden.audit.store import Store
from warden.audit.verify import verify
from warden.pipeline.record import RecordKind
from warden.pipeline.types import Identity
from warden.server.keys import IDENTITY, RECORDER
from warden.web.audit_api import add_routes

Client = TestClient[web.Request, web.Application]
KEK = LocalKeyProvider([b"k" * 32])
RAW = {"body": {"messages": [{"role": "user", "content": "AKIAIOSFODNN7EXAMPLE"}]}}
PEOPLE = {
    "carol": Identity("carol", frozenset({"auditor"}), "oidc"),
    "root": Identity("root", frozenset({"admin"}), "service-token"),
    "dave": Identity("dave", frozenset({"dev"}), "service-token"),
}


@web.middleware
async def as_user(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    user = request.headers.get("X-Test-User")
    if user:
        request[IDENTITY] = PEOPLE[user]
    return await handler(request)


async def record(recorder: Recorder) -> None:
    ex = exchange("ex-1", "s-1")
    await recorder.record(ex, RecordKind.REQUEST, {"body": "[REDACTED:aws-access-key]"})
    await recorder.record_raw(ex, RecordKind.REQUEST, RAW)
    await recorder.record(ex, RecordKind.END, {"outcome": "ok"})
    other = exchange("ex-2", "s-2")
    await recorder.record(other, RecordKind.REQUEST, {"body": "hello"})
    await recorder.record_raw(other, RecordKind.REQUEST, {"body": "hello"})
    await recorder.settle(ex)


def raw_id(store: Store, session: str = "s-1") -> int:
    rows = event_rows(store)
    return int(next(r.id for r in rows if r.kind == "raw" and r.session_id == session))


def request_id(store: Store) -> int:
    return int(next(r.id for r in event_rows(store) if r.kind == "request"))


async def client_for(store: Store, recorder: Recorder | None) -> Client:
    app = web.Application(middlewares=[as_user])
    if recorder is not None:
        app[RECORDER] = recorder
    add_routes(app, store, prefix="/admin/api/audit")
    return TestClient(TestServer(app))


@pytest.fixture
async def recorder(store: Store) -> AsyncIterator[Recorder]:
    async with Recorder(store, mode="strict", instance_id="gw-1", raw_key=KEK) as running:
        await record(running)
        yield running


@pytest.fixture
async def client(store: Store, recorder: Recorder) -> AsyncIterator[Client]:
    async with await client_for(store, recorder) as test_client:
        yield test_client


async def post_reveal(
    client: Client, event_id: int | str, *, user: str | None = "carol", body: Any = None
) -> tuple[int, dict[str, Any]]:
    headers = {"X-Test-User": user} if user else {}
    payload = {"reason": "incident 42"} if body is None else body
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = await client.post(
        f"/admin/api/audit/sessions/s-1/events/{event_id}/reveal",
        data=data,
        headers={**headers, "Content-Type": "application/json"},
    )
    return response.status, await response.json()


async def test_an_auditor_reveals_and_the_reveal_is_recorded_in_the_chain(
    client: Client, store: Store
) -> None:
    event_id = raw_id(store)
    response = await client.post(
        f"/admin/api/audit/sessions/s-1/events/{event_id}/reveal",
        json={"reason": "  incident\n42 "},
        headers={"X-Test-User": "carol"},
    )
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    assert body["payload"] == RAW
    assert body["event_id"] == event_id and body["session"] == "s-1"
    assert body["kind"] == "request" and body["revealed_by"] == "carol"
    assert body["reason"] == "incident 42"
    (audit,) = [r for r in event_rows(store, "gw-1") if r.kind == "admin"]
    details = json.loads(audit.payload)
    assert details["action"] == "raw.reveal" and details["actor"] == "carol"
    assert details["details"]["event"] == event_id
    assert details["details"]["reason"] == "incident 42"
    assert details["details"]["via"] == "admin-api"
    assert details["details"]["auth_method"] == "oidc"
    assert details["details"]["client"] == "127.0.0.1"
    assert verify(store).ok


@pytest.mark.parametrize(
    ("user", "status", "message"),
    [
        (None, 401, "send a gateway credential as Authorization: Bearer"),
        ("dave", 403, "dave is not in the 'auditor' group"),
        ("root", 403, "root is not in the 'auditor' group"),  # admins are not auditors
    ],
)
async def test_only_auditors(
    client: Client, store: Store, user: str | None, status: int, message: str
) -> None:
    code, body = await post_reveal(client, raw_id(store), user=user)
    assert (code, body) == (status, {"error": message})
    assert not [r for r in event_rows(store) if r.kind == "admin"]


@pytest.mark.parametrize("body", [{}, {"reason": "  \n "}, {"reason": 42}, [], b"{not json"])
async def test_a_reason_is_required(client: Client, store: Store, body: Any) -> None:
    code, answer = await post_reveal(client, raw_id(store), body=body)
    assert code == 400 and "reason" in answer["error"]
    assert not [r for r in event_rows(store) if r.kind == "admin"]


async def test_a_long_reason_is_refused(client: Client, store: Store) -> None:
    code, answer = await post_reveal(client, raw_id(store), body={"reason": "x" * 5000})
    assert code == 400 and "longer" in answer["error"]


async def test_unknown_events_are_404(client: Client, store: Store) -> None:
    for event_id in (10**9, "abc", raw_id(store, "s-2")):  # s-2's event is not in s-1
        code, answer = await post_reveal(client, event_id)
        assert code == 404 and "no event" in answer["error"]


async def test_a_recorded_event_without_raw_content_is_409(client: Client, store: Store) -> None:
    code, answer = await post_reveal(client, request_id(store))
    assert code == 409
    assert "not a raw payload" in answer["error"]


async def test_an_altered_payload_is_409_and_the_attempt_is_recorded(
    client: Client, store: Store
) -> None:
    with store.engine.begin() as conn:
        conn.execute(schema.raw_payloads.update().values(ciphertext=b"\x01" * 48))
    code, answer = await post_reveal(client, raw_id(store))
    assert code == 409 and "altered" in answer["error"]
    assert len([r for r in event_rows(store, "gw-1") if r.kind == "admin"]) == 1


async def test_a_wrong_or_missing_key_is_503(store: Store, recorder: Recorder) -> None:
    async with (
        Recorder(store, instance_id="gw-2", raw_key=LocalKeyProvider([b"x" * 32])) as wrong,
        await client_for(store, wrong) as client,
    ):
        code, answer = await post_reveal(client, raw_id(store))
    assert code == 503 and "not available" in answer["error"]
    async with (
        Recorder(store, instance_id="gw-3") as keyless,
        await client_for(store, keyless) as client,
    ):
        code, answer = await post_reveal(client, raw_id(store))
    assert code == 503 and "store.raw_key" in answer["error"]
    async with await client_for(store, None) as client:
        code, answer = await post_reveal(client, raw_id(store))
    assert code == 503 and "recorder" in answer["error"]


async def test_nothing_is_revealed_when_the_reveal_cannot_be_recorded(
    store: Store, recorder: Recorder
) -> None:
    stopped = Recorder(store, instance_id="gw-4", raw_key=KEK)
    await stopped.start()
    await stopped.stop()
    async with await client_for(store, stopped) as client:
        code, answer = await post_reveal(client, raw_id(store))
    assert code == 503 and "could not be recorded" in answer["error"]
    assert "payload" not in answer
