"""``warden config check``."""

from __future__ import annotations

from pathlib import Path

import pytest

from warden.cli import main


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "examples/quickstart.yaml"]) == 0
    assert "ok: 2 connection(s)" in capsys.readouterr().out


def test_check_reports_each_problem_and_exits_nonzero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("connections:\n  x:\n    type: anthropic\n    upstream: nope\n    colour: 1\n")
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:4:" in err and "http://" in err
    assert f"{path}:5:" in err and "hint:" in err
