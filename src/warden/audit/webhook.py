"""A webhook sink: audit records POSTed as signed JSON, retried, never blocking.

Each POST carries ``{"source": "warden-audit", "sent_at": <µs>, "records":
[...]}`` with the header ``X-Warden-Signature: sha256=<hex>``, the
HMAC-SHA256 of the exact body under the shared secret (check it with
:func:`verify_signature`). ``sent_at`` is inside the signed body, so a
receiver can refuse stale replays.

Batches wait in a bounded queue (the oldest is dropped and counted when it
is full) and one sender thread delivers them in order. A failed delivery
(connection error, 408, 429 or 5xx) is retried with exponential back-off
(``base_delay`` doubling up to ``max_delay``) up to ``max_attempts`` times;
other 4xx answers are not retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Sequence
from typing import Any

SIGNATURE_HEADER = "X-Warden-Signature"
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def sign_body(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str) -> bool:
    return hmac.compare_digest(sign_body(secret, body), header.strip())


class WebhookSink:
    def __init__(
        self,
        url: str,
        secret: bytes | str,
        *,
        types: Sequence[str] = ("event", "checkpoint"),
        max_queue: int = 1000,
        max_attempts: int = 8,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        timeout: float = 10.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("webhook url must be http:// or https://")
        self.url = url
        self._secret = secret.encode("utf-8") if isinstance(secret, str) else secret
        self._types = frozenset(types)
        self._queue: deque[list[dict[str, Any]]] = deque()
        self._max_queue = max_queue
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._timeout = timeout
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._counts = {"sent": 0, "retries": 0, "failed": 0, "dropped": 0}
        self._thread = threading.Thread(target=self._run, name="warden-audit-webhook", daemon=True)
        self._thread.start()

    def accepts(self, record_type: str) -> bool:
        return record_type in self._types

    def publish(self, records: Sequence[dict[str, Any]]) -> None:
        if not records:
            return
        with self._cond:
            if len(self._queue) >= self._max_queue:
                dropped = self._queue.popleft()
                self._counts["dropped"] += len(dropped)
            self._queue.append(list(records))
            self._cond.notify()

    @property
    def metrics(self) -> dict[str, int]:
        with self._cond:
            return dict(self._counts, queued=sum(len(batch) for batch in self._queue))

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued for up to ``timeout`` seconds, then stop."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue and time.monotonic() < deadline:
                self._cond.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        with self._cond:
            while self._queue:
                self._counts["dropped"] += len(self._queue.popleft())

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._queue and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    return
                batch = self._queue[0]
            delivered = self._deliver(batch)
            with self._cond:
                if self._queue and self._queue[0] is batch:
                    self._queue.popleft()
                self._counts["sent" if delivered else "failed"] += len(batch)
                self._cond.notify_all()

    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        body = json.dumps(
            {"source": "warden-audit", "sent_at": time.time_ns() // 1000, "records": batch},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        delay = self._base_delay
        for attempt in range(self._max_attempts):
            if attempt:
                with self._cond:
                    self._counts["retries"] += 1
                if self._stop.wait(delay):
                    return False
                delay = min(delay * 2, self._max_delay)
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: sign_body(self._secret, body),
                    "User-Agent": "warden-audit",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    response.read()
                return True
            except urllib.error.HTTPError as exc:
                exc.close()
                if exc.code not in _RETRY_STATUSES:
                    return False
            except (urllib.error.URLError, OSError, TimeoutError):
                continue
        return False
