"""Reading config files: interpolation, validation, located errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from warden.config.loader import ConfigError, interpolate, load_config, parse_config

BASE = """
connections:
  claude:
    type: anthropic
    upstream: https://api.anthropic.com
    credential: {env: ANTHROPIC_API_KEY}
"""


@pytest.mark.parametrize(
    ("text", "env", "expected", "missing"),
    [
        ("${A}", {"A": "1"}, "1", []),
        ("${A}", {}, "", ["A"]),
        ("${A:-x}", {}, "x", []),
        ("${A:-x}", {"A": ""}, "x", []),
        ("${A-x}", {"A": ""}, "", []),
        ("${A-x}", {}, "x", []),
        ("a$${A}b", {"A": "1"}, "a${A}b", []),
        ("${A}:${B:-8080}", {"A": "h"}, "h:8080", []),
        ("no vars", {}, "no vars", []),
    ],
)
def test_interpolate(text: str, env: dict[str, str], expected: str, missing: list[str]) -> None:
    assert interpolate(text, env) == (expected, missing)


def test_quickstart_loads_with_its_defaults() -> None:
    config = load_config(Path("examples/quickstart.yaml"), env={})
    assert config.listen == "127.0.0.1:8080"
    assert {n: c.type.value for n, c in config.connections.items()} == {
        "claude": "anthropic",
        "openai": "openai",
    }
    assert config.token_hashes == {}


def test_tokens_are_kept_only_as_hashes() -> None:
    text = BASE + "tokens:\n  - {name: ci, subject: ci, env: TOK}\n"
    config = parse_config(text, env={"TOK": "raw-token"})
    assert list(config.token_hashes) == [hashlib.sha256(b"raw-token").hexdigest()]
    assert "raw-token" not in repr(config)


def test_interpolated_scalars_are_typed() -> None:
    text = BASE + "shutdown_grace: ${GRACE:-5}\n"
    assert parse_config(text, env={}).shutdown_grace == 5.0


def problems(text: str, env: dict[str, str] | None = None) -> list[tuple[str, int | None, str]]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file="w.yaml", env=env or {})
    return [(p.path, p.line, p.message) for p in caught.value.problems]


def test_every_problem_is_reported_with_its_line() -> None:
    text = """listen: ${NOPE}
connections:
  bad:
    type: nope
    upstream: ftp://x
  ok:
    type: openai
    upstream: http://x
    credential: {env: A, file: b}
    colour: blue
"""
    found = problems(text)
    paths = {(path, line) for path, line, _ in found}
    assert ("listen", 1) in paths
    assert ("connections.bad.type", 4) in paths
    assert ("connections.bad.upstream", 5) in paths
    assert ("connections.ok.credential", 9) in paths
    assert ("connections.ok.colour", 10) in paths
    assert any("NOPE is not set" in message for _, _, message in found)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("[1, 2]", "mapping"),
        ("connections: {a: 1\n", "YAML"),
        ("connections: {}\n", "at least one connection"),
        ("a: 1\na: 2\nconnections: {}\n", "duplicate key"),
        (BASE + "    policy: strict\n", "unknown policy"),
        (BASE.replace("claude:", "Claude:"), "lowercase"),
        (BASE.replace("claude:", "admin:"), "taken by the gateway's own /admin routes"),
        (BASE.replace("claude:", "metrics:"), "taken by the gateway's own /metrics routes"),
        (BASE.replace("credential: {env: ANTHROPIC_API_KEY}", ""), "credential is required"),
        (BASE + "tokens:\n  - {name: a, subject: a, sha256: abc}\n", "64 lowercase hex"),
    ],
)
def test_bad_configs_say_why(text: str, fragment: str) -> None:
    messages = " ".join(message for _, _, message in problems(text))
    assert fragment in messages


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.yaml")
    assert "cannot read" in str(caught.value)


def test_policy_group_overrides() -> None:
    text = (
        BASE
        + """policies:
  default:
    groups: {contractors: strict}
  strict:
    recording: strict
"""
    )
    config = parse_config(text, env={})
    assert config.policy_for("claude", frozenset({"contractors"})).recording.value == "strict"
    assert config.policy_for("claude", frozenset({"staff"})).recording.value == "best-effort"
