from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.audit.helpers import conversation, event_rows, exchange, execute
from warden.audit import queries, schema
from warden.audit.crypto import LocalKeyProvider
from warden.audit.models import SessionFilter
from warden.audit.recorder import Recorder
from warden.audit.store import Store
from warden.audit.verify import verify
from warden.pipeline.record import RecordingFailed, RecordKind


def kek() -> LocalKeyProvider:
    return LocalKeyProvider([b"k" * 32])


async def test_records_an_exchange_in_order(store: Store) -> None:
    async with Recorder(store, mode="strict", instance_id="gw-1") as recorder:
        ex = exchange()
        await conversation(recorder, ex, deltas=2)
        await recorder.settle(ex)
    rows = event_rows(store)
    assert [r.kind for r in rows] == [
        "request",
        "response.start",
        "response.event",
        "response.event",
        "decision",
        "end",
    ]
    assert [r.seq for r in rows] == list(range(1, 7))
    assert {r.chain_id for r in rows} == {"gw-1"}
    assert all(r.session_id == "sess-1" and r.exchange_id == "ex-1" for r in rows)
    assert json.loads(rows[0].payload) == {
        "subject": "alice",
        "groups": ["dev"],
        "auth_method": "service-token",
        "connection": "claude",
        "connection_type": "anthropic",
        "operation": "messages",
        "streaming": True,
        "client_address": "127.0.0.1",
        "user_agent": "claude-cli/1.0",
        "method": "POST",
        "path": "/v1/messages",
        "body": {"messages": [{"role": "user", "content": "key [REDACTED:aws-access-key]"}]},
    }
    assert [r.ts for r in rows] == sorted(r.ts for r in rows)
    assert verify(store).ok


async def test_keeps_the_session_row(store: Store) -> None:
    async with Recorder(store, instance_id="gw-1") as recorder:
        await conversation(recorder, exchange("ex-1"), outcome="ok")
        await conversation(recorder, exchange("ex-2"), outcome="blocked")
    session = queries.get_session(store, "sess-1")
    assert session is not None
    assert session.subject == "alice"
    assert session.groups == ("dev",)
    assert session.auth_method == "service-token"
    assert session.user_agent == "claude-cli/1.0"
    assert session.client_address == "127.0.0.1"
    assert session.connection == "claude"
    assert session.exchanges == 2
    assert session.outcome == "blocked"
    assert session.ended_at is not None and session.ended_at >= session.started_at
    assert session.decisions == ({"rule": "aws-access-key", "action": "mask", "flow": "rewrite"},)


async def test_sessions_shared_by_two_replicas_add_up(store: Store) -> None:
    async with (
        Recorder(store, instance_id="gw-a") as a,
        Recorder(store, instance_id="gw-b") as b,
    ):
        await asyncio.gather(
            *(conversation(a, exchange(f"a{i}")) for i in range(5)),
            *(conversation(b, exchange(f"b{i}")) for i in range(5)),
        )
    session = queries.get_session(store, "sess-1")
    assert session is not None and session.exchanges == 10
    report = verify(store)
    assert report.ok, report.all_problems
    assert sorted(c.chain_id for c in report.chains) == ["gw-a", "gw-b"]


async def test_restart_resumes_the_chain(store: Store) -> None:
    for round_ in range(3):
        async with Recorder(store, instance_id="gw-1") as recorder:
            await conversation(recorder, exchange(f"ex-{round_}"))
    rows = event_rows(store)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert verify(store).ok


async def test_a_duplicated_instance_id_still_yields_one_valid_chain(store: Store) -> None:
    async with (
        Recorder(store, instance_id="same") as a,
        Recorder(store, instance_id="same") as b,
    ):
        for i in range(5):
            await conversation(a, exchange(f"a{i}"))
            await conversation(b, exchange(f"b{i}"))
            await a.admin_event("tick", "test", {"i": i})
            await b.admin_event("tick", "test", {"i": i})
    rows = event_rows(store, "same")
    assert len(rows) == 2 * 5 * 7 + 10
    assert verify(store).ok


async def test_best_effort_drops_and_counts_when_full(store: Store) -> None:
    recorder = Recorder(store, instance_id="gw-1", queue_size=5)
    # Not started: nothing drains the inbox.
    for i in range(8):
        await recorder.record(exchange(), RecordKind.RESPONSE_EVENT, {"i": i})
    assert recorder.metrics["dropped"] == 4  # 1 exchange event + 4 events fit
    await recorder.settle(exchange())  # best-effort: returns at once
    await recorder.start()
    await recorder.stop()
    assert recorder.metrics["written"] == 5
    assert verify(store).ok


async def test_strict_applies_back_pressure_and_drops_nothing(store: Store) -> None:
    async with Recorder(store, mode="strict", instance_id="gw-1", queue_size=3) as recorder:
        await asyncio.gather(
            *(conversation(recorder, exchange(f"ex-{i}"), deltas=10) for i in range(20))
        )
        for i in range(20):
            await recorder.settle(exchange(f"ex-{i}"))
        metrics = recorder.metrics
    assert metrics["dropped"] == 0
    assert metrics["written"] == 20 * 14
    assert len(event_rows(store)) == 20 * 14


async def test_strict_settle_fails_when_events_cannot_be_stored(store: Store) -> None:
    async with Recorder(store, mode="strict", instance_id="gw-1") as recorder:
        ok = exchange("ex-ok")
        await conversation(recorder, ok)
        await recorder.settle(ok)
        execute(store, "DROP TABLE audit_events")
        doomed = exchange("ex-doomed")
        await conversation(recorder, doomed)
        with pytest.raises(RecordingFailed):
            await recorder.settle(doomed)
        with pytest.raises(RecordingFailed):
            await recorder.admin_event("config.reload", "ops", {})
        assert recorder.metrics["failed_batches"] >= 1


async def test_best_effort_counts_failed_batches_as_dropped(store: Store) -> None:
    async with Recorder(store, instance_id="gw-1") as recorder:
        execute(store, "DROP TABLE audit_events")
        await conversation(recorder, exchange())
        await recorder.settle(exchange())
    assert recorder.metrics["dropped"] == 7


async def test_record_after_stop_is_refused_in_strict_mode(store: Store) -> None:
    recorder = Recorder(store, mode="strict", instance_id="gw-1")
    await recorder.start()
    await recorder.stop()
    with pytest.raises(RecordingFailed):
        await recorder.record(exchange(), RecordKind.REQUEST, {})


async def test_admin_events_wait_for_their_commit(store: Store) -> None:
    async with Recorder(store, instance_id="gw-1", batch_interval=1.0) as recorder:
        await recorder.admin_event("token.issue", "ops@example.com", {"subject": "ci-bot"})
        # Committed already, although the writer lingers up to 1 s for batches.
        with store.engine.connect() as conn:
            row = conn.execute(select(schema.events)).one()
    assert row.kind == "admin"
    assert row.session_id is None
    assert json.loads(row.payload) == {
        "action": "token.issue",
        "actor": "ops@example.com",
        "details": {"subject": "ci-bot"},
    }


async def test_admin_event_payload_must_be_json(store: Store) -> None:
    async with Recorder(store, instance_id="gw-1") as recorder:
        with pytest.raises(TypeError):
            await recorder.admin_event("x", "y", {"bad": object()})


async def test_unrecordable_payloads_are_kept_as_a_note(store: Store) -> None:
    async with Recorder(store, mode="strict", instance_id="gw-1") as recorder:
        ex = exchange()
        await recorder.record(ex, RecordKind.RESPONSE_EVENT, {"bad": object()})
        await recorder.record(ex, RecordKind.RESPONSE_EVENT, {"surrogate": "\ud800"})
        await recorder.record(ex, RecordKind.RESPONSE_EVENT, {"nan": float("nan")})
        await recorder.record(ex, RecordKind.END, {"outcome": "ok"})
        await recorder.settle(ex)
        assert recorder.metrics["errors"] == 2
    payloads = [json.loads(r.payload) for r in event_rows(store)][1:4]
    assert all(set(p) == {"unrecordable"} for p in payloads[:2])
    assert payloads[2] == {"nan": None}  # JSON has no NaN: written as null
    assert verify(store).ok


async def test_a_payload_is_recorded_as_it_was_when_recorded(store: Store) -> None:
    # Encoded at once: a caller that changes its dict afterwards (the writer
    # commits a batch interval later) does not change the record.
    async with Recorder(store, instance_id="gw-1") as recorder:
        ex = exchange()
        payload: dict[str, Any] = {"body": {"text": "as sent"}}
        await recorder.record(ex, RecordKind.REQUEST, payload)
        payload["body"]["text"] = "changed later"
        await recorder.record(ex, RecordKind.END, {"outcome": "ok"})
    rows = event_rows(store)
    assert json.loads(rows[0].payload)["body"] == {"text": "as sent"}
    assert verify(store).ok


async def test_an_unrecordable_raw_payload_is_kept_as_a_note(store: Store) -> None:
    async with Recorder(store, mode="strict", instance_id="gw-1", raw_key=kek()) as recorder:
        ex = exchange()
        await recorder.record(ex, RecordKind.REQUEST, {"body": "ok"})
        await recorder.record_raw(ex, RecordKind.REQUEST, {"body": object()})
        await recorder.record(ex, RecordKind.END, {"outcome": "ok"})
        await recorder.settle(ex)
        assert recorder.metrics["errors"] == 1
    rows = event_rows(store)
    assert [r.kind for r in rows] == ["request", "raw", "end"]
    assert json.loads(rows[1].payload) == {
        "of": "request",
        "unrecordable": "object is not JSON-serialisable",
    }
    with store.engine.connect() as conn:
        assert conn.execute(select(schema.raw_payloads)).all() == []
    assert verify(store).ok


async def test_odd_ids_from_headers_never_break_a_batch(store: Store) -> None:
    async with Recorder(store, mode="strict", instance_id="gw-1") as recorder:
        ex = exchange("x" * 1000, "s\x00\ud800" + "y" * 1000)
        await conversation(recorder, ex)
        await recorder.settle(ex)
    rows = event_rows(store)
    assert len(rows) == 7
    assert all(len(r.session_id) <= 255 and len(r.exchange_id) <= 255 for r in rows)
    assert verify(store).ok


async def test_raw_payloads_are_encrypted(store: Store) -> None:
    async with Recorder(store, mode="strict", instance_id="gw-1", raw_key=kek()) as recorder:
        ex = exchange()
        await recorder.record(ex, RecordKind.REQUEST, {"body": "key [REDACTED:aws]"})
        await recorder.record_raw(ex, RecordKind.REQUEST, {"body": "key AKIAIOSFODNN7EXAMPLE"})
        await recorder.settle(ex)
    rows = event_rows(store)
    assert [r.kind for r in rows] == ["request", "raw"]
    raw = json.loads(rows[1].payload)
    assert raw["of"] == "request" and raw["cipher"] == "AES-256-GCM"
    with store.engine.connect() as conn:
        sealed = conn.execute(select(schema.raw_payloads)).one()
        keys = conn.execute(select(schema.data_keys)).all()
    assert b"AKIA" not in sealed.ciphertext
    assert len(keys) == 1 and b"k" * 32 not in keys[0].wrapped
    for row in rows:
        assert "AKIA" not in row.payload


async def test_record_raw_without_a_key_is_a_programming_error(store: Store) -> None:
    recorder = Recorder(store, instance_id="gw-1")
    with pytest.raises(RuntimeError):
        await recorder.record_raw(exchange(), RecordKind.REQUEST, {})


async def test_checkpoints_are_signed_at_stop(store: Store, state_dir: Path) -> None:
    async with Recorder(store, instance_id="gw-1") as recorder:
        await conversation(recorder, exchange())
    assert recorder.metrics["checkpoints"] == 1
    assert (state_dir / "audit-signing.key").stat().st_mode & 0o777 == 0o600
    with store.engine.connect() as conn:
        point = conn.execute(select(schema.checkpoints)).one()
    assert point.seq == 7
    report = verify(store)
    assert report.ok and report.chains[0].checkpoints == 1


async def test_metrics_have_the_documented_keys(store: Store) -> None:
    async with Recorder(store, instance_id="gw-1") as recorder:
        await conversation(recorder, exchange())
    metrics: dict[str, Any] = recorder.metrics
    assert {"queued", "written", "dropped", "batches", "last_commit_ms"} <= set(metrics)
    assert metrics["written"] == 7 and metrics["queued"] == 0


async def test_sessions_list_filters(store: Store) -> None:
    async with Recorder(store, instance_id="gw-1") as recorder:
        await conversation(recorder, exchange("e1", "s1", subject="alice"))
        await conversation(recorder, exchange("e2", "s2", subject="bob", connection="openai"))
        await recorder.record(
            exchange("e3", "s3", subject="bob"),
            RecordKind.DECISION,
            {"flow": "block", "rule": "rm-rf", "action": "block"},
        )

    def ids(**kwargs: Any) -> list[str]:
        return sorted(s.id for s in queries.list_sessions(store, SessionFilter(**kwargs)))

    assert ids() == ["s1", "s2", "s3"]
    assert ids(user="bob") == ["s2", "s3"]
    assert ids(connection="openai") == ["s2"]
    assert ids(decision="rm-rf") == ["s3"]
    assert ids(decision="block") == ["s3"]
    assert ids(decision="mask") == ["s1", "s2"]
    assert ids(decision="nothing") == []
    newest = max(s.started_at for s in queries.list_sessions(store, SessionFilter()))
    assert ids(since=newest + 10**9) == []
    assert ids(until=0) == []
    assert len(queries.list_sessions(store, SessionFilter(limit=2))) == 2
