from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warden.audit.chain import (
    ChainHasher,
    canonical_bytes,
    canonical_text,
    event_digest,
    genesis_hash,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


class Color(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [1, 2]}, '{"a":[1,2],"b":1}'),
        ({"z": {"y": None, "x": True}}, '{"z":{"x":true,"y":null}}'),
        ({"text": "héllo ✓"}, '{"text":"héllo ✓"}'),
        ({"ctl": "a\x00b\n"}, '{"ctl":"a\\u0000b\\n"}'),
        ({"f": 0.1, "i": 10**20}, '{"f":0.1,"i":100000000000000000000}'),
        ({"set": {"b", "a"}, "tuple": (1, 2)}, '{"set":["a","b"],"tuple":[1,2]}'),
        ({"enum": Color.RED}, '{"enum":"red"}'),
        ({"bytes": b"\x00\xff"}, '{"bytes":{"$base64":"AP8="}}'),
        (
            {"when": dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)},
            '{"when":"2025-01-02T03:04:05+00:00"}',
        ),
    ],
)
def test_canonical_text(value: object, expected: str) -> None:
    assert canonical_text(value) == expected
    assert canonical_bytes(value) == expected.encode("utf-8")


@pytest.mark.parametrize("value", [{"x": object()}, {"s": "\ud800"}])
def test_canonical_text_refuses_what_json_cannot_hold(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        canonical_text(value)


@given(json_values)
def test_canonical_text_round_trips_and_is_stable(value: object) -> None:
    text = canonical_text(value)
    assert canonical_text(json.loads(text)) == text


@given(json_values)
def test_canonical_text_is_what_the_stock_encoder_writes(value: object) -> None:
    stock = json.JSONEncoder(
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode(value)
    text = canonical_text(value)
    assert json.loads(text) == json.loads(stock)
    if "e-" not in stock:  # only small floats are written differently
        assert text == stock


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.00001, "0.00001"), (1.23e-05, "0.0000123"), (1e-300, "1e-300"), (2.5e-4, "0.00025")],
)
def test_small_floats(value: float, expected: str) -> None:
    assert canonical_text({"x": value}) == '{"x":' + expected + "}"
    assert float(expected) == value


def test_what_orjson_cannot_hold_goes_through_the_standard_encoder() -> None:
    assert canonical_text({"big": 2**70}) == '{"big":' + str(2**70) + "}"
    assert canonical_text({2: "b", 1: "a"}) == '{"1":"a","2":"b"}'
    deep: object = "x"
    for _ in range(300):
        deep = [deep]
    assert canonical_text(deep) == "[" * 300 + '"x"' + "]" * 300


def test_nan_and_infinities_are_written_as_null() -> None:
    assert canonical_text([float("nan"), float("inf"), -float("inf")]) == "[null,null,null]"


def test_a_cycle_is_refused_as_a_value_error() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match=r"(?i)circular"):
        canonical_text({"loop": cycle})


@given(
    chain=st.text(min_size=1, max_size=20),
    ts=st.integers(0, 2**62),
    kind=st.sampled_from(["request", "response.event", "decision", "end", "admin"]),
    session=st.none() | st.text(max_size=20),
    exchange=st.none() | st.text(max_size=20),
    payload=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    prev=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_event_digest_is_sha256_of_the_canonical_document(
    chain: str,
    ts: int,
    kind: str,
    session: str | None,
    exchange: str | None,
    payload: dict[str, object],
    prev: str,
) -> None:
    document = {
        "chain": chain,
        "exchange": exchange,
        "kind": kind,
        "payload": payload,
        "prev": prev,
        "session": session,
        "ts": ts,
        "v": 1,
    }
    expected = hashlib.sha256(canonical_bytes(document)).hexdigest()
    assert event_digest(chain, ts, kind, session, exchange, canonical_text(payload), prev) == (
        expected
    )


@given(
    chain=st.text(min_size=1, max_size=20),
    events=st.lists(
        st.tuples(
            st.integers(0, 2**62),
            st.sampled_from(["request", "end", "admin"]) | st.text(max_size=8),
            st.none() | st.text(max_size=20),
            st.none() | st.text(max_size=20),
            st.dictionaries(st.text(max_size=8), json_values, max_size=3),
            st.text(max_size=70),
        ),
        max_size=6,
    ),
)
def test_a_chain_hasher_gives_the_event_digest(
    chain: str, events: list[tuple[int, str, str | None, str | None, dict[str, object], str]]
) -> None:
    hasher = ChainHasher(chain)
    for ts, kind, session, exchange, payload, prev in events:
        text = canonical_text(payload)
        assert hasher(ts, kind, session, exchange, text, prev) == event_digest(
            chain, ts, kind, session, exchange, text, prev
        )


def test_every_field_changes_the_digest() -> None:
    base = ("c", 1, "request", "s", "x", '{"a":1}', "0" * 64)
    digests = {event_digest(*base)}
    for index, other in enumerate(("d", 2, "end", "t", "y", '{"a":2}', "1" * 64)):
        changed = list(base)
        changed[index] = other
        digests.add(event_digest(*changed))
    assert len(digests) == 8


def test_genesis_differs_per_chain() -> None:
    assert genesis_hash("a") != genesis_hash("b")
    assert len(genesis_hash("a")) == 64
