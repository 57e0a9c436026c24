"""Retention: purged ranges leave signed tombstones, and the chain still verifies."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.audit.helpers import conversation, event_rows, exchange, execute
from warden.audit import queries, schema
from warden.audit.checkpoints import load_or_create_signer
from warden.audit.models import SessionFilter
from warden.audit.recorder import Recorder
from warden.audit.retention import DAY_US, RetentionPolicy, purge
from warden.audit.store import Store, now_us
from warden.audit.verify import verify

CHAIN = "gw-1"


async def fill(store: Store) -> None:
    async with Recorder(store, instance_id=CHAIN) as recorder:
        await conversation(recorder, exchange("e1", "s-old", connection="claude"))
        await conversation(recorder, exchange("e2", "s-keep", connection="openai"))
        await conversation(recorder, exchange("e3", "s-old2", connection="claude"))
        await recorder.admin_event("config.reload", "ops", {})


def later(days: float) -> int:
    """A purge run ``days`` from now (aging the rows instead would be tampering)."""
    return now_us() + int(days * DAY_US)


async def test_purge_deletes_expired_runs_and_verify_still_passes(store: Store) -> None:
    await fill(store)
    policy = RetentionPolicy(default_days=30, connections={"openai": 90})
    result = purge(store, policy, signer=load_or_create_signer(store.state_dir), now=later(40))
    assert result.events == 14
    assert [(t.first_seq, t.last_seq) for t in result.tombstones] == [(1, 7), (15, 21)]
    assert result.sessions == 2
    remaining = event_rows(store, CHAIN)
    assert [r.seq for r in remaining] == [*range(8, 15), 22]
    report = verify(store)
    assert report.ok, report.all_problems
    by_chain = {c.chain_id: c for c in report.chains}
    assert by_chain[CHAIN].purged == 14 and by_chain[CHAIN].events == 8
    ids = {s.id for s in queries.list_sessions(store, SessionFilter())}
    assert ids == {"s-keep"}
    # The purge is itself an admin event in the admin chain.
    admin = queries.admin_events(store)
    assert json.loads(admin[0].payload_text)["action"] == "retention.purge"


async def test_nothing_expires_when_young_or_unconfigured(store: Store) -> None:
    await fill(store)
    signer = load_or_create_signer(store.state_dir)
    assert purge(store, RetentionPolicy(default_days=30), signer=signer).events == 0
    assert purge(store, RetentionPolicy(), signer=signer, now=later(400)).events == 0
    assert len(event_rows(store, CHAIN)) == 22


async def test_tampering_after_a_purge_is_still_caught(store: Store) -> None:
    await fill(store)
    purge(
        store,
        RetentionPolicy(default_days=30),
        signer=load_or_create_signer(store.state_dir),
        now=later(40),
    )
    execute(
        store,
        "UPDATE audit_events SET payload = '{}' WHERE chain_id = :c AND seq = 22",
        c=CHAIN,
    )
    problems = verify(store).all_problems
    assert [(p.kind, p.seq) for p in problems] == [("edited", 22)]


async def test_a_deletion_disguised_as_a_purge_is_caught(store: Store) -> None:
    await fill(store)
    rows = {r.seq: r for r in event_rows(store, CHAIN)}
    execute(store, "DELETE FROM audit_events WHERE chain_id = :c AND seq BETWEEN 8 AND 14", c=CHAIN)
    with store.engine.begin() as conn:
        conn.execute(
            schema.tombstones.insert().values(
                chain_id=CHAIN,
                first_seq=8,
                last_seq=14,
                prev_hash=rows[7].hash,
                last_hash=rows[14].hash,
                count=7,
                purged_at=now_us(),
                reason="retention",
                key_id="forged",
                signature="AAAA",
            )
        )
    problem = verify(store).all_problems[0]
    assert problem.kind == "tombstone" and problem.seq == 8


async def test_a_tampered_tombstone_breaks_the_chain(store: Store) -> None:
    await fill(store)
    purge(
        store,
        RetentionPolicy(default_days=30),
        signer=load_or_create_signer(store.state_dir),
        now=later(40),
    )
    execute(store, "UPDATE audit_tombstones SET last_hash = :h WHERE first_seq = 1", h="0" * 64)
    kinds = {p.kind for p in verify(store).all_problems}
    assert "tombstone" in kinds  # the signature no longer matches


async def test_the_writer_resumes_after_its_whole_chain_was_purged(store: Store) -> None:
    await fill(store)
    highest_id = max(r.id for r in event_rows(store, CHAIN))
    policy = RetentionPolicy(default_days=30, admin_days=30)
    purge(store, policy, signer=load_or_create_signer(store.state_dir), now=later(40))
    assert event_rows(store, CHAIN) == []
    async with Recorder(store, instance_id=CHAIN) as recorder:
        await conversation(recorder, exchange("e4", "s-new"))
    rows: list[Any] = event_rows(store, CHAIN)
    assert rows[0].seq == 23
    assert rows[0].id > highest_id  # ids of purged events are never reused
    with store.engine.connect() as conn:
        tomb = conn.execute(select(schema.tombstones).where(schema.tombstones.c.last_seq == 22))
        assert rows[0].prev_hash == tomb.one().last_hash
    report = verify(store)
    assert report.ok, report.all_problems
