from __future__ import annotations

import datetime as dt

import pytest

from warden.audit.models import format_us, parse_time

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01T10:00", dt.datetime(2025, 6, 1, 10, 0, tzinfo=dt.UTC)),
        ("2025-06-01T10:00:00Z", dt.datetime(2025, 6, 1, 10, 0, tzinfo=dt.UTC)),
        ("2025-06-01T12:00:00+02:00", dt.datetime(2025, 6, 1, 10, 0, tzinfo=dt.UTC)),
        ("2025-06-01", dt.datetime(2025, 6, 1, tzinfo=dt.UTC)),
        ("90m", NOW - dt.timedelta(minutes=90)),
        ("2h", NOW - dt.timedelta(hours=2)),
        ("7d", NOW - dt.timedelta(days=7)),
        ("1w", NOW - dt.timedelta(weeks=1)),
    ],
)
def test_parse_time(text: str, expected: dt.datetime) -> None:
    assert parse_time(text, now=NOW) == int(expected.timestamp() * 1_000_000)


def test_parse_time_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_time("yesterday")


def test_format_us() -> None:
    assert format_us(int(NOW.timestamp() * 1_000_000)) == "2025-06-01T12:00:00.000Z"
    assert format_us(None) == ""
