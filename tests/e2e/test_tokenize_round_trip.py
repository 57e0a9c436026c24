"""Claude Code edits a file that holds an AWS key, through the quickstart policy.

The provider only ever sees placeholders; the model edits the line next to
the key by its placeholder; Claude Code gets the real key back inside the
Edit call, so its exact-match edit succeeds and the file keeps the key; the
gateway's recording holds placeholders only.

    claude -p ──▶ warden (tokenize ▸ provider ▸ detokenize tool input) ──▶ fake provider
      Read config.py            tool_result: key ▸ [TOKEN:…]          sees [TOKEN:…]
      Edit old/new_string  ◀──  [TOKEN:…] ▸ key                  ◀──  writes [TOKEN:…]
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import claude_code
from tests.e2e.support import (
    Gateway,
    assert_never_held,
    assert_only_gateway_token_upstream,
    real_secrets,
)
from tests.fakes.provider import FakeProvider
from tests.fakes.script import Match, ModelRequest, Reply, call_tool, respond, say
from warden.audit.schema import events as audit_events

pytestmark = pytest.mark.e2e

TURN = Match(dialect="anthropic", has_tools=True)
PLACEHOLDER = r"\[TOKEN:[a-z0-9-]+:[0-9a-f]{16}\]"
RECORDED_WITHIN = 15.0  # seconds for best-effort recording to reach the store


def aws_key_pair() -> tuple[str, str]:
    """A fresh access key id and secret, in AWS's formats (made here, matching nothing real)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    key_id = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    secret = "".join(secrets.choice(chars) for _ in range(40))
    return key_id, secret


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def tool_results(body: dict[str, Any]) -> list[str]:
    """The texts of the tool results in the last user message."""
    last = body["messages"][-1]
    return [
        text
        for block in last.get("content", [])
        if isinstance(block, dict) and block.get("type") == "tool_result"
        for text in strings(block.get("content"))
    ]


class Model:
    """The scripted model: read the file, then edit the line under the key by its placeholder."""

    def __init__(self, path: Path, keys: tuple[str, str]) -> None:
        self.path = path
        self.keys = keys
        self.placeholders: list[str] = []
        self.complaints: list[str] = []

    def edit(self, request: ModelRequest) -> Reply:
        if any(key in json.dumps(request.body) for key in self.keys):
            self.complaints.append("the provider saw a real key")
            return say("I can see your real key, which Warden should have hidden.")
        read = "\n".join(tool_results(request.body))
        found = re.search(rf'AWS_SECRET_ACCESS_KEY = "({PLACEHOLDER})"', read)
        if found is None:
            self.complaints.append(f"no placeholder in the Read result: {read[:300]!r}")
            return say("I could not find the key line.")
        token = found.group(1)
        self.placeholders.append(token)
        return call_tool(
            "Edit",
            {
                "file_path": str(self.path),
                "old_string": f'AWS_SECRET_ACCESS_KEY = "{token}"\nAWS_REGION = "eu-west-1"',
                "new_string": f'AWS_SECRET_ACCESS_KEY = "{token}"\nAWS_REGION = "eu-central-1"',
            },
            text="Moving the region to eu-central-1.",
            match=TURN,
        )

    def finish(self, request: ModelRequest) -> Reply:
        sent = json.dumps(request.body)
        if any(key in sent for key in self.keys):
            self.complaints.append("the provider saw a real key after the edit")
        self.placeholders.extend(re.findall(PLACEHOLDER, sent))
        return say("Done: the region is eu-central-1 now.")


def store_path(gateway: Gateway) -> Path:
    return gateway.log.parent / "state" / "warden.db"


def recorded_payloads(gateway: Gateway, needle: str) -> list[tuple[str, str]]:
    """(kind, payload) of every recorded event of the sessions whose events mention ``needle``."""
    table = audit_events.name
    with contextlib.closing(sqlite3.connect(store_path(gateway))) as db:
        sessions = [
            row[0]
            for row in db.execute(
                f"SELECT DISTINCT session_id FROM {table} WHERE instr(payload, ?) > 0", (needle,)
            )
        ]
        if not sessions:
            return []
        marks = ",".join("?" * len(sessions))
        query = f"SELECT kind, payload FROM {table} WHERE session_id IN ({marks})"
        return list(db.execute(query, sessions))


def wait_for_recording(gateway: Gateway, needle: str, exchanges: int) -> list[tuple[str, str]]:
    """The session's events once its ``exchanges`` have all ended (or the time is up)."""
    deadline = time.monotonic() + RECORDED_WITHIN
    while True:
        rows = recorded_payloads(gateway, needle)
        ended = sum(kind == "end" for kind, _ in rows)
        if ended >= exchanges or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_claude_code_edits_a_file_with_a_key_and_the_key_stays_real(
    claude_bin: Path, fake_provider: FakeProvider, gateway: Gateway, tmp_path: Path
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    key_id, secret = aws_key_pair()
    config = work / "config.py"
    config.write_text(
        "# Deployment settings\n"
        f'AWS_ACCESS_KEY_ID = "{key_id}"\n'
        f'AWS_SECRET_ACCESS_KEY = "{secret}"\n'
        'AWS_REGION = "eu-west-1"\n'
    )
    model = Model(config, (key_id, secret))
    fake_provider.script.push(
        call_tool("Read", {"file_path": str(config)}, match=TURN),
        respond(model.edit, match=TURN),
        respond(model.finish, match=TURN),
    )

    run, result = claude_code(
        claude_bin,
        base_url=gateway.base("claude-quickstart"),
        key=gateway.token,
        prompt="Move config.py to eu-central-1.",
        workdir=work,
        home=home,
        args=("--permission-mode", "acceptEdits"),
    )

    # Claude Code ran the edit with the real key: the file keeps it, the region moved.
    assert (result["is_error"], result["result"]) == (
        False,
        "Done: the region is eu-central-1 now.",
    )
    assert result["permission_denials"] == []
    assert config.read_text() == (
        "# Deployment settings\n"
        f'AWS_ACCESS_KEY_ID = "{key_id}"\n'
        f'AWS_SECRET_ACCESS_KEY = "{secret}"\n'
        'AWS_REGION = "eu-central-1"\n'
    )
    # The provider saw placeholders, never a key, and one placeholder for the
    # whole session (the Read result, then the Edit call sent back as history).
    assert model.complaints == []
    assert not any(fake_provider.recorder.anywhere(k) for k in (key_id, secret))
    token = model.placeholders[0]
    assert token.startswith("[TOKEN:aws-secret-access-key:")
    assert token in model.placeholders[1:]
    turns = [r for r in fake_provider.recorder.to("/v1/messages") if r.json.get("tools")]
    assert len(turns) == 3
    assert all(r.status == 200 for r in fake_provider.recorder.requests)

    # The recording holds what the provider wrote: placeholders, never the key.
    exchanges = len(fake_provider.recorder.to("/v1/messages"))
    rows = wait_for_recording(gateway, token, exchanges)
    assert sum(kind == "end" for kind, _ in rows) == exchanges, "the session was not all recorded"
    recorded = "\n".join(payload for _, payload in rows)
    assert key_id not in recorded and secret not in recorded
    edits = [p for kind, p in rows if kind == "response.event" and "old_string" in p]
    assert edits and all(token in p for p in edits)  # the Edit call, as the provider wrote it
    decisions = [json.loads(p) for kind, p in rows if kind == "decision"]
    restored = [d for d in decisions if d["action"] == "detokenize"]
    assert {(d["rule"], d["channel"].split("#")[1]) for d in restored} == {
        ("aws-secret-access-key", "/old_string"),
        ("aws-secret-access-key", "/new_string"),
    }
    for path in store_path(gateway).parent.glob("warden.db*"):
        data = path.read_bytes()
        assert key_id.encode() not in data and secret.encode() not in data, path.name

    # The usual credential promise holds too.
    assert_only_gateway_token_upstream(fake_provider, gateway)
    assert_never_held(real_secrets(fake_provider), run.env, home, run.stdout + run.stderr)
