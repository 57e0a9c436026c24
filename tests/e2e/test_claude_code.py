"""Claude Code (`claude -p`) completing turns, straight to the fake and through `warden serve`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.clients import claude_code
from tests.e2e.support import (
    Gateway,
    assert_never_held,
    assert_only_gateway_token_upstream,
    real_secrets,
)
from tests.fakes.provider import FakeProvider
from tests.fakes.script import Match, call_tool, say

pytestmark = pytest.mark.e2e

# Claude Code's main loop always sends its tools; replies scripted for the turn wait for
# such a request, so any side request it makes cannot take them.
TURN = Match(dialect="anthropic", has_tools=True)


@dataclass
class Target:
    base_url: str
    key: str
    gateway: Gateway | None


@pytest.fixture(params=["direct", "gateway"])
def target(request: pytest.FixtureRequest, fake_provider: FakeProvider, fake_url: str) -> Target:
    """Claude Code pointed at the fake itself (the fake is good enough) or at the gateway."""
    if request.param == "direct":
        return Target(fake_url, fake_provider.credentials.anthropic_key, None)
    gateway: Gateway = request.getfixturevalue("gateway")
    return Target(gateway.base("claude"), gateway.token, gateway)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    return home, work


def check_credentials(target: Target, provider: FakeProvider, *places: object) -> None:
    if target.gateway is None:
        return
    assert_only_gateway_token_upstream(provider, target.gateway)
    assert_never_held(real_secrets(provider), *places)  # type: ignore[arg-type]


def test_plain_turn(
    claude_bin: Path, fake_provider: FakeProvider, target: Target, dirs: tuple[Path, Path]
) -> None:
    home, work = dirs
    fake_provider.script.push(say("Hello from the other side.", match=TURN))
    run, result = claude_code(
        claude_bin,
        base_url=target.base_url,
        key=target.key,
        prompt="say hello",
        workdir=work,
        home=home,
    )
    assert (result["is_error"], result["result"]) == (False, "Hello from the other side.")
    [turn] = [r for r in fake_provider.recorder.to("/v1/messages") if r.json.get("tools")]
    assert turn.header("anthropic-version") == "2023-06-01"
    assert "claude-code-" in (turn.header("anthropic-beta") or "")
    assert turn.json["stream"] is True
    assert all(r.status == 200 for r in fake_provider.recorder.requests)
    check_credentials(target, fake_provider, run.env, home, run.stdout + run.stderr)


def test_bash_tool_turn_runs_the_command(
    claude_bin: Path, fake_provider: FakeProvider, target: Target, dirs: tuple[Path, Path]
) -> None:
    home, work = dirs
    nonce = "proof-" + secrets.token_hex(6)
    command = f"echo {nonce} > proof.txt"
    fake_provider.script.push(
        call_tool("Bash", {"command": command, "description": "Write the proof file"}, match=TURN),
        say("Wrote proof.txt.", match=TURN),
    )
    run, result = claude_code(
        claude_bin,
        base_url=target.base_url,
        key=target.key,
        prompt="write the proof file",
        workdir=work,
        home=home,
        args=("--allowedTools", "Bash(echo:*)", "--permission-mode", "acceptEdits"),
    )
    assert (result["result"], result["permission_denials"]) == ("Wrote proof.txt.", [])
    assert (work / "proof.txt").read_text() == f"{nonce}\n"
    turns = [r for r in fake_provider.recorder.to("/v1/messages") if r.json.get("tools")]
    assert len(turns) == 2
    second = turns[1]
    [tool_use] = [b for b in second.json["messages"][-2]["content"] if b["type"] == "tool_use"]
    assert tool_use["input"]["command"] == command
    [tool_result] = second.json["messages"][-1]["content"]
    assert (tool_result["type"], tool_result["tool_use_id"], tool_result["is_error"]) == (
        "tool_result",
        tool_use["id"],
        False,
    )
    check_credentials(target, fake_provider, run.env, home, run.stdout + run.stderr)


def test_bearer_auth_token_variant_through_the_gateway(
    claude_bin: Path, fake_provider: FakeProvider, gateway: Gateway, dirs: tuple[Path, Path]
) -> None:
    """With `ANTHROPIC_AUTH_TOKEN` Claude Code sends `Authorization: Bearer`, not x-api-key."""
    home, work = dirs
    fake_provider.script.push(say("bearer works", match=TURN))
    run, result = claude_code(
        claude_bin,
        base_url=gateway.base("claude"),
        key=gateway.token,
        key_variable="ANTHROPIC_AUTH_TOKEN",
        prompt="hi",
        workdir=work,
        home=home,
    )
    assert result["result"] == "bearer works"
    assert_only_gateway_token_upstream(fake_provider, gateway)
    assert_never_held(real_secrets(fake_provider), run.env, home, run.stdout + run.stderr)
