"""The log writer: JSON lines, written in batches off the event loop."""

from __future__ import annotations

import io
import json
import logging
import math
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from warden.server.logs import JsonFormatter, LineWriter, _DeferredHandler


def _logger(writer: LineWriter) -> logging.Logger:
    logger = logging.getLogger("warden.test-logs")
    logger.handlers[:] = [_DeferredHandler(writer)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_records_are_written_as_json_lines_in_order_by_stop() -> None:
    out = io.StringIO()
    writer = LineWriter(out, JsonFormatter(), interval=60)  # never wakes by itself here
    writer.start()
    logger = _logger(writer)
    items = ["a"]
    logger.info("first %s", items, extra={"fields": {"exchange": "ex_1", "ms": 1.5}})
    items.append("mutated after the call")
    logger.warning("second")
    assert out.getvalue() == ""  # nothing written on the caller's thread
    writer.stop()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == ["first ['a']", "second"]
    assert lines[0]["exchange"] == "ex_1" and lines[0]["ms"] == 1.5
    assert lines[1]["level"] == "warning"
    writer.stop()  # idempotent


def test_exceptions_keep_type_and_place_but_no_traceback() -> None:
    out = io.StringIO()
    writer = LineWriter(out, JsonFormatter(), interval=60)
    writer.start()
    logger = _logger(writer)
    secret = "sk-live-do-not-log"
    try:
        _ = {"key": secret}
        raise ValueError("bad input")
    except ValueError:
        logger.exception("it failed")
    writer.stop()
    line = json.loads(out.getvalue())
    assert line["error"] == "ValueError: bad input"
    assert line["where"].startswith("test_logs.py:")
    assert secret not in out.getvalue()


def test_the_thread_writes_batches_at_its_interval() -> None:
    out = io.StringIO()
    writer = LineWriter(out, JsonFormatter(), interval=0.01)
    writer.start()
    logger = _logger(writer)
    for n in range(100):
        logger.info("line %d", n)
    for _ in range(500):
        if out.getvalue().count("\n") == 100:
            break
        writer._stop.wait(0.01)
    assert out.getvalue().count("\n") == 100
    writer.stop()


def test_timestamps_follow_each_record_across_seconds() -> None:
    formatter = JsonFormatter()
    stamps = []
    for second, msecs in (
        (1_700_000_000, 123),
        (1_700_000_000, 987),
        (1_700_000_001, 4),
        (1_699_999_999, 500),
    ):
        record = logging.LogRecord("warden.test", logging.INFO, __file__, 1, "m", None, None)
        record.created = second + msecs / 1000
        record.msecs = msecs
        stamps.append(json.loads(formatter.format(record))["ts"])
    assert stamps == [
        "2023-11-14T22:13:20.123Z",
        "2023-11-14T22:13:20.987Z",
        "2023-11-14T22:13:21.004Z",
        "2023-11-14T22:13:19.500Z",
    ]


@given(
    st.dictionaries(
        st.text(max_size=10),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=20)
        | st.lists(st.integers(-5, 5), max_size=3),
        max_size=6,
    )
)
@example({"": float("inf"), "z": "\u00e9"})  # infinite, and a line to escape
def test_a_line_holds_what_the_standard_encoder_would_write(fields: dict[str, Any]) -> None:
    """orjson writes the common line; the values read back are the standard
    encoder's, except that an infinite float is written as ``null`` (valid
    JSON, where the standard encoder writes ``Infinity``), and a line stays
    ASCII whatever the fields hold."""
    record = logging.LogRecord("warden.exchange", logging.INFO, "", 0, "exchange", None, None)
    record.fields = fields
    line = JsonFormatter().format(record)
    assert line.isascii()
    parsed = json.loads(line)
    for key in ("ts", "level", "logger", "msg"):
        parsed.pop(key)
        fields.pop(key, None)
    finite = {k: None if isinstance(v, float) and math.isinf(v) else v for k, v in fields.items()}
    assert parsed == json.loads(json.dumps(finite))
