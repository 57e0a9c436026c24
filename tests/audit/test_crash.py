"""A kill -9 mid-stream loses at most the last batch; the chain survives and resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.audit.crash_writer import CHAIN, EVENTS_PER_EXCHANGE
from tests.audit.helpers import conversation, event_rows, exchange
from warden.audit.recorder import Recorder
from warden.audit.store import open_store_sync
from warden.audit.verify import verify

ROOT = Path(__file__).resolve().parents[2]


def run_until_killed(url: str, state_dir: Path, mode: str, exchanges: int) -> tuple[int, int]:
    """Start the writer, SIGKILL it after ``exchanges`` exchanges; the last line it printed."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"}
    with subprocess.Popen(
        [sys.executable, "-m", "tests.audit.crash_writer", url, str(state_dir), mode],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        last = (-1, 0)
        try:
            for line in child.stdout:
                number, written = (int(x) for x in line.split())
                last = (number, written)
                if number + 1 >= exchanges and written > 0:
                    break
        finally:
            child.send_signal(signal.SIGKILL)
            _, errors = child.communicate()
    if last[0] < 0:
        pytest.fail(f"the writer printed nothing: {errors}")
    assert child.returncode == -signal.SIGKILL
    return last


@pytest.mark.parametrize("mode", ["strict", "best-effort"])
async def test_kill_9_keeps_every_committed_event(
    store_url: str, state_dir: Path, mode: str
) -> None:
    last_exchange, written = run_until_killed(store_url, state_dir, mode, exchanges=40)
    store = open_store_sync(store_url, state_dir=state_dir)
    try:
        rows = event_rows(store, CHAIN)
        # Everything reported committed is there, in one unbroken chain.
        assert len(rows) >= written
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        if mode == "strict":
            settled = {f"ex-{i}" for i in range(last_exchange + 1)}
            ends = {r.exchange_id for r in rows if r.kind == "end"}
            assert settled <= ends
            assert len(rows) >= (last_exchange + 1) * EVENTS_PER_EXCHANGE
        report = verify(store)
        assert report.ok, report.all_problems

        # A restart resumes the chain from the stored head.
        async with Recorder(store, instance_id=CHAIN) as recorder:
            await conversation(recorder, exchange("after-restart", "s-new"))
        resumed = event_rows(store, CHAIN)
        assert [r.seq for r in resumed] == list(range(1, len(rows) + 8))
        assert resumed[len(rows)].prev_hash == rows[-1].hash
        report = verify(store)
        assert report.ok, report.all_problems
    finally:
        store.close()
