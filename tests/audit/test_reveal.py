from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import select

from tests.audit.helpers import event_rows, exchange
from warden.audit import queries, schema
from warden.audit.appender import LockedAppender
from warden.audit.checkpoints import load_or_create_signer
from warden.audit.crypto import LocalKeyProvider
from warden.audit.recorder import Recorder
from warden.audit.reveal import RevealDenied, RevealError, reveal, reveal_async
from warden.audit.store import Store
from warden.audit.verify import verify
from warden.pipeline.record import RecordKind
from warden.pipeline.types import Identity

KEK = LocalKeyProvider([b"k" * 32])
AUDITOR = Identity("carol", frozenset({"auditor"}), "local-cli")
RAW = {"body": {"messages": [{"role": "user", "content": "AKIAIOSFODNN7EXAMPLE"}]}}


async def sealed_event(store: Store) -> int:
    async with Recorder(store, mode="strict", instance_id="gw-1", raw_key=KEK) as recorder:
        ex = exchange()
        await recorder.record(ex, RecordKind.REQUEST, {"body": "[REDACTED:aws-access-key]"})
        await recorder.record_raw(ex, RecordKind.REQUEST, RAW)
        await recorder.settle(ex)
    (raw,) = [r for r in event_rows(store) if r.kind == "raw"]
    return int(raw.id)


def appender(store: Store) -> LockedAppender:
    return LockedAppender(store, signer=load_or_create_signer(store.state_dir))


async def test_an_auditor_reveals_with_a_reason_and_it_is_audited(store: Store) -> None:
    event_id = await sealed_event(store)
    revealed = reveal(
        store, event_id, actor=AUDITOR, reason="incident 42", keys=KEK, appender=appender(store)
    )
    assert revealed.payload == RAW
    assert revealed.kind == "request" and revealed.session_id == "sess-1"
    (audit,) = queries.admin_events(store)
    assert audit.chain_id == "admin"
    assert audit.payload["action"] == "raw.reveal"
    assert audit.payload["actor"] == "carol"
    assert audit.payload["details"]["event"] == event_id
    assert audit.payload["details"]["reason"] == "incident 42"
    assert verify(store).ok


@pytest.mark.parametrize(
    ("actor", "reason"),
    [(Identity("dave", frozenset({"dev"})), "curious"), (AUDITOR, "   ")],
)
async def test_only_auditors_with_a_reason(store: Store, actor: Identity, reason: str) -> None:
    event_id = await sealed_event(store)
    with pytest.raises(RevealDenied):
        reveal(store, event_id, actor=actor, reason=reason, keys=KEK, appender=appender(store))
    assert queries.admin_events(store) == []


async def test_a_failed_reveal_is_still_audited(store: Store) -> None:
    event_id = await sealed_event(store)
    wrong = LocalKeyProvider([b"x" * 32])
    with pytest.raises(RevealError):
        reveal(store, event_id, actor=AUDITOR, reason="check", keys=wrong, appender=appender(store))
    assert [e.payload["action"] for e in queries.admin_events(store)] == ["raw.reveal"]


async def test_only_raw_events_can_be_revealed(store: Store) -> None:
    event_id = await sealed_event(store)
    with pytest.raises(RevealError, match="not a raw payload"):
        reveal(store, event_id - 1, actor=AUDITOR, reason="x", keys=KEK, appender=appender(store))
    with pytest.raises(RevealError, match="no event"):
        reveal(store, 10**9, actor=AUDITOR, reason="x", keys=KEK, appender=appender(store))


async def test_an_altered_ciphertext_is_refused(store: Store) -> None:
    event_id = await sealed_event(store)
    with store.engine.begin() as conn:
        conn.execute(schema.raw_payloads.update().values(ciphertext=b"\x01" * 48))
    with pytest.raises(RevealError, match="altered"):
        reveal(store, event_id, actor=AUDITOR, reason="x", keys=KEK, appender=appender(store))


async def test_reveal_in_the_gateway_goes_through_the_recorder(store: Store) -> None:
    event_id = await sealed_event(store)
    async with Recorder(store, instance_id="gw-1", raw_key=KEK) as recorder:
        revealed = await reveal_async(
            store, event_id, actor=AUDITOR, reason="ticket 7", keys=KEK, audit=recorder
        )
    assert revealed.payload == RAW
    with store.engine.connect() as conn:
        row = conn.execute(select(schema.events).where(schema.events.c.kind == "admin")).one()
    assert row.chain_id == "gw-1"
    assert json.loads(row.payload)["details"]["reason"] == "ticket 7"


async def test_concurrent_appenders_share_the_admin_chain(store: Store) -> None:
    def work() -> None:
        writer = appender(store)
        for i in range(10):
            writer.append_admin("tick", "t", {"i": i})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = event_rows(store, "admin")
    assert [r.seq for r in rows] == list(range(1, 41))
    report = verify(store)
    assert report.ok, report.all_problems
