"""Codex (`codex exec`) completing turns, straight to the fake and through `warden serve`."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.clients import codex
from tests.e2e.support import (
    Gateway,
    assert_never_held,
    assert_only_gateway_token_upstream,
    real_secrets,
)
from tests.fakes.provider import FakeProvider
from tests.fakes.script import Match, call_tool, say

pytestmark = pytest.mark.e2e

TURN = Match(dialect="openai-responses", has_tools=True)


@dataclass
class Target:
    base_url: str
    key: str
    gateway: Gateway | None


@pytest.fixture(params=["direct", "gateway"])
def target(request: pytest.FixtureRequest, fake_provider: FakeProvider, fake_url: str) -> Target:
    """Codex pointed at the fake itself (the fake is good enough) or at the gateway."""
    if request.param == "direct":
        return Target(fake_url + "/v1", fake_provider.credentials.openai_key, None)
    gateway: Gateway = request.getfixturevalue("gateway")
    return Target(gateway.base("openai") + "/v1", gateway.token, gateway)


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
    codex_bin: Path, fake_provider: FakeProvider, target: Target, dirs: tuple[Path, Path]
) -> None:
    home, work = dirs
    fake_provider.script.push(say("Hello from the other side.", match=TURN))
    run, last = codex(
        codex_bin, base_url=target.base_url, key=target.key, prompt="hi", workdir=work, home=home
    )
    assert last.strip() == "Hello from the other side."
    [turn] = fake_provider.recorder.to("/v1/responses")
    assert turn.json["stream"] is True
    assert turn.header("accept") == "text/event-stream"
    assert turn.status == 200
    check_credentials(target, fake_provider, run.env, home, run.stdout + run.stderr)


def test_shell_tool_turn_runs_the_command(
    codex_bin: Path, fake_provider: FakeProvider, target: Target, dirs: tuple[Path, Path]
) -> None:
    home, work = dirs
    nonce = "proof-" + secrets.token_hex(6)
    command = f"echo {nonce} > proof.txt && echo shell-says-$((6*7))"
    fake_provider.script.push(
        call_tool("exec_command", {"cmd": command}, match=TURN),
        say("Wrote proof.txt.", match=TURN),
    )
    run, last = codex(
        codex_bin,
        base_url=target.base_url,
        key=target.key,
        prompt="write the proof file",
        workdir=work,
        home=home,
    )
    assert last.strip() == "Wrote proof.txt."
    assert (work / "proof.txt").read_text() == f"{nonce}\n"
    first, second = fake_provider.recorder.to("/v1/responses")
    assert "exec_command" in [t.get("name") for t in first.json["tools"]]
    [call] = [i for i in second.json["input"] if i.get("type") == "function_call"]
    assert json.loads(call["arguments"]) == {"cmd": command}
    [output] = [i for i in second.json["input"] if i.get("type") == "function_call_output"]
    assert output["call_id"] == call["call_id"]
    assert "shell-says-42" in json.dumps(output["output"])
    check_credentials(target, fake_provider, run.env, home, run.stdout + run.stderr)
