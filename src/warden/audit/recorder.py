"""The recorder: the pipeline's :class:`warden.pipeline.record.Recorder`, backed by the store.

``record`` puts an item in a bounded inbox and returns; one writer thread
(:mod:`warden.audit.writer`) commits batches. Two modes:

* ``best-effort``: ``record`` never waits; when the inbox is full the event
  is dropped and counted (``metrics["dropped"]``). ``settle`` returns at once.
* ``strict``: nothing is dropped. ``record`` waits for room (back-pressure);
  ``settle(exchange)`` waits until every event recorded so far for the
  exchange is committed and raises :class:`RecordingFailed` when one could
  not be (or not within ``settle_timeout``).

Every exchange opens with a ``request`` event that carries who made it
(identity, client, connection) beside what was asked, so who did what is
inside the hash chain, not only in the sessions table. The recorder adds the
identity to the exchange's first ``request``; when something else comes
first (an error before the request was read), it opens the exchange with a
``request`` event of identity alone. ``admin_event`` always waits for its commit
and raises :class:`RecordingFailed` if it cannot be stored, in both modes.

``record`` encodes the payload to its canonical JSON at once, on the event
loop, and queues that text: the payload is the caller's from then on, and
the writer thread never touches the loop's objects (why, in
:mod:`warden.audit.writer`). A payload that is not JSON is recorded as a
note saying why, and counted in ``metrics["errors"]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from warden.audit import models
from warden.audit.chain import canonical_bytes, canonical_text
from warden.audit.checkpoints import load_or_create_signer
from warden.audit.crypto import KeyProvider
from warden.audit.inbox import Inbox
from warden.audit.models import safe_text
from warden.audit.sinks import Sink
from warden.audit.store import Store, now_us
from warden.audit.writer import ChainWriter, Item, facts_of, unrecordable_reason
from warden.pipeline.record import Recorder as PipelineRecorder
from warden.pipeline.record import RecordingFailed, RecordKind
from warden.pipeline.types import Exchange

Mode = Literal["best-effort", "strict"]
_MAX_OPEN_EXCHANGES = 65536
_ID_SIZE = 255


class AuditLog(Protocol):
    """Where administrative actions are recorded (the recorder implements it)."""

    async def admin_event(self, kind: str, actor: str, payload: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class _Pending:
    session: str
    """The exchange's session id, cleaned once."""
    last: int = 0
    failed: bool = False
    ended: bool = False


def _clean_id(value: str) -> str:
    if len(value) <= _ID_SIZE and value.isascii() and value.isprintable():
        return value
    return safe_text(value, _ID_SIZE)


def exchange_payload(exchange: Exchange) -> dict[str, Any]:
    """Who called, from where, over which connection: the opening of an exchange."""
    identity = exchange.identity
    payload: dict[str, Any] = {
        "subject": identity.subject,
        "groups": sorted(identity.groups),
        "auth_method": identity.auth_method,
        "connection": exchange.connection,
        "connection_type": exchange.connection_type,
        "operation": exchange.operation,
        "streaming": exchange.streaming,
        "client_address": exchange.client_address,
        "user_agent": exchange.user_agent,
    }
    if identity.display_name:
        payload["display_name"] = identity.display_name
    return payload


class Recorder:
    """Records exchanges and admin events into the store, one chain per instance."""

    def __init__(
        self,
        store: Store,
        *,
        mode: Mode = "best-effort",
        instance_id: str,
        batch_interval: float = 0.2,
        queue_size: int = 10000,
        raw_key: KeyProvider | None = None,
        batch_size: int = 2000,
        checkpoint_interval: float = 60.0,
        sign_checkpoints: bool = True,
        sinks: Sequence[Sink] = (),
        settle_timeout: float = 30.0,
    ) -> None:
        if mode not in ("best-effort", "strict"):
            raise ValueError(f"recording mode must be 'best-effort' or 'strict', not {mode!r}")
        if not 0 < batch_interval <= 1.0:
            raise ValueError("batch_interval must be in (0, 1] seconds")
        self.store = store
        self.mode: Mode = mode
        self.strict = mode == "strict"
        self.chain_id = safe_text(instance_id, 128)
        self.raw_key = raw_key
        self.settle_timeout = settle_timeout
        self._sinks = tuple(sinks)
        self._sign = sign_checkpoints
        self._inbox: Inbox[Item] = Inbox(queue_size)
        self._writer = ChainWriter(
            store,
            self.chain_id,
            self._inbox,
            batch_size=batch_size,
            linger=batch_interval,
            signer=None,
            checkpoint_interval=checkpoint_interval,
            key_provider=raw_key,
            sinks=self._sinks,
            on_batch=self._batch_done_threadsafe,
            on_take=self._space_freed_threadsafe,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exchanges: OrderedDict[str, _Pending] = OrderedDict()
        self._waiters: list[tuple[int, int, asyncio.Future[bool]]] = []
        self._tiebreak = itertools.count()
        self._processed = 0
        self._space: asyncio.Event | None = None
        self._space_wanted = False
        self._dropped = 0
        self._unrecordable = 0
        self._started = False
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Load the chain head (and the signing key) and start the writer thread."""
        if self._started:
            return
        self._loop = asyncio.get_running_loop()
        self._space = asyncio.Event()
        if self._sign:
            self._writer.signer = await asyncio.to_thread(
                load_or_create_signer, self.store.state_dir
            )
        await asyncio.to_thread(self._writer.prepare)
        self._writer.start()
        self._started = True

    async def stop(self) -> None:
        """Drain the inbox, sign a last checkpoint, stop the writer and the sinks."""
        if self._stopped:
            return
        self._stopped = True
        self._inbox.close()
        if self._started:
            await asyncio.to_thread(self._writer.join)
        # The writer's last notifications were queued on the loop before the
        # join finished, so they ran already: what is still waiting failed.
        for _, _, future in self._waiters:
            if not future.done():
                future.set_result(False)
        self._waiters.clear()
        if self._space is not None:
            self._space.set()
        for sink in self._sinks:
            await asyncio.to_thread(sink.close)

    async def __aenter__(self) -> Recorder:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def raw_enabled(self) -> bool:
        return self.raw_key is not None

    @property
    def metrics(self) -> dict[str, Any]:
        writer = self._writer
        dropped = self._dropped + (0 if self.strict else writer.failed_events)
        return {
            "mode": self.mode,
            "chain": self.chain_id,
            "queued": len(self._inbox),
            "written": writer.written,
            "dropped": dropped,
            "batches": writer.batches,
            "failed_batches": writer.failed_batches,
            "failed_events": writer.failed_events,
            "last_commit_ms": round(writer.last_commit_ms, 3),
            "errors": writer.errors + self._unrecordable,
            "checkpoints": writer.checkpoints,
            "head_seq": writer.head[0],
        }

    # -- the pipeline's Recorder protocol ------------------------------------

    async def record(
        self, exchange: Exchange, kind: RecordKind | str, payload: dict[str, Any]
    ) -> None:
        """Queue one event of ``exchange`` (``payload`` is encoded before this returns)."""
        if self.strict or exchange.state.get("recording") == "strict":
            await self._record_waiting(exchange, str(kind), payload, raw=False)
        else:
            self._record_now(exchange, str(kind), payload, raw=False)

    async def record_raw(
        self, exchange: Exchange, kind: RecordKind | str, payload: dict[str, Any]
    ) -> None:
        """Queue the *unmasked* payload of one step, encrypted at rest.

        Only for deployments that turned raw recording on (``raw_key`` set);
        it is a programming error otherwise. The chain gets a ``raw`` event
        naming the step's kind and the ciphertext's digest; only an auditor
        can reveal the content (``warden audit reveal``).
        """
        if self.raw_key is None:
            raise RuntimeError("raw recording is off: the recorder has no raw_key")
        if self.strict_for(exchange):
            await self._record_waiting(exchange, str(kind), payload, raw=True)
        else:
            self._record_now(exchange, str(kind), payload, raw=True)

    async def settle(self, exchange: Exchange) -> None:
        """Strict mode: wait until the exchange's events are committed."""
        if not self.strict_for(exchange):
            return
        exchange_id = _clean_id(exchange.id)
        state = self._exchanges.get(exchange_id)
        # An exchange we no longer track: wait for everything queued so far.
        target = state.last if state is not None else self._inbox.last_number
        if state is not None and state.failed:
            raise RecordingFailed(f"the audit events of exchange {exchange.id} were not stored")
        if target > self._processed:
            ok = await self._wait_for(target)
            if not ok and state is None:
                raise RecordingFailed(f"the audit events of exchange {exchange.id} were not stored")
        if state is not None:
            if state.failed:
                raise RecordingFailed(f"the audit events of exchange {exchange.id} were not stored")
            if state.ended and state.last <= self._processed:
                self._exchanges.pop(exchange_id, None)

    # -- admin events ------------------------------------------------------

    async def admin_event(self, kind: str, actor: str, payload: dict[str, Any]) -> None:
        """Record an administrative action in this replica's chain and wait for
        its commit: config reloads, token issuance, approvals, reveals, policy
        changes. Raises :class:`RecordingFailed` if it cannot be stored."""
        document = {"action": kind, "actor": actor, "details": payload}
        text = canonical_text(document)  # fail here, in the caller, if it is not JSON
        item: Item = (now_us(), models.ADMIN, None, None, text, None, False)
        number = await self._put(item)
        if not await self._wait_for(number):
            raise RecordingFailed(f"admin event {kind!r} was not stored")

    # -- internals ---------------------------------------------------------

    def strict_for(self, exchange: Exchange) -> bool:
        """Strict for this exchange: the recorder's mode, or the exchange's
        policy asking for it (``exchange.state["recording"] == "strict"``)."""
        return self.strict or exchange.state.get("recording") == "strict"

    def _open(
        self, exchange: Exchange, exchange_id: str, kind: str, payload: Any, raw: bool
    ) -> tuple[_Pending, dict[str, Any], bool]:
        """Track a new exchange; its opening ``request`` payload, and whether
        the event being recorded is merged into it (it is the request)."""
        state = self._exchanges[exchange_id] = _Pending(_clean_id(exchange.session_id))
        if len(self._exchanges) > _MAX_OPEN_EXCHANGES:
            self._exchanges.popitem(last=False)
        opening = exchange_payload(exchange)
        # One event, not two, when the first is the request: it carries its caller.
        merged = kind == models.REQUEST and not raw and isinstance(payload, dict)
        if merged:
            opening.update(payload)
        return state, opening, merged

    def _item(
        self, ts: int, kind: str, session: str, exchange_id: str, payload: Any, raw: bool
    ) -> Item:
        """One event for the writer: the payload's canonical JSON (bytes, to be
        sealed, when ``raw``) and its :func:`facts_of`; or, when it has none,
        a note saying why in its place."""
        try:
            if raw:
                return (ts, kind, session, exchange_id, canonical_bytes(payload), None, True)
            text = canonical_text(payload)
        except (TypeError, ValueError) as exc:
            # Not JSON, NaN, or a lone surrogate: keep the event, say why.
            self._unrecordable += 1
            payload = {"unrecordable": unrecordable_reason(exc)}
            if raw:
                payload = {"of": kind, **payload}
                kind = models.RAW
            text = canonical_text(payload)
        return (ts, kind, session, exchange_id, text, facts_of(kind, payload), False)

    def _record_now(self, exchange: Exchange, kind: str, payload: Any, *, raw: bool) -> None:
        """Best-effort: queue the event, or drop and count it; never waits.
        Synchronous: it runs for every event of every exchange on the loop."""
        ts = now_us()
        exchange_id = _clean_id(exchange.id)
        exchanges = self._exchanges
        state = exchanges.get(exchange_id)
        if state is None:
            state, opening, merged = self._open(exchange, exchange_id, kind, payload, raw)
            number = self._put_now(
                self._item(ts, models.REQUEST, state.session, exchange_id, opening, False)
            )
            if not number:
                exchanges.pop(exchange_id, None)
                return
            state.last = number
            if merged:
                return
        number = self._put_now(self._item(ts, kind, state.session, exchange_id, payload, raw))
        if number:
            state.last = number
        if kind == models.END:
            exchanges.pop(exchange_id, None)

    async def _record_waiting(
        self, exchange: Exchange, kind: str, payload: Any, *, raw: bool
    ) -> None:
        """Strict: wait for room in the inbox rather than drop the event."""
        ts = now_us()
        exchange_id = _clean_id(exchange.id)
        state = self._exchanges.get(exchange_id)
        if state is None:
            state, opening, merged = self._open(exchange, exchange_id, kind, payload, raw)
            number = await self._put(
                self._item(ts, models.REQUEST, state.session, exchange_id, opening, False)
            )
            state.last = number
            if merged:
                return
        number = await self._put(self._item(ts, kind, state.session, exchange_id, payload, raw))
        state.last = max(state.last, number)
        if kind == models.END:
            state.ended = True

    def _put_now(self, item: Item) -> int:
        number = self._inbox.put(item)
        if not number:
            self._dropped += 1
        return number

    async def _put(self, item: Item) -> int:
        """Queue ``item``, waiting for room; raises when it never can be."""
        number = self._inbox.put(item)
        if number:
            return number
        if self._inbox.closed or (self._started and not self._writer.running):
            raise RecordingFailed("the audit recorder is not running")
        space = self._space
        if space is None:
            raise RecordingFailed("the audit recorder was not started")
        while True:
            space.clear()
            self._space_wanted = True
            number = self._inbox.put(item)
            if number:
                return number
            if self._inbox.closed or not self._writer.running:
                raise RecordingFailed("the audit recorder is not running")
            await space.wait()

    async def _wait_for(self, target: int) -> bool:
        if target <= self._processed:
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        heapq.heappush(self._waiters, (target, next(self._tiebreak), future))
        self._inbox.flush(target)
        try:
            return await asyncio.wait_for(future, self.settle_timeout)
        except TimeoutError:
            raise RecordingFailed(
                f"the audit store did not commit within {self.settle_timeout:g}s"
            ) from None

    def _space_freed_threadsafe(self) -> None:
        if self._space_wanted and self._loop is not None and self._space is not None:
            self._space_wanted = False
            with contextlib.suppress(RuntimeError):  # the loop is closed
                self._loop.call_soon_threadsafe(self._space.set)

    def _batch_done_threadsafe(
        self, first: int, last: int, ok: bool, failed: frozenset[str]
    ) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed
            self._loop.call_soon_threadsafe(self._batch_done, first, last, ok, failed)

    def _batch_done(self, first: int, last: int, ok: bool, failed: frozenset[str]) -> None:
        self._processed = max(self._processed, last)
        if not ok:
            for exchange_id in failed:
                state = self._exchanges.get(exchange_id)
                if state is not None:
                    state.failed = True
        waiters = self._waiters
        while waiters and waiters[0][0] <= last:
            target, _, future = heapq.heappop(waiters)
            if not future.done():
                future.set_result(ok or target < first)
        if self._space is not None and self._space_wanted:
            self._space_wanted = False
            self._space.set()


if TYPE_CHECKING:

    def _implements_the_pipeline_contract(recorder: Recorder) -> PipelineRecorder:
        return recorder
