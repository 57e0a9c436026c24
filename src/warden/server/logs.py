"""Structured JSON logs: one object per line, no payloads, no credentials.

Log records carry only what is passed in ``extra={"fields": {...}}``; the
callers pass identifiers, counts and durations, never content.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
import time
from typing import Any

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = record.__dict__.get("fields")
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            # Type and message only: a traceback's locals could hold content.
            exc = record.exc_info[1]
            out["error"] = f"{type(exc).__name__}: {exc}"
            out["where"] = _where(record.exc_info[2])
        return json.dumps(out, separators=(",", ":"), default=str)


def _where(tb: Any) -> str:
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    code = last.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{last.tb_lineno} in {code.co_name}"


_listener: logging.handlers.QueueListener | None = None


def setup_logging(level: str = "info") -> None:
    """JSON lines on stderr, formatted and written by a background thread so
    a slow terminal or pipe never stalls the event loop."""
    global _listener
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    if _listener is not None:
        _listener.stop()
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, handler)
    _listener.start()
    atexit.register(_listener.stop)
    root = logging.getLogger()
    root.handlers[:] = [_FieldsQueueHandler(records)]
    root.setLevel(level.upper())
    # aiohttp's access log would print paths and queries; ours is structured.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class _FieldsQueueHandler(logging.handlers.QueueHandler):
    """Hands records over as they are; formatting happens on the listener's
    thread (the stock QueueHandler would format here, on the event loop)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.exc_info and record.exc_info[0] is not None:
            # Keep only what the formatter prints; tracebacks hold frames.
            exc = record.exc_info[1]
            fields = dict(record.__dict__.get("fields") or {})
            fields.setdefault("error", f"{type(exc).__name__}: {exc}")
            fields.setdefault("where", _where(record.exc_info[2]))
            record.__dict__["fields"] = fields
            record.exc_info = None
            record.exc_text = None
        return record


def log_fields(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    logger.log(level, msg, extra={"fields": fields})
