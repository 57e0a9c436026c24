"""Running the gateway: event loop, signals, reload, graceful shutdown.

SIGHUP or a change to the config file reloads it (a bad file is refused and
the running config stays). SIGTERM / SIGINT stop accepting connections, let
open streams finish within ``shutdown_grace`` seconds, then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from aiohttp import web

from warden.config.model import Config
from warden.server.app import AppState, create_app
from warden.server.keys import STATE
from warden.server.logs import log_fields
from warden.server.runtime import InspectorFactory

log = logging.getLogger("warden.server")

WATCH_SECONDS = 1.0


async def _watch(state: AppState, stop: asyncio.Event) -> None:
    source = state.config.source
    if source is None:
        return
    try:
        seen = source.stat().st_mtime_ns
    except OSError:
        seen = 0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=WATCH_SECONDS)
        try:
            mtime = source.stat().st_mtime_ns
        except OSError:
            continue
        if mtime != seen:
            seen = mtime
            # Built off the loop (a rule change recompiles the detection
            # engine), then swapped in one assignment.
            await asyncio.to_thread(state.reload)


GC_THRESHOLDS = (50_000, 20, 100)


def settle_garbage_collector() -> None:
    """Tune the cyclic garbage collector for serving, once started.

    Everything built at start (the compiled rule catalogue, the config,
    the libraries' module state) lives as long as the process: frozen, full
    collections stop walking it again and again. A larger young generation
    lets an exchange's short-lived objects (parsed bodies, events waiting
    a batch interval for the audit writer) die by reference count before a
    collection ever scans them, instead of being promoted and rescanned.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(
    config: Config,
    *,
    factories: Sequence[InspectorFactory] = (),
    recorder: Any = None,
    approvals: Any = None,
    setup: Callable[[web.Application], None] | None = None,
    stop: asyncio.Event | None = None,
    settle_gc: bool = False,
) -> None:
    """Serve until SIGTERM / SIGINT (or ``stop`` is set), then drain.

    ``settle_gc`` (the ``warden serve`` process, not tests sharing one):
    see :func:`settle_garbage_collector`."""
    app = create_app(config, factories=factories, recorder=recorder, approvals=approvals)
    if setup is not None:
        setup(app)
    state = app[STATE]
    host, port = config.host_port
    runner = web.AppRunner(
        app,
        handler_cancellation=True,
        shutdown_timeout=config.shutdown_grace,
        access_log=None,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    log_fields(
        log,
        logging.INFO,
        "listening",
        listen=f"{host}:{port}",
        connections=sorted(config.connections),
        tokens=len(config.token_hashes),
    )
    if settle_gc:
        settle_garbage_collector()
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    reloads: set[asyncio.Future[bool]] = set()

    def on_hup() -> None:
        future = asyncio.ensure_future(asyncio.to_thread(state.reload))
        reloads.add(future)
        future.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hup)
    watcher = asyncio.create_task(_watch(state, stop))
    await stop.wait()
    log_fields(log, logging.INFO, "shutting down", grace_seconds=config.shutdown_grace)
    state.draining = True
    watcher.cancel()
    await runner.cleanup()
    log.info("stopped")


def run_async(main: Coroutine[Any, Any, None]) -> None:
    """Run the gateway's main coroutine on uvloop."""
    loop_factory = None
    if sys.platform != "win32":
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main)
