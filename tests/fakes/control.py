"""Drive a fake provider that runs in another process (`python -m tests.fakes.provider`)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tests.fakes.provider import CONTROL, Credentials
from tests.fakes.recording import RecordedRequest
from tests.fakes.script import Reply, reply_to_json

ROOT = Path(__file__).resolve().parents[2]


class RemoteProvider:
    """The same scripting and observation as FakeProvider, over the `/_fake/` control API."""

    def __init__(self, base_url: str, credentials: Credentials | None = None) -> None:
        self.base_url = base_url
        self.credentials = credentials or Credentials()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + CONTROL + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def push(self, *replies: Reply) -> None:
        self._call("POST", "script", {"replies": [reply_to_json(r) for r in replies]})

    def clear_script(self) -> None:
        self._call("DELETE", "script")

    @property
    def requests(self) -> list[RecordedRequest]:
        raw = self._call("GET", "requests")["requests"]
        return [RecordedRequest.from_json(r) for r in raw]

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def anywhere(self, secret: str) -> bool:
        return any(r.contains(secret) for r in self.requests)


@contextlib.contextmanager
def spawn(
    credentials: Credentials | None = None, *, delay: float = 0.0
) -> Iterator[RemoteProvider]:
    """Runs the fake as a subprocess on a free port until the block exits."""
    credentials = credentials or Credentials()
    command = [sys.executable, "-m", "tests.fakes.provider", "--port", "0", "--delay", str(delay)]
    env = {**os.environ, **{"FAKE_" + k.upper(): str(v) for k, v in asdict(credentials).items()}}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("fake provider listening on "):
            raise RuntimeError(f"fake provider did not start (exit {process.poll()}): {line!r}")
        yield RemoteProvider(line.rsplit(" ", 1)[1].strip(), credentials)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
