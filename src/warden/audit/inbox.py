"""The bounded hand-off between the event loop and the one writer thread.

The producer (the event loop: one thread) calls :meth:`Inbox.put`, which
never blocks: it numbers the item and returns the number, or ``0`` when the
inbox is full (the recorder then drops the item or waits, depending on its
mode). ``put`` takes no lock unless the writer is waiting for it: it runs
twice per exchange on the event loop, and the lock it would take is the one
the writer holds while it cuts a batch. The writer
calls :meth:`Inbox.take` for its next batch: it waits for a first item, then
lingers up to ``linger`` seconds to fill the batch, unless someone asked
for a flush up to an item already queued (strict ``settle`` and admin events
do), so waiting callers are committed without the linger.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Inbox(Generic[T]):
    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: deque[tuple[int, T]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._last_number = 0
        self._flush_upto = 0
        self._wake_at = 0
        """The writer is waiting: wake it when this many items are queued (0: not waiting)."""
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def last_number(self) -> int:
        return self._last_number

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> int:
        """Queue ``item``; its number (from 1 up), or 0 when full or closed.

        From one thread only. Lock-free: appending to a deque is atomic, and
        the writer publishes ``_wake_at`` before it looks at the queue for the
        last time and sleeps, while this appends before it reads ``_wake_at``,
        so either the writer sees the item or this sees the writer waiting
        and wakes it (under the lock, which the writer holds until it sleeps).
        """
        items = self._items
        if self._closed or len(items) >= self.maxsize:
            return 0
        number = self._last_number + 1
        self._last_number = number
        items.append((number, item))
        wake_at = self._wake_at
        if wake_at and len(items) >= wake_at:
            with self._cond:
                self._cond.notify()
        return number

    def flush(self, upto: int) -> None:
        """Ask the writer to commit everything up to item ``upto`` without lingering."""
        with self._cond:
            if upto > self._flush_upto:
                self._flush_upto = upto
                if self._wake_at:
                    self._cond.notify()

    def close(self) -> None:
        """No more items; the writer drains what is queued and stops."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def take(self, max_items: int, linger: float, idle_timeout: float) -> list[tuple[int, T]]:
        """The next batch, oldest first; empty after ``idle_timeout`` or once closed and drained."""
        with self._cond:
            if not self._items and not self._closed:
                self._wake_at = 1
                if not self._items:  # once more, now that put() can see us waiting
                    self._cond.wait(idle_timeout)
                self._wake_at = 0
            if not self._items:
                return []
            deadline = time.monotonic() + linger
            # A full inbox cannot grow: producers are waiting, so never linger then.
            target = min(max_items, self.maxsize)
            while (
                len(self._items) < target
                and not self._closed
                and self._flush_upto < self._items[0][0]
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wake_at = target
                if len(self._items) < target:
                    self._cond.wait(remaining)
                self._wake_at = 0
            count = min(max_items, len(self._items))
            popleft = self._items.popleft
            return [popleft() for _ in range(count)]
