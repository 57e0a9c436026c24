"""``warden scan`` and ``warden rules`` (registered here until they join cli.MODULES)."""

from __future__ import annotations

import argparse
import functools
import io
import json
import sys
from pathlib import Path

import pytest

from warden.cli import rules as rules_cli
from warden.cli import scan as scan_cli
from warden.detect.engine import Engine

KEY = "AKIAIOSFODNN7EXAMPLF"
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def warden(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="warden")
    sub = parser.add_subparsers(dest="command", required=True)
    scan_cli.register(sub)
    rules_cli.register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


_load_engine = scan_cli.load_engine


@functools.cache
def _engine(files: tuple[str, ...]) -> Engine | None:
    return _load_engine(list(files))


@pytest.fixture(autouse=True)
def one_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build each distinct engine once for the module (a build takes seconds)."""
    monkeypatch.setattr(scan_cli, "load_engine", lambda files: _engine(tuple(files)))
    monkeypatch.setattr(rules_cli, "load_engine", lambda files: _engine(tuple(files)))


class Stdout:
    def __init__(self, capture: pytest.CaptureFixture[bytes]) -> None:
        self.capture = capture
        self.seen = b""

    def getvalue(self) -> bytes:
        self.seen += self.capture.readouterr().out
        return self.seen


@pytest.fixture
def stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> Stdout:
    return Stdout(capsysbinary)


def test_scan_prints_masked_text_and_exits_1(tmp_path: Path, stdout: Stdout) -> None:
    path = tmp_path / "env"
    path.write_text(f"# creds\nAWS_ACCESS_KEY_ID={KEY}\nother=1\n")
    assert warden(["scan", str(path)]) == 1
    out = stdout.getvalue().decode()
    assert KEY not in out
    assert out.startswith("# creds\nAWS_ACCESS_KEY_ID=[REDACTED:")
    assert out.endswith("\nother=1\n")


def test_scan_clean_text_exits_0(tmp_path: Path, stdout: Stdout) -> None:
    path = tmp_path / "readme"
    path.write_text("nothing to see\n")
    assert warden(["scan", str(path)]) == 0
    assert stdout.getvalue() == b"nothing to see\n"


def test_scan_json_reports_offsets_and_lines(tmp_path: Path, stdout: Stdout) -> None:
    text = f"é line one\nkey {KEY}\n\ntoken: {TOKEN}\n"
    path = tmp_path / "f.txt"
    path.write_text(text)
    assert warden(["scan", "--json", str(path)]) == 1
    records = [json.loads(line) for line in stdout.getvalue().decode().splitlines()]
    assert records and all(r["path"] == str(path) for r in records)
    first = records[0]
    assert text[first["start"] : first["end"]] == KEY
    assert first["line"] == 2
    assert records[-1]["line"] == 4
    assert KEY not in stdout.getvalue().decode()


def test_scan_reads_stdin(monkeypatch: pytest.MonkeyPatch, stdout: Stdout) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"x {KEY} y".encode())))
    assert warden(["scan", "-"]) == 1
    assert KEY not in stdout.getvalue().decode()


def test_scan_keeps_undecodable_bytes(tmp_path: Path, stdout: Stdout) -> None:
    path = tmp_path / "bin"
    path.write_bytes(b"\xff\xfe ok " + KEY.encode() + b" \x80")
    assert warden(["scan", str(path)]) == 1
    out = stdout.getvalue()
    assert out.startswith(b"\xff\xfe ok [REDACTED:") and out.endswith(b" \x80")


def test_scan_with_extra_rules(tmp_path: Path, stdout: Stdout) -> None:
    rules = tmp_path / "mine.yaml"
    rules.write_text(
        "family: mine\nrules:\n  - {id: project-bluebird, pattern: '\\bBluebird\\b'}\n"
    )
    path = tmp_path / "notes"
    path.write_text("Project Bluebird ships friday\n")
    assert warden(["scan", "--rules", str(rules), str(path)]) == 1
    assert stdout.getvalue() == b"Project [REDACTED:project-bluebird] ships friday\n"


def test_scan_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert warden(["scan", str(tmp_path / "missing")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("family: x\nrules:\n  - {id: a, pattern: 'a+'}\n")
    assert warden(["scan", "--rules", str(bad), str(bad)]) == 2
    assert "unbounded" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        warden(["scan"])
    assert exc.value.code == 2


def test_rules_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert warden(["rules", "list", "--json", "--family", "source-host"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records and {r["family"] for r in records} == {"source-host"}
    assert {"id", "severity", "action", "enabled", "description"} <= set(records[0])


def test_rules_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert warden(["rules", "list", "--family", "pii"]) == 0
    assert "rules" in capsys.readouterr().out


def test_rules_test_explains_and_masks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "mine.yaml"
    rules.write_text(
        "family: mine\nrules:\n"
        "  - {id: t-key, pattern: 'k=([a-z0-9]{8})', secret_group: 1, entropy: 2.5}\n"
    )
    code = warden(["rules", "test", "--rules", str(rules), "t-key", "k=aaaaaaaa k=a1b2c3d4"])
    out = capsys.readouterr().out
    assert code == 0
    assert "match 1" in out and "not a finding: entropy" in out
    assert "match 2" in out and ": finding" in out
    assert "masked (redact): k=aaaaaaaa k=[REDACTED:t-key]" in out
    assert warden(["rules", "test", "--rules", str(rules), "t-key", "nothing"]) == 1
    assert warden(["rules", "test", "no-such-rule", "x"]) == 2
