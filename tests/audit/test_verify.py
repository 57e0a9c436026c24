"""Tamper evidence: each way of tampering is caught and the first event named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.audit.helpers import conversation, event_rows, exchange, execute
from warden.audit import schema
from warden.audit.chain import canonical_text, event_digest
from warden.audit.checkpoints import KEY_FILE, Checkpoint, key_id_of, load_trusted_keys
from warden.audit.crypto import LocalKeyProvider
from warden.audit.recorder import Recorder
from warden.audit.sinks import JsonlFileSink
from warden.audit.store import Store
from warden.audit.verify import Problem, load_anchors, verify
from warden.pipeline.record import RecordKind

CHAIN = "gw-1"


async def fill(store: Store, exchanges: int = 3, **kwargs: object) -> None:
    async with Recorder(store, instance_id=CHAIN, **kwargs) as recorder:
        for i in range(exchanges):
            await conversation(recorder, exchange(f"ex-{i}"))


def first_problem(store: Store, **kwargs: object) -> Problem:
    report = verify(store, **kwargs)
    assert not report.ok
    return report.all_problems[0]


def row_at(store: Store, seq: int) -> Any:
    return next(r for r in event_rows(store, CHAIN) if r.seq == seq)


async def test_an_untouched_store_verifies(store: Store) -> None:
    await fill(store)
    report = verify(store)
    assert report.ok, report.all_problems
    assert report.events == 21
    (chain,) = report.chains
    assert chain.chain_id == CHAIN and chain.head_seq == 21 and chain.checkpoints == 1
    assert verify(store).as_dict()["ok"] is True


async def test_an_edited_event_is_named(store: Store) -> None:
    await fill(store)
    target = row_at(store, 10)
    execute(
        store,
        "UPDATE audit_events SET payload = :p WHERE id = :id",
        p='{"status":500}',
        id=target.id,
    )
    problem = first_problem(store)
    assert (problem.kind, problem.seq, problem.event_id) == ("edited", 10, target.id)


async def test_an_edited_identity_is_named(store: Store) -> None:
    await fill(store)
    target = row_at(store, 8)  # the second exchange's opening event
    assert target.kind == "request"
    forged = target.payload.replace('"alice"', '"mallory"')
    execute(store, "UPDATE audit_events SET payload = :p WHERE id = :id", p=forged, id=target.id)
    assert first_problem(store).seq == 8


async def test_an_edited_and_rehashed_event_is_named(store: Store) -> None:
    await fill(store)
    target = row_at(store, 10)
    payload = '{"status":500}'
    digest = event_digest(
        CHAIN,
        target.ts,
        target.kind,
        target.session_id,
        target.exchange_id,
        payload,
        target.prev_hash,
    )
    execute(
        store,
        "UPDATE audit_events SET payload = :p, hash = :h WHERE id = :id",
        p=payload,
        h=digest,
        id=target.id,
    )
    problem = first_problem(store)
    assert (problem.kind, problem.seq, problem.event_id) == ("broken-link", 10, target.id)


async def test_a_deleted_event_is_named(store: Store) -> None:
    await fill(store)
    execute(store, "DELETE FROM audit_events WHERE chain_id = :c AND seq = 10", c=CHAIN)
    problem = first_problem(store)
    assert (problem.kind, problem.seq) == ("deleted", 10)
    assert "seq 10..10" in problem.message


async def test_deleted_newest_events_are_caught_by_the_checkpoint(store: Store) -> None:
    await fill(store)
    execute(store, "DELETE FROM audit_events WHERE chain_id = :c AND seq > 18", c=CHAIN)
    problem = first_problem(store)
    assert (problem.kind, problem.seq) == ("deleted", 19)
    assert "signed seq 21" in problem.message


def shift_up(store: Store, from_seq: int) -> None:
    """Make room at ``from_seq`` without tripping the (chain, seq) unique key."""
    execute(
        store,
        "UPDATE audit_events SET seq = -(seq + 1) WHERE chain_id = :c AND seq >= :s",
        c=CHAIN,
        s=from_seq,
    )
    execute(store, "UPDATE audit_events SET seq = -seq WHERE chain_id = :c AND seq < 0", c=CHAIN)


def forge(store: Store, seq: int, prev_hash: str) -> int:
    payload = canonical_text({"status": 200, "forged": True})
    digest = event_digest(CHAIN, 1, "response.start", "sess-1", "ex-1", payload, prev_hash)
    with store.engine.begin() as conn:
        result = conn.execute(
            schema.events.insert()
            .values(
                chain_id=CHAIN,
                seq=seq,
                ts=1,
                kind="response.start",
                session_id="sess-1",
                exchange_id="ex-1",
                payload=payload,
                prev_hash=prev_hash,
                hash=digest,
            )
            .returning(schema.events.c.id)
        )
        return int(result.scalar_one())


@pytest.mark.parametrize("linked", [True, False], ids=["linked", "unlinked"])
async def test_an_inserted_event_is_named(store: Store, linked: bool) -> None:
    await fill(store)
    before = row_at(store, 9)
    shift_up(store, 10)
    forged_id = forge(store, 10, before.hash if linked else "f" * 64)
    problem = first_problem(store)
    assert (problem.kind, problem.seq, problem.event_id) == ("inserted", 10, forged_id)


async def test_reordered_events_are_named(store: Store) -> None:
    await fill(store)
    a, b = row_at(store, 10), row_at(store, 11)
    execute(store, "UPDATE audit_events SET seq = -1 WHERE id = :id", id=a.id)
    execute(store, "UPDATE audit_events SET seq = 10 WHERE id = :id", id=b.id)
    execute(store, "UPDATE audit_events SET seq = 11 WHERE id = :id", id=a.id)
    report = verify(store)
    problems = report.all_problems
    assert [(p.kind, p.seq, p.event_id) for p in problems] == [("reordered", 10, b.id)]


async def test_a_tampered_checkpoint_fails_its_signature(store: Store) -> None:
    await fill(store)
    execute(store, "UPDATE audit_checkpoints SET seq = 20")
    problem = first_problem(store)
    assert problem.kind == "checkpoint" and "invalid signature" in problem.message


async def test_pinned_keys_reject_other_signers(store: Store, tmp_path: Path) -> None:
    await fill(store)
    assert verify(store, trusted_keys=load_trusted_keys(store.state_dir / KEY_FILE)).ok
    stranger = Ed25519PrivateKey.generate().public_key()
    problem = first_problem(store, trusted_keys={key_id_of(stranger): stranger})
    assert problem.kind == "checkpoint" and "not trusted" in problem.message


async def test_anchors_catch_what_the_store_no_longer_shows(store: Store, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.jsonl"
    await fill(store, sinks=[JsonlFileSink(anchors)])
    records = [json.loads(line) for line in anchors.read_text().splitlines()]
    assert [r["seq"] for r in records] == [21]
    assert Checkpoint.from_record(records[0]).seq == 21
    assert verify(store, anchors=load_anchors(anchors)).ok
    # Delete the newest events and the stored checkpoints that pin them.
    execute(store, "DELETE FROM audit_events WHERE chain_id = :c AND seq > 17", c=CHAIN)
    execute(store, "DELETE FROM audit_checkpoints")
    assert verify(store).ok  # nothing in the store shows it...
    problem = first_problem(store, anchors=load_anchors(anchors))
    assert (problem.kind, problem.seq) == ("deleted", 18)  # ...the anchor does


async def test_a_tampered_raw_payload_is_caught(store: Store) -> None:
    async with Recorder(store, instance_id=CHAIN, raw_key=LocalKeyProvider([b"k" * 32])) as rec:
        await rec.record_raw(exchange(), RecordKind.REQUEST, {"body": "secret"})
    assert verify(store).ok
    with store.engine.begin() as conn:
        conn.execute(schema.raw_payloads.update().values(ciphertext=b"\x00" * 40))
    problem = first_problem(store)
    assert problem.kind == "raw" and "altered" in problem.message


async def test_problems_are_reported_per_chain(store: Store) -> None:
    await fill(store)
    async with Recorder(store, instance_id="gw-2") as other:
        await conversation(other, exchange("other"))
    execute(store, "UPDATE audit_events SET payload = '{}' WHERE chain_id = 'gw-2' AND seq = 3")
    report = verify(store)
    by_chain = {c.chain_id: c for c in report.chains}
    assert by_chain[CHAIN].ok
    assert [p.seq for p in by_chain["gw-2"].problems] == [3]
