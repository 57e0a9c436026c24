"""The one writer: a thread that turns queued items into committed, chained rows.

It owns one chain (its replica's), keeps the chain head in memory, and per
batch, in one transaction: inserts the events with their hashes, upserts the
sessions they touch, indexes decisions, stores encrypted raw payloads and
moves the chain head. Only after the commit does the in-memory head advance,
so a failed batch leaves no gap. At an interval it signs a checkpoint of the
head. Nothing here runs on the event loop.

What reaches this thread is already text: the recorder encodes each payload
to its canonical JSON on the event loop, at ``record`` time, and takes from
it the few values this thread needs (:func:`facts_of`). Handing the loop's
own dicts across instead, to be encoded and freed here a batch interval
later, cost the gateway more than the encoding does. With a writer that
only dropped its batches, queueing the dicts took about 10% of the
benchmark's throughput and queueing their text about 4%: most likely the
loop's memory, held for a batch interval and then freed on another core,
was no longer recycled while in its cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import and_, case, func, or_, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from warden.audit import crypto, models, schema
from warden.audit.chain import ChainHasher, canonical_text, genesis_hash
from warden.audit.checkpoints import Checkpoint, Signer
from warden.audit.heads import ensure_chain, read_head, register_key
from warden.audit.inbox import Inbox
from warden.audit.sinks import Sink
from warden.audit.store import Store, now_us
from warden.storage.rows import RowInserter

log = logging.getLogger("warden.audit")

Item = tuple[int, str, str | None, str | None, str | bytes, Any, bool]
"""(ts µs, kind, session id, exchange id, data, facts, raw): ``data`` is the
payload's canonical JSON, as text, or as UTF-8 bytes when ``raw`` (to be
sealed); ``facts`` is :func:`facts_of` the payload."""

BatchCallback = Callable[[int, int, bool, frozenset[str]], None]
"""(first item number, last item number, committed, exchange ids of a failed batch)."""

_LRU_SIZE = 65536
_SESSION_COLUMNS = (
    "id",
    "subject",
    "groups",
    "auth_method",
    "user_agent",
    "client_address",
    "connection",
    "connection_type",
    "started_at",
    "ended_at",
    "outcome",
    "exchanges",
)
_session_values = operator.itemgetter(*_SESSION_COLUMNS)
"""A session row's values, as a tuple in column order."""
_EVENT_COLUMNS = (
    "chain_id",
    "seq",
    "ts",
    "kind",
    "session_id",
    "exchange_id",
    "payload",
    "prev_hash",
    "hash",
)


def unrecordable_reason(exc: Exception) -> str:
    """Why a payload has no canonical JSON, for the note recorded in its place."""
    if isinstance(exc, TypeError):
        return str(exc)
    if isinstance(exc, UnicodeError):
        return "text is not valid Unicode (lone surrogate)"
    return "value is not JSON (NaN, infinity or a circular reference)"


def facts_of(kind: str, payload: Any) -> Any:
    """What the writer needs of a payload besides its text: for a ``request``
    who sent it (the session's columns), for an ``end`` its outcome, for a
    ``decision`` its rule, action and flow (the session's decision index);
    ``None`` for any other kind, or a payload that is not an object."""
    if not isinstance(payload, dict):
        return None
    get = payload.get
    if kind == models.REQUEST:
        groups = get("groups")
        return (
            get("subject"),
            tuple(groups) if isinstance(groups, list) else groups,
            get("auth_method"),
            get("user_agent"),
            get("client_address"),
            get("connection"),
            get("connection_type"),
        )
    if kind == models.END:
        return (get("outcome"),)
    if kind == "decision":
        return (
            str(get("rule", ""))[:255],
            str(get("action", ""))[:64],
            str(get("flow", ""))[:16],
        )
    return None


def _clip(value: Any, size: int) -> str | None:
    if value is None:
        return None
    return models.safe_text(str(value), size)


class _Batch:
    __slots__ = ("decisions", "events", "head", "keys", "raw", "sessions")

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        """Rows in :data:`_EVENT_COLUMNS` order."""
        self.sessions: dict[str, dict[str, Any]] = {}
        self.decisions: set[tuple[str, str, str, str]] = set()
        self.raw: list[dict[str, Any]] = []
        self.keys: dict[str, tuple[str, bytes, bytes, str]] = {}
        """session -> (data key id, data key, wrapped data key, KEK id)"""
        self.head: tuple[int, str] = (0, "")


class ChainWriter:
    def __init__(
        self,
        store: Store,
        chain_id: str,
        inbox: Inbox[Item],
        *,
        batch_size: int,
        linger: float,
        signer: Signer | None,
        checkpoint_interval: float,
        key_provider: crypto.KeyProvider | None,
        sinks: Sequence[Sink],
        on_batch: BatchCallback,
        on_take: Callable[[], None],
        retries: int = 3,
    ) -> None:
        self.store = store
        self.chain_id = chain_id
        self.inbox = inbox
        self.batch_size = batch_size
        self.linger = linger
        self.signer = signer
        self.checkpoint_interval = checkpoint_interval
        self.key_provider = key_provider
        self.sinks = tuple(sinks)
        self._event_sinks = tuple(s for s in self.sinks if s.accepts("event"))
        self._checkpoint_sinks = tuple(s for s in self.sinks if s.accepts("checkpoint"))
        self.on_batch = on_batch
        self.on_take = on_take
        self.retries = retries
        self.head: tuple[int, str] = (0, genesis_hash(chain_id))
        self._digest = ChainHasher(chain_id)
        self._checkpointed: tuple[int, str] | None = None
        self._next_checkpoint = 0.0
        self._data_keys: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._seen_decisions: OrderedDict[tuple[str, str, str, str], None] = OrderedDict()
        self._who_cache: OrderedDict[Any, dict[str, Any]] = OrderedDict()
        self._sessions_upsert = self._build_sessions_upsert()
        self._insert_events = RowInserter(store.engine, schema.events.insert(), _EVENT_COLUMNS)
        self._upsert_sessions = RowInserter(store.engine, self._sessions_upsert, _SESSION_COLUMNS)
        self._thread: threading.Thread | None = None
        self.running = False
        self.written = 0
        self.batches = 0
        self.failed_batches = 0
        self.failed_events = 0
        self.errors = 0
        self.checkpoints = 0
        self.last_commit_ms = 0.0

    # -- lifecycle ---------------------------------------------------------

    def prepare(self) -> None:
        """Create the chain row, register the signing key, load the head (blocking)."""
        with self.store.begin_write() as conn:
            ensure_chain(self.store, conn, self.chain_id)
            if self.signer is not None:
                register_key(self.store, conn, self.signer, owner=self.chain_id)
            self.head = read_head(conn, self.chain_id)
        self._checkpointed = self.head
        self._next_checkpoint = time.monotonic() + self.checkpoint_interval

    def start(self) -> None:
        self.running = True
        self._thread = threading.Thread(target=self._run, name="warden-audit-writer", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                idle = max(0.05, min(1.0, self._next_checkpoint - time.monotonic()))
                batch = self.inbox.take(self.batch_size, self.linger, idle)
                if batch:
                    self.on_take()
                    self._commit(batch)
                elif self.inbox.closed and not len(self.inbox):
                    break
                if time.monotonic() >= self._next_checkpoint:
                    self.checkpoint()
            self.checkpoint()
        finally:
            self.running = False

    # -- batches -----------------------------------------------------------

    def _commit(self, batch: list[tuple[int, Item]]) -> None:
        first, last = batch[0][0], batch[-1][0]
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                built = self._build(batch)
                with self.store.engine.begin() as conn:
                    self._write(conn, built)
            except IntegrityError:
                # Another process wrote to this chain (a duplicated instance
                # id, or a purge racing the head): continue from the stored head.
                log.warning("audit chain %s moved under this writer; reloading head", self.chain_id)
                if not self._reload_head() or attempt >= self.retries:
                    break
            except Exception:
                log.exception("audit batch of %d events failed to commit", len(batch))
                if attempt >= self.retries:
                    break
                time.sleep(0.05 * (2**attempt))
            else:
                self.last_commit_ms = (time.perf_counter() - started) * 1000.0
                self.head = built.head
                for session_key, (key_id, key, _wrapped, _kek) in built.keys.items():
                    self._remember(self._data_keys, session_key, (key_id, key))
                for decision in built.decisions:
                    self._remember(self._seen_decisions, decision, None)
                self.written += len(built.events)
                self.batches += 1
                self._notify(first, last, True, frozenset())
                if self._event_sinks:
                    self._publish_events(built)
                return
            attempt += 1
        self.failed_batches += 1
        self.failed_events += len(batch)
        failed = frozenset(item[3] for _, item in batch if item[3] is not None)
        self._notify(first, last, False, failed)

    def _notify(self, first: int, last: int, ok: bool, failed: frozenset[str]) -> None:
        try:
            self.on_batch(first, last, ok, failed)
        except Exception:
            log.exception("audit batch callback failed")

    def _reload_head(self) -> bool:
        try:
            with self.store.engine.connect() as conn:
                self.head = read_head(conn, self.chain_id)
        except Exception:
            log.exception("cannot reload the head of audit chain %s", self.chain_id)
            return False
        return True

    def _build(self, batch: list[tuple[int, Item]]) -> _Batch:
        out = _Batch()
        chain = self.chain_id
        digest_of = self._digest
        seq, prev = self.head
        events = out.events
        for _, (ts, kind, session, exchange, data, facts, raw) in batch:
            seq += 1
            if raw:
                text = canonical_text(self._seal(out, seq, session, kind, data))
                kind = models.RAW
            else:
                text = data  # type: ignore[assignment]
            digest = digest_of(ts, kind, session, exchange, text, prev)
            events.append((chain, seq, ts, kind, session, exchange, text, prev, digest))
            prev = digest
            if session is not None and facts is not None:
                if kind == models.REQUEST:
                    self._session_start(out, session, ts, facts)
                elif kind == models.END:
                    self._session_end(out, session, ts, facts[0])
                elif kind == "decision":
                    key = (session, *facts)
                    if key not in self._seen_decisions:
                        out.decisions.add(key)
        out.head = (seq, prev)
        return out

    def _session_row(self, out: _Batch, session: str, ts: int) -> dict[str, Any]:
        row = out.sessions.get(session)
        if row is None:
            row = out.sessions[session] = {
                "id": session,
                "subject": None,
                "groups": None,
                "auth_method": None,
                "user_agent": None,
                "client_address": None,
                "connection": None,
                "connection_type": None,
                "started_at": ts,
                "ended_at": None,
                "outcome": None,
                "exchanges": 0,
            }
        return row

    def _session_start(self, out: _Batch, session: str, ts: int, who: tuple[Any, ...]) -> None:
        row = self._session_row(out, session, ts)
        row["exchanges"] += 1
        if row["subject"] is None:
            row.update(self._who(who))

    def _who(self, who: tuple[Any, ...]) -> dict[str, Any]:
        """The session columns an exchange's opening ``request`` fills (its
        :func:`facts_of`), cached: the same caller, client and connection
        come back exchange after exchange."""
        key: Any = who
        try:
            found = self._who_cache.get(key)
        except TypeError:  # an unhashable value: not from our recorder
            found, key = None, None
        if found is None:
            subject, groups, auth_method, user_agent, address, connection, connection_type = who
            found = {
                "subject": _clip(subject, 255),
                "groups": json.dumps(groups) if groups is not None else None,
                "auth_method": _clip(auth_method, 64),
                "user_agent": _clip(user_agent, 4096),
                "client_address": _clip(address, 255),
                "connection": _clip(connection, 255),
                "connection_type": _clip(connection_type, 64),
            }
            if key is not None:
                self._remember(self._who_cache, key, found)
        return found

    def _session_end(self, out: _Batch, session: str, ts: int, outcome: Any) -> None:
        row = self._session_row(out, session, ts)
        if row["ended_at"] is None or ts >= row["ended_at"]:
            row["ended_at"] = ts
            row["outcome"] = str(outcome)[:32] if outcome is not None else None

    def _seal(
        self, out: _Batch, seq: int, session: str | None, kind: str, plaintext: str | bytes
    ) -> dict[str, Any]:
        """Encrypt one raw payload (its canonical JSON) with the session's
        data key; the envelope that stands for it in the chain."""
        provider = self.key_provider
        if provider is None:
            return {"of": kind, "unrecordable": "raw recording has no key"}
        session_key = session or ""
        entry = self._data_keys.get(session_key)
        pending = out.keys.get(session_key)
        if pending is not None:
            key_id, key = pending[0], pending[1]
        elif entry is not None:
            key_id, key = entry
        else:
            key = crypto.new_data_key()
            key_id = uuid.uuid4().hex
            out.keys[session_key] = (key_id, key, provider.wrap(key), provider.key_id)
        if isinstance(plaintext, str):
            plaintext = plaintext.encode("utf-8")
        nonce, ciphertext = crypto.encrypt(key, plaintext, crypto.raw_aad(self.chain_id, seq))
        out.raw.append(
            {
                "chain_id": self.chain_id,
                "seq": seq,
                "data_key_id": key_id,
                "nonce": nonce,
                "ciphertext": ciphertext,
            }
        )
        return {
            "of": kind,
            "cipher": crypto.CIPHER,
            "data_key": key_id,
            "kek": provider.key_id,
            "sha256": hashlib.sha256(ciphertext).hexdigest(),
            "size": len(plaintext),
        }

    def _build_sessions_upsert(self) -> Any:
        table = schema.sessions
        stmt = self.store.insert(table)
        new = stmt.excluded
        newer_end = and_(
            new.ended_at.is_not(None),
            or_(table.c.ended_at.is_(None), new.ended_at >= table.c.ended_at),
        )
        keep_first = {
            name: func.coalesce(table.c[name], new[name])
            for name in (
                "subject",
                "groups",
                "auth_method",
                "user_agent",
                "client_address",
                "connection",
                "connection_type",
            )
        }
        return stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={
                **keep_first,
                "exchanges": table.c.exchanges + new.exchanges,
                "started_at": case(
                    (new.started_at < table.c.started_at, new.started_at),
                    else_=table.c.started_at,
                ),
                "ended_at": case((newer_end, new.ended_at), else_=table.c.ended_at),
                "outcome": case((newer_end, new.outcome), else_=table.c.outcome),
            },
        )

    def _write(self, conn: Connection, built: _Batch) -> None:
        if built.keys:
            conn.execute(
                schema.data_keys.insert(),
                [
                    {"id": key_id, "kek_id": kek, "wrapped": wrapped, "created_at": now_us()}
                    for key_id, _key, wrapped, kek in built.keys.values()
                ],
            )
        self._insert_events(conn, built.events)
        if built.raw:
            conn.execute(schema.raw_payloads.insert(), built.raw)
        if built.sessions:
            # Sorted, so replicas sharing sessions lock rows in one order.
            sessions = built.sessions
            self._upsert_sessions(conn, [_session_values(sessions[k]) for k in sorted(sessions)])
        if built.decisions:
            conn.execute(
                self.store.insert(schema.session_decisions).on_conflict_do_nothing(),
                [
                    {"session_id": s, "rule": r, "action": a, "flow": f}
                    for s, r, a, f in sorted(built.decisions)
                ],
            )
        seq, head = built.head
        conn.execute(
            update(schema.chains)
            .where(schema.chains.c.chain_id == self.chain_id)
            .values(head_seq=seq, head_hash=head, updated_at=now_us())
        )

    @staticmethod
    def _remember(lru: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        lru[key] = value
        lru.move_to_end(key)
        if len(lru) > _LRU_SIZE:
            lru.popitem(last=False)

    def _publish_events(self, built: _Batch) -> None:
        records = [
            {
                "type": "event",
                "chain": row[0],
                "seq": row[1],
                "ts": row[2],
                "kind": row[3],
                "session": row[4],
                "exchange": row[5],
                "payload": orjson.loads(row[6]),
                "prev": row[7],
                "hash": row[8],
            }
            for row in built.events
        ]
        for sink in self._event_sinks:
            try:
                sink.publish(records)
            except Exception:
                log.exception("audit sink %r failed", sink)

    # -- checkpoints -------------------------------------------------------

    def checkpoint(self) -> Checkpoint | None:
        """Sign the head if it moved since the last checkpoint (writer thread only)."""
        self._next_checkpoint = time.monotonic() + self.checkpoint_interval
        if self.signer is None or self.head == self._checkpointed or self.head[0] == 0:
            return None
        seq, head = self.head
        point = Checkpoint.sign(self.signer, self.chain_id, seq, head, now_us())
        try:
            with self.store.engine.begin() as conn:
                conn.execute(
                    schema.checkpoints.insert().values(
                        chain_id=point.chain_id,
                        seq=point.seq,
                        hash=point.hash,
                        ts=point.ts,
                        key_id=point.key_id,
                        signature=point.signature,
                    )
                )
        except Exception:
            log.exception("cannot store a checkpoint of audit chain %s", self.chain_id)
            self.errors += 1
            return None
        self._checkpointed = self.head
        self.checkpoints += 1
        if self._checkpoint_sinks:
            record = point.as_record(self.signer.public_pem)
            for sink in self._checkpoint_sinks:
                try:
                    sink.publish([record])
                except Exception:
                    log.exception("audit sink %r failed", sink)
        return point
