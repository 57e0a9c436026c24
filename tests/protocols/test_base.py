"""JSON out of the adapters: compact, UTF-8, lone surrogates kept escaped."""

from __future__ import annotations

import json

from warden.protocols.base import dumps, dumps_bytes


def test_text_other_than_ascii_is_written_as_is() -> None:
    assert dumps({"t": "café ✓"}) == '{"t":"café ✓"}'
    assert dumps_bytes({"t": "café ✓"}) == '{"t":"café ✓"}'.encode()


def test_a_lone_surrogate_stays_escaped() -> None:
    value = {"t": "half \ud83d emoji, café"}
    assert dumps(value) == '{"t":"half \\ud83d emoji, caf\\u00e9"}'
    assert dumps(value).encode() == dumps_bytes(value)
    assert json.loads(dumps_bytes(value)) == value
