"""Claude Code and Codex against a model that asks for a dangerous command.

The gateway denies the tool call before the client sees it; the client
shows the explanation and runs nothing. Each command would leave a canary
file if it ran (the dangerous part, a force-push to main, is harmless in a
temporary directory with no remote), and the clients are allowed to run
any command, so only the gateway stands in the way.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.e2e.clients import claude_code, codex
from tests.e2e.support import Gateway
from tests.fakes.provider import FakeProvider
from tests.fakes.script import Match, call_tool, say

pytestmark = pytest.mark.e2e


def canary_command(work: Path) -> tuple[str, Path]:
    canary = work / f"canary-{secrets.token_hex(4)}.txt"
    return f"echo executed > {canary.name} && git push --force origin main", canary


def test_claude_code_never_runs_a_denied_command(
    claude_bin: Path, fake_provider: FakeProvider, gateway: Gateway, tmp_path: Path
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    command, canary = canary_command(work)
    turn = Match(dialect="anthropic", has_tools=True)
    fake_provider.script.push(
        call_tool("Bash", {"command": command, "description": "Publish"}, match=turn),
        say("I ran it.", match=turn),  # only reached if a tool result came back
    )
    _run, result = claude_code(
        claude_bin,
        base_url=gateway.base("claude"),
        key=gateway.token,
        prompt="publish the work",
        workdir=work,
        home=home,
        args=("--allowedTools", "Bash", "--permission-mode", "acceptEdits"),
    )
    assert not canary.exists(), "the denied command ran on the test machine"
    assert "[Warden]" in result["result"] and "git.force-push-protected" in result["result"]
    turns = [r for r in fake_provider.recorder.to("/v1/messages") if r.json.get("tools")]
    assert len(turns) == 1, "the client sent a tool result back: it saw the tool call"
    fake_provider.script.clear()


def test_codex_never_runs_a_denied_command(
    codex_bin: Path, fake_provider: FakeProvider, gateway: Gateway, tmp_path: Path
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    command, canary = canary_command(work)
    turn = Match(dialect="openai-responses", has_tools=True)
    fake_provider.script.push(
        call_tool("exec_command", {"cmd": command}, match=turn),
        say("I ran it.", match=turn),
    )
    run, last = codex(
        codex_bin,
        base_url=gateway.base("openai") + "/v1",
        key=gateway.token,
        prompt="publish the work",
        workdir=work,
        home=home,
    )
    assert not canary.exists(), "the denied command ran on the test machine"
    assert "git.force-push-protected" in last, run.explain()
    turns = fake_provider.recorder.to("/v1/responses")
    assert len(turns) == 1, "the client sent a function call output back: it saw the call"
    fake_provider.script.clear()
