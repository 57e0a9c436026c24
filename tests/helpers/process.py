"""Running ``warden serve`` as a real process for tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def warden_process(config: Path, env: dict[str, str], *, ready_within: float = 30) -> Iterator[str]:
    """Start ``warden serve -c config``; yield its base URL once /readyz says so."""
    text = config.read_text()
    listen = next(line for line in text.splitlines() if line.startswith("listen:"))
    base = "http://" + listen.split(":", 1)[1].strip()
    log = config.with_suffix(".log")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "warden", "serve", "-c", str(config)],
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"warden exited: {log.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"warden not ready: {log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
