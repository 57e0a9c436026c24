"""Shared test plumbing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from hypothesis import settings

# CI (`.ci/run`) tries the same examples on every run, so its verdict can be
# repeated; elsewhere `make test` keeps exploring with fresh random ones.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def close_sdk_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close every sync SDK client a test made, so no socket outlives its test."""
    made: list[anthropic.Anthropic | openai.OpenAI] = []
    for cls in (anthropic.Anthropic, openai.OpenAI):
        original = cls.__init__

        def init(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> None:
            __original(self, *args, **kwargs)
            made.append(self)

        monkeypatch.setattr(cls, "__init__", init)
    yield
    for client in made:
        client.close()
