"""Structured JSON logs: one object per line, no payloads, no credentials.

Log records carry only what is passed in ``extra={"fields": {...}}``; the
callers pass identifiers, counts and durations, never content.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import re
import sys
import threading
import time
from collections import deque
from typing import Any, TextIO

import orjson

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
# Dataclasses and datetimes go to ``str``, as with the standard encoder.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def _line(out: dict[str, Any]) -> str:
    """One JSON line. orjson writes it at a tenth of the standard encoder's
    cost (every exchange logs a line, on a thread that shares the
    interpreter lock with the event loop); characters beyond ASCII are then
    escaped (``\\u``, as the standard encoder does), so lines stay ASCII.
    A value orjson cannot hold (an integer beyond 64 bits) sends the line
    through the standard encoder. Either way an infinite float is written
    as ``null``: the standard encoder's ``Infinity`` is not JSON."""
    try:
        raw = orjson.dumps(out, default=str, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a big int, a key that is not a str
        return _ENCODER.encode(_finite(out))
    if raw.isascii():
        return raw.decode("ascii")
    # Outside ASCII means inside a string, where any character may be escaped.
    return _NON_ASCII.sub(_escape, raw.decode("utf-8"))


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _finite(value: Any) -> Any:
    """``value`` with every infinite or NaN float as ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # one strftime a second, not one a line
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        out: dict[str, Any] = {
            "ts": f"{self._stamp}.{int(record.msecs):03d}Z",
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
        return _line(out)


def _where(tb: Any) -> str:
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return ""
    code = last.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{last.tb_lineno} in {code.co_name}"


class LineWriter:
    """Formats and writes log records on its own thread, a batch at a time.

    ``put`` (the event loop's side) only appends to a deque: no lock, no
    wake-up. The thread wakes every ``interval`` seconds, formats what
    arrived and writes it with one ``write``. Waking a thread per record
    costs the loop more than the record itself (a GIL hand-over each time);
    this way a busy gateway pays for one hand-over per interval. A slow
    terminal or pipe stalls only this thread, never the loop.
    """

    def __init__(
        self, stream: TextIO, formatter: logging.Formatter, *, interval: float = 0.1
    ) -> None:
        self.stream = stream
        self.formatter = formatter
        self.interval = interval
        self._records: deque[logging.LogRecord] = deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="warden-log-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, record: logging.LogRecord) -> None:
        self._records.append(record)

    def stop(self) -> None:
        """Write what is queued and stop (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)
        self.drain()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.drain()

    def drain(self) -> None:
        records = self._records
        lines: list[str] = []
        while records:
            try:
                record = records.popleft()
            except IndexError:  # drained concurrently (stop() after the thread)
                break
            try:
                lines.append(self.formatter.format(record))
            except Exception:  # a log line must never take the writer down
                lines.append(json.dumps({"level": "error", "msg": "unformattable log record"}))
        if not lines:
            return
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # closed stream at exit
            pass


_writer: LineWriter | None = None


def setup_logging(level: str = "info", *, interval: float = 0.1) -> None:
    """JSON lines on stderr, formatted and written by a background thread in
    batches (see :class:`LineWriter`)."""
    global _writer
    if _writer is not None:
        _writer.stop()
    _writer = LineWriter(sys.stderr, JsonFormatter(), interval=interval)
    _writer.start()
    atexit.register(_writer.stop)
    # What the formatter never prints, records need not collect: the
    # caller's frame (a stack walk per record), thread and process names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [_DeferredHandler(_writer)]
    root.setLevel(level.upper())
    # aiohttp's access log would print paths and queries; ours is structured.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class _DeferredHandler(logging.Handler):
    """Hands records to the :class:`LineWriter` as they are; formatting
    happens on its thread, not on the event loop."""

    def __init__(self, writer: LineWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None:
            # Keep only what the formatter prints; tracebacks hold frames.
            exc = record.exc_info[1]
            fields = dict(record.__dict__.get("fields") or {})
            fields.setdefault("error", f"{type(exc).__name__}: {exc}")
            fields.setdefault("where", _where(record.exc_info[2]))
            record.__dict__["fields"] = fields
            record.exc_info = None
            record.exc_text = None
        # Arguments are merged now: they may be mutated after the call.
        record.msg = record.getMessage()
        record.args = None
        self.writer.put(record)


def log_fields(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    logger.log(level, msg, extra={"fields": fields})
