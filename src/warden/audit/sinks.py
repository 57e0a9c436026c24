"""Where committed audit records go besides the store.

After each commit the writer hands the new records to every sink: events as
``{"type": "event", "chain", "seq", "ts", "kind", "session", "exchange",
"payload", "prev", "hash"}`` and checkpoints as
:meth:`warden.audit.checkpoints.Checkpoint.as_record`. ``publish`` must
never block the writer: a slow sink queues (bounded) or drops and counts.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol


class Sink(Protocol):
    def accepts(self, record_type: str) -> bool:
        """Whether this sink wants records of ``record_type`` (``event``, ``checkpoint``)."""
        ...

    def publish(self, records: Sequence[dict[str, Any]]) -> None:
        """Take records; must return at once."""
        ...

    def close(self, timeout: float = 5.0) -> None: ...

    @property
    def metrics(self) -> dict[str, int]: ...


class JsonlFileSink:
    """Appends records, one JSON object per line, to a file (checkpoints by default).

    The file is the anchors file ``warden audit verify --anchors`` reads; ship
    it off the host (or point ``path`` at a mount the database's writers
    cannot touch).
    """

    def __init__(self, path: str | os.PathLike[str], *, types: Sequence[str] = ("checkpoint",)):
        self.path = Path(path)
        self._types = frozenset(types)
        self._lock = threading.Lock()
        self._written = 0
        self._failed = 0

    def accepts(self, record_type: str) -> bool:
        return record_type in self._types

    def publish(self, records: Sequence[dict[str, Any]]) -> None:
        lines = "".join(
            json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
            for record in records
        )
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as handle:
                    handle.write(lines)
            except OSError:
                self._failed += len(records)
                return
            self._written += len(records)

    def close(self, timeout: float = 5.0) -> None:
        return None

    @property
    def metrics(self) -> dict[str, int]:
        return {"written": self._written, "failed": self._failed}
