"""``warden sessions``: list, show, replay, export."""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.audit.helpers import conversation, exchange
from tests.helpers.backends import BACKENDS, store_url_for
from warden.audit.recorder import Recorder
from warden.audit.store import open_store_sync
from warden.cli import sessions as sessions_cli
from warden.pipeline.record import RecordKind


def warden(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="warden")
    commands = parser.add_subparsers(dest="command", required=True)
    sessions_cli.register(commands)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture(params=BACKENDS)
async def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    with store_url_for(request.param, tmp_path) as url:
        monkeypatch.setenv("WARDEN_STATE_DIR", str(tmp_path / "state"))
        store = open_store_sync(url, state_dir=tmp_path / "state")
        try:
            async with Recorder(store, instance_id="gw-1") as recorder:
                await conversation(recorder, exchange("e1", "s-alice", subject="alice"))
                bob = exchange("e2", "s-bob", subject="bob", connection="openai")
                await conversation(recorder, bob, outcome="blocked")
                await recorder.record(
                    exchange("e3", "s-bob", subject="bob", connection="openai"),
                    RecordKind.DECISION,
                    {"flow": "block", "rule": "rm-rf", "action": "block"},
                )
        finally:
            store.close()
        yield url


def test_list(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert warden("sessions", "list", "--store", store_url) == 0
    out = capsys.readouterr().out
    assert "s-alice" in out and "s-bob" in out and "blocked" in out
    assert warden("sessions", "list", "--store", store_url, "--json", "--user", "bob") == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["id"] == "s-bob"
    for flags, expected in (
        (("--decision", "rm-rf"), ["s-bob"]),
        (("--connection", "claude"), ["s-alice"]),
        (("--since", "1h"), ["s-alice", "s-bob"]),
        (("--until", "2000-01-01"), []),
    ):
        assert warden("sessions", "list", "--store", store_url, "--json", *flags) == 0
        found = sorted(json.loads(x)["id"] for x in capsys.readouterr().out.splitlines())
        assert found == expected, flags
    assert warden("sessions", "list", "--store", store_url, "--since", "yesterday") == 1
    assert "ISO 8601" in capsys.readouterr().err


def test_show(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert warden("sessions", "show", "s-bob", "--store", store_url) == 0
    out = capsys.readouterr().out
    assert "bob" in out and "block by rm-rf (block)" in out
    assert warden("sessions", "show", "s-bob", "--store", store_url, "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["session"]["outcome"] == "blocked"
    assert [e["kind"] for e in document["events"]][:2] == ["request", "response.start"]
    assert warden("sessions", "show", "nope", "--store", store_url) == 1
    assert "no session 'nope'" in capsys.readouterr().err


def test_replay(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert warden("sessions", "replay", "s-alice", "--speed", "0", "--store", store_url) == 0
    out = capsys.readouterr().out
    assert "user: key [REDACTED:aws-access-key]" in out
    assert "assistant: part 0 part 1 part 2" in out
    assert warden("sessions", "replay", "s-alice", "--speed", "-1", "--store", store_url) == 1


def test_export(store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert warden("sessions", "export", "--store", store_url, "--format", "jsonl") == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 16 and {x["subject"] for x in lines} == {"alice", "bob"}
    target = tmp_path / "out.csv"
    argv = ("sessions", "export", "s-bob", "--store", store_url, "--format", "csv", "-o")
    assert warden(*argv, str(target)) == 0
    assert "exported 9 events" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 9 and {r["session"] for r in rows} == {"s-bob"}
