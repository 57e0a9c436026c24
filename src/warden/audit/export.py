"""Exporting events for SIEMs: JSON Lines or CSV.

Each line (row) is one event with its session's subject and connection.
JSONL objects hold: ``id, chain, seq, ts`` (ISO 8601 UTC), ``ts_us``,
``kind, session, exchange, subject, connection, payload`` (the masked
payload as an object), ``prev_hash, hash``. CSV has the columns in
:data:`CSV_COLUMNS`: the same fields, ``payload`` as compact JSON, plus
``rule``, ``action``, ``flow`` (decision events) and ``outcome`` (end
events) pulled out for filtering. A CSV cell that starts with ``=``, ``+``,
``-``, ``@``, tab or carriage return is prefixed with ``'`` so spreadsheet
tools do not evaluate it (OWASP's advice against formula injection).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from warden.audit import models

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "id",
    "chain",
    "seq",
    "ts",
    "ts_us",
    "session",
    "exchange",
    "subject",
    "connection",
    "kind",
    "rule",
    "action",
    "flow",
    "outcome",
    "payload",
    "prev_hash",
    "hash",
)
Row = tuple[models.EventInfo, str | None, str | None]


def record(event: models.EventInfo, subject: str | None, connection: str | None) -> dict[str, Any]:
    out = event.as_dict()
    out["subject"] = subject
    out["connection"] = connection
    return out


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_row(event: models.EventInfo, subject: str | None, connection: str | None) -> list[Any]:
    payload = event.payload if isinstance(event.payload, dict) else {}
    decision = event.kind == "decision"
    values: dict[str, Any] = {
        **record(event, subject, connection),
        "rule": payload.get("rule", "") if decision else "",
        "action": payload.get("action", "") if decision else "",
        "flow": payload.get("flow", "") if decision else "",
        "outcome": payload.get("outcome", "") if event.kind == "end" else "",
        "payload": event.payload_text,
    }
    return [_cell("" if values[c] is None else values[c]) for c in CSV_COLUMNS]


def iter_lines(rows: Iterable[Row], fmt: str) -> Iterator[str]:
    """The export as text chunks (one line each; the CSV header first)."""
    if fmt == "jsonl":
        for event, subject, connection in rows:
            yield json.dumps(record(event, subject, connection), ensure_ascii=False) + "\n"
        return
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r}: use jsonl or csv")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for event, subject, connection in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(csv_row(event, subject, connection))
        yield buffer.getvalue()


def write(rows: Iterable[Row], fmt: str, out: TextIO) -> int:
    """Write the export to ``out``; the number of events written."""
    count = -1 if fmt == "csv" else 0
    for chunk in iter_lines(rows, fmt):
        out.write(chunk)
        count += 1
    return max(count, 0)
