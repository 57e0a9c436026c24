"""Running the real agent CLIs non-interactively, offline, each in a throwaway home.

What each needs, and why, is written up in tests/e2e/README.md.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.support import client_env

HANG_GUARD = 180  # seconds; only so a wedged client cannot stall the suite forever


@dataclass
class Run:
    env: dict[str, str]
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def run(command: list[str], cwd: Path, env: dict[str, str]) -> Run:
    done = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,  # codex otherwise waits to read more prompt from stdin
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        check=False,
    )
    return Run(env, done.returncode, done.stdout, done.stderr)


def claude_code(
    claude: Path,
    *,
    base_url: str,
    key: str,
    prompt: str,
    workdir: Path,
    home: Path,
    key_variable: str = "ANTHROPIC_API_KEY",
    args: tuple[str, ...] = (),
) -> tuple[Run, dict[str, Any]]:
    """`claude -p PROMPT --output-format json`; returns the run and its JSON result."""
    env = client_env(
        home,
        ANTHROPIC_BASE_URL=base_url,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_ERROR_REPORTING="1",
        **{key_variable: key},
    )
    done = run([str(claude), "-p", prompt, "--output-format", "json", *args], workdir, env)
    assert done.returncode == 0, done.explain()
    return done, json.loads(done.stdout)


CODEX_CONFIG = """\
model = "gpt-5"
model_provider = "under-test"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.under-test]
name = "Provider under test"
base_url = "{base_url}"
env_key = "UNDER_TEST_API_KEY"
wire_api = "responses"
"""


def codex(
    codex_bin: Path, *, base_url: str, key: str, prompt: str, workdir: Path, home: Path
) -> tuple[Run, str]:
    """`codex exec PROMPT` against a custom responses provider; returns the run and last message."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(CODEX_CONFIG.format(base_url=base_url))
    last = home / "last-message.txt"
    env = client_env(home, CODEX_HOME=str(codex_home), UNDER_TEST_API_KEY=key)
    command = [
        str(codex_bin),
        "exec",
        "--strict-config",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "--color",
        "never",
        "--output-last-message",
        str(last),
        prompt,
    ]
    done = run(command, workdir, env)
    assert done.returncode == 0, done.explain()
    return done, last.read_text()
