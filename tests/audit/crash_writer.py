"""A gateway stand-in for the kill -9 test: records exchanges until killed.

``python -m tests.audit.crash_writer URL STATE_DIR MODE`` prints, after each
exchange, ``<exchange number> <events committed so far>``; in strict mode an
exchange is printed only once ``settle`` said it is stored.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.audit.helpers import conversation, exchange
from warden.audit.recorder import Mode, Recorder
from warden.audit.store import open_store

CHAIN = "crash"
EVENTS_PER_EXCHANGE = 9  # request, start, 5 deltas, decision, end


async def main(url: str, state_dir: str, mode: Mode) -> None:
    store = await open_store(url, state_dir=Path(state_dir))
    recorder = Recorder(store, mode=mode, instance_id=CHAIN, batch_interval=0.05)
    await recorder.start()
    number = 0
    while True:
        ex = exchange(f"ex-{number}", f"s-{number % 7}")
        await conversation(recorder, ex, deltas=5)
        await recorder.settle(ex)
        print(number, recorder.metrics["written"], flush=True)
        number += 1
        await asyncio.sleep(0)


if __name__ == "__main__":
    mode: Mode = "strict" if sys.argv[3] == "strict" else "best-effort"
    asyncio.run(main(sys.argv[1], sys.argv[2], mode))
