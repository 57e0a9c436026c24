"""``warden audit verify``: check every chain, name the first event tampered with.

For each chain, events are walked in ``seq`` order from the genesis hash.
Each event must hash to its stored ``hash`` (else it was **edited**) and
link to the previous one (``prev_hash``). Where the links break the walk
tells what happened:

* a gap in ``seq`` not covered by a tombstone: events were **deleted**;
* an event whose predecessor sits later in the chain: the order was changed
  (**reordered**);
* an event that the next one skips over (the next links to what precedes
  it): it was **inserted**;
* any other broken link: the previous event was edited and re-hashed, or
  events were deleted and the rest renumbered (**broken-link**).

Tombstones (retention purges) must continue the chain and carry a valid
signature; signed checkpoints must match the events they pin, and a
checkpoint beyond the stored head means the newest events were deleted.
Raw payloads must match the digest their event recorded.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, union
from sqlalchemy.engine import Connection

from warden.audit import models, schema
from warden.audit.chain import ChainHasher, genesis_hash
from warden.audit.checkpoints import Checkpoint, load_public_pem
from warden.audit.report import ChainReport, Problem, VerifyReport, load_anchors
from warden.audit.retention import Tombstone
from warden.audit.store import Store

__all__ = ["ChainReport", "Problem", "Verifier", "VerifyReport", "load_anchors", "verify"]

MAX_PROBLEMS_PER_CHAIN = 100
_MAX_LOOKUPS = 50


class _Row:
    __slots__ = (
        "exchange_id",
        "hash",
        "id",
        "kind",
        "payload",
        "prev_hash",
        "seq",
        "session_id",
        "ts",
    )

    def __init__(self, row: Any) -> None:
        (
            self.id,
            self.seq,
            self.ts,
            self.kind,
            self.session_id,
            self.exchange_id,
            self.payload,
            self.prev_hash,
            self.hash,
        ) = row


def _peekable(rows: Iterable[Any]) -> Iterator[tuple[_Row, _Row | None]]:
    iterator = iter(rows)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield _Row(current), (_Row(following) if following is not None else None)
        current = following


class Verifier:
    def __init__(
        self,
        store: Store,
        *,
        trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
        anchors: Iterable[tuple[Checkpoint, str | None]] = (),
    ) -> None:
        self.store = store
        self.trusted = dict(trusted_keys) if trusted_keys is not None else None
        self.anchors = list(anchors)

    def run(self) -> VerifyReport:
        started = time.perf_counter()
        report = VerifyReport()
        conn_factory = self.store.engine.connect()
        if self.store.dialect == "postgresql":
            # One snapshot for keys, purges, checkpoints and events alike, so a
            # purge or a commit racing the walk is never mistaken for tampering.
            conn_factory = conn_factory.execution_options(isolation_level="REPEATABLE READ")
        with conn_factory as conn:
            keys = self._keys(conn, report)
            pins = self._pins(conn, keys, report)
            tombstones = self._tombstones(conn, keys, report)
            for chain_id in self._chain_ids(conn):
                chain = ChainReport(chain_id)
                report.chains.append(chain)
                self._walk(
                    conn, chain, tombstones.get(chain_id, []), pins.get(chain_id, {}), report
                )
        report.seconds = time.perf_counter() - started
        return report

    # -- keys, checkpoints, tombstones --------------------------------------

    def _keys(self, conn: Connection, report: VerifyReport) -> dict[str, Ed25519PublicKey]:
        if self.trusted is not None:
            return dict(self.trusted)
        keys: dict[str, Ed25519PublicKey] = {}
        for row in conn.execute(select(schema.signing_keys)):
            try:
                keys[row.key_id] = load_public_pem(row.public_key)
            except Exception:
                report.problems.append(
                    Problem("checkpoint", "", None, None, f"signing key {row.key_id} is malformed")
                )
        return keys

    def _pins(
        self, conn: Connection, keys: dict[str, Ed25519PublicKey], report: VerifyReport
    ) -> dict[str, dict[int, list[tuple[str, Checkpoint]]]]:
        """Checkpoints with valid signatures, by chain and seq, labelled by origin."""
        pins: dict[str, dict[int, list[tuple[str, Checkpoint]]]] = {}
        candidates: list[tuple[str, Checkpoint, Ed25519PublicKey | None]] = []
        for row in conn.execute(select(schema.checkpoints).order_by(schema.checkpoints.c.id)):
            point = Checkpoint(row.chain_id, row.seq, row.hash, row.ts, row.key_id, row.signature)
            candidates.append((f"checkpoint {row.id}", point, keys.get(point.key_id)))
            report.checkpoints += 1
        for number, (point, pem) in enumerate(self.anchors, 1):
            key = keys.get(point.key_id)
            if key is None and self.trusted is None and pem is not None:
                try:
                    key = load_public_pem(pem)
                except Exception:
                    key = None
            candidates.append((f"anchor {number}", point, key))
            report.anchors += 1
        for label, point, key in candidates:
            if key is None:
                report.problems.append(
                    Problem(
                        "checkpoint",
                        point.chain_id,
                        point.seq,
                        None,
                        f"{label} is signed by key {point.key_id}, which is not trusted",
                    )
                )
                continue
            if not point.verify(key):
                report.problems.append(
                    Problem(
                        "checkpoint",
                        point.chain_id,
                        point.seq,
                        None,
                        f"{label} has an invalid signature",
                    )
                )
                continue
            pins.setdefault(point.chain_id, {}).setdefault(point.seq, []).append((label, point))
        return pins

    def _tombstones(
        self, conn: Connection, keys: dict[str, Ed25519PublicKey], report: VerifyReport
    ) -> dict[str, list[Tombstone]]:
        out: dict[str, list[Tombstone]] = {}
        table = schema.tombstones
        for row in conn.execute(select(table).order_by(table.c.chain_id, table.c.first_seq)):
            tomb = Tombstone.from_row(row)
            key = keys.get(tomb.key_id)
            if key is None or not tomb.verify(key):
                why = "an untrusted key" if key is None else "an invalid signature"
                report.problems.append(
                    Problem(
                        "tombstone",
                        tomb.chain_id,
                        tomb.first_seq,
                        None,
                        f"purge record for seq {tomb.first_seq}..{tomb.last_seq} has {why}: "
                        "events may have been deleted and disguised as a purge",
                    )
                )
            out.setdefault(tomb.chain_id, []).append(tomb)
        return out

    def _chain_ids(self, conn: Connection) -> list[str]:
        query = union(
            select(schema.events.c.chain_id).distinct(),
            select(schema.chains.c.chain_id),
            select(schema.tombstones.c.chain_id),
            select(schema.checkpoints.c.chain_id),
        )
        return sorted(row[0] for row in conn.execute(query))

    # -- the walk ----------------------------------------------------------

    def _walk(
        self,
        conn: Connection,
        chain: ChainReport,
        tomb_list: list[Tombstone],
        pins: dict[int, list[tuple[str, Checkpoint]]],
        report: VerifyReport,
    ) -> None:
        chain_id = chain.chain_id
        ev = schema.events
        query = (
            select(
                ev.c.id,
                ev.c.seq,
                ev.c.ts,
                ev.c.kind,
                ev.c.session_id,
                ev.c.exchange_id,
                ev.c.payload,
                ev.c.prev_hash,
                ev.c.hash,
            )
            .where(ev.c.chain_id == chain_id)
            .order_by(ev.c.seq)
        )
        rows = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
        tombs = deque(tomb_list)
        prev = genesis_hash(chain_id)
        event_digest = ChainHasher(chain_id)
        expected = 1
        lookups = 0
        deferred: set[str] = set()
        last_ok: _Row | None = None
        raw_digests: dict[int, str] = {}

        def problem(kind: str, seq: int | None, event_id: int | None, message: str) -> None:
            if len(chain.problems) >= MAX_PROBLEMS_PER_CHAIN:
                chain.truncated = True
                return
            chain.problems.append(Problem(kind, chain_id, seq, event_id, message))

        def check_pins(seq: int, digest: str, what: str) -> None:
            for label, point in pins.pop(seq, ()):
                if point.hash == digest:
                    chain.checkpoints += 1
                else:
                    problem(
                        "checkpoint",
                        seq,
                        None,
                        f"{label} signed hash {point.hash[:16]}… at seq {seq}, "
                        f"but {what} hashes to {digest[:16]}…",
                    )

        def consume_tombstones(upto: int) -> None:
            nonlocal prev, expected, last_ok
            while tombs and tombs[0].first_seq <= upto:
                tomb = tombs.popleft()
                if tomb.first_seq > expected:
                    problem(
                        "deleted",
                        expected,
                        None,
                        f"events seq {expected}..{tomb.first_seq - 1} are missing "
                        "(deleted without a purge record)",
                    )
                elif tomb.first_seq < expected:
                    problem(
                        "tombstone",
                        tomb.first_seq,
                        None,
                        f"purge record {tomb.first_seq}..{tomb.last_seq} overlaps stored events",
                    )
                elif tomb.prev_hash != prev:
                    problem(
                        "tombstone",
                        tomb.first_seq,
                        None,
                        f"purge record {tomb.first_seq}..{tomb.last_seq} does not continue "
                        "the chain (the event before it was altered)",
                    )
                for seq in [s for s in pins if tomb.first_seq <= s < tomb.last_seq]:
                    pins.pop(seq)  # inside a purged range: nothing left to compare
                check_pins(tomb.last_seq, tomb.last_hash, "the purge record")
                prev = tomb.last_hash
                expected = tomb.last_seq + 1
                last_ok = None
                chain.purged += tomb.count

        def find_later(digest: str, after: int) -> int | None:
            nonlocal lookups
            if lookups >= _MAX_LOOKUPS:
                return None
            lookups += 1
            row = conn.execute(
                select(ev.c.seq)
                .where(ev.c.chain_id == chain_id, ev.c.hash == digest, ev.c.seq > after)
                .limit(1)
            ).first()
            return None if row is None else int(row.seq)

        for row, following in _peekable(rows):
            chain.events += 1
            consume_tombstones(row.seq)
            resync = False
            if row.seq < expected:
                problem(
                    "inserted",
                    row.seq,
                    row.id,
                    "the event sits inside a purged range",
                )
                continue
            if row.seq > expected:
                problem(
                    "deleted",
                    expected,
                    None,
                    f"events seq {expected}..{row.seq - 1} are missing "
                    f"(deleted without a purge record); the next stored event is {row.id}",
                )
                resync = True
            digest = event_digest(
                row.ts,
                row.kind,
                row.session_id,
                row.exchange_id,
                row.payload,
                row.prev_hash,
            )
            if digest != row.hash:
                problem(
                    "edited",
                    row.seq,
                    row.id,
                    f"the {row.kind} event's content does not match its hash",
                )
                prev = row.hash
            elif resync or row.prev_hash == prev or row.prev_hash in deferred:
                deferred.discard(row.prev_hash)
                if (
                    following is not None
                    and following.prev_hash == row.prev_hash
                    and following.seq == row.seq + 1
                ):
                    problem(
                        "inserted",
                        row.seq,
                        row.id,
                        "the next event links past it to the one before it",
                    )
                    expected = row.seq + 1
                    continue
                prev = row.hash
            else:
                later = find_later(row.prev_hash, row.seq)
                if later is not None:
                    problem(
                        "reordered",
                        row.seq,
                        row.id,
                        f"it follows the event now at seq {later}, which comes after it",
                    )
                    deferred.add(row.hash)
                    expected = row.seq + 1
                    continue
                if following is not None and following.prev_hash == prev:
                    problem(
                        "inserted",
                        row.seq,
                        row.id,
                        "it does not link to the previous event, and the next event does",
                    )
                    expected = row.seq + 1
                    continue
                if last_ok is not None:
                    problem(
                        "broken-link",
                        last_ok.seq,
                        last_ok.id,
                        f"event {row.id} (seq {row.seq}) does not link to it: it was edited "
                        "and re-hashed, or events after it were deleted and the rest renumbered",
                    )
                else:
                    problem(
                        "broken-link",
                        row.seq,
                        row.id,
                        "it does not link to what precedes it (the chain start or a purge): "
                        "events before it were deleted and the rest renumbered",
                    )
                prev = row.hash
            check_pins(row.seq, row.hash, "the stored event")
            last_ok = row
            if row.kind == models.RAW and (raw := _raw_digest(row.payload)):
                raw_digests[row.seq] = raw
            expected = row.seq + 1
        consume_tombstones(sys.maxsize)  # purges at the very end of the chain
        chain.head_seq = expected - 1
        chain.head_hash = prev
        for seq in sorted(pins):
            if seq >= expected:
                labels = ", ".join(label for label, _ in pins[seq])
                problem(
                    "deleted",
                    expected,
                    None,
                    f"the chain ends at seq {expected - 1} but {labels} signed seq {seq}: "
                    "the newest events were deleted",
                )
        self._check_raw(conn, chain_id, raw_digests, problem)

    def _check_raw(
        self, conn: Connection, chain_id: str, digests: dict[int, str], problem: Any
    ) -> None:
        table = schema.raw_payloads
        query = select(table.c.seq, table.c.ciphertext).where(table.c.chain_id == chain_id)
        for row in conn.execution_options(stream_results=True, yield_per=500).execute(query):
            expected = digests.pop(row.seq, None)
            if expected is None:
                problem("raw", row.seq, None, "a raw payload has no raw event")
            elif hashlib.sha256(row.ciphertext).hexdigest() != expected:
                problem("raw", row.seq, None, "the raw payload was altered")
        for seq in sorted(digests):
            problem("raw", seq, None, "the raw payload of this raw event is missing")


def _raw_digest(payload_text: str) -> str:
    try:
        value = json.loads(payload_text)
    except ValueError:
        return ""
    digest = value.get("sha256") if isinstance(value, dict) else None
    return digest if isinstance(digest, str) else ""


def verify(
    store: Store,
    *,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
    anchors: Iterable[tuple[Checkpoint, str | None]] = (),
) -> VerifyReport:
    """Check every chain of ``store`` (blocking; run it in a thread from async code)."""
    return Verifier(store, trusted_keys=trusted_keys, anchors=anchors).run()
