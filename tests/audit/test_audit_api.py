"""The admin JSON API (``warden.web.audit_api``) over a real store."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.audit.helpers import conversation, exchange, execute
from warden.audit.recorder import Recorder
from warden.audit.store import Store
from warden.web.audit_api import add_routes


@pytest.fixture
async def client(store: Store) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with Recorder(store, instance_id="gw-1") as recorder:
        await conversation(recorder, exchange("e1", "s-alice", subject="alice"))
        await conversation(recorder, exchange("e2", "s-bob", subject="bob"), outcome="blocked")
    app = web.Application()
    add_routes(app, store, prefix="/admin/audit/")
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_list_and_filter(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/admin/audit/sessions")
    assert response.status == 200
    body = await response.json()
    assert sorted(s["id"] for s in body["sessions"]) == ["s-alice", "s-bob"]
    response = await client.get("/admin/audit/sessions", params={"user": "bob", "since": "1h"})
    assert [s["id"] for s in (await response.json())["sessions"]] == ["s-bob"]
    response = await client.get("/admin/audit/sessions", params={"limit": "1", "offset": "1"})
    assert len((await response.json())["sessions"]) == 1


@pytest.mark.parametrize(
    "params", [{"since": "soon"}, {"limit": "many"}, {"limit": "5000"}, {"offset": "-1"}]
)
async def test_bad_parameters_are_400(
    client: TestClient[web.Request, web.Application], params: dict[str, str]
) -> None:
    response = await client.get("/admin/audit/sessions", params=params)
    assert response.status == 400
    assert "error" in await response.json()


async def test_show(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/admin/audit/sessions/s-bob")
    body = await response.json()
    assert body["session"]["outcome"] == "blocked"
    assert len(body["events"]) == 7 and body["events"][0]["kind"] == "request"
    response = await client.get("/admin/audit/sessions/missing")
    assert response.status == 404


async def test_exports_stream(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/admin/audit/sessions/s-alice/export")
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in (await response.text()).splitlines()]
    assert len(lines) == 7 and {x["session"] for x in lines} == {"s-alice"}
    response = await client.get("/admin/audit/export", params={"format": "csv"})
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert len(rows) == 14
    response = await client.get("/admin/audit/export", params={"format": "xml"})
    assert response.status == 400
    response = await client.get("/admin/audit/sessions/missing/export")
    assert response.status == 404


async def test_verify(client: TestClient[web.Request, web.Application], store: Store) -> None:
    body = await (await client.get("/admin/audit/verify")).json()
    assert body["ok"] is True and body["events"] == 14
    execute(store, "DELETE FROM audit_events WHERE seq = 3")
    body = await (await client.get("/admin/audit/verify")).json()
    assert body["ok"] is False
    assert body["chains"][0]["problems"][0]["kind"] == "deleted"
