"""Putting the product together: the store, the recorder, approvals, the
admin API and the inspectors a config turns on.

Built-in inspectors are registered exactly as a third party's would be: as
factories in one ordered list, :data:`INSPECTOR_FACTORIES`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from aiohttp import web

from warden.approvals.notify import build_notifiers
from warden.approvals.service import ApprovalService
from warden.approvals.store import ApprovalStore
from warden.audit import (
    Recorder,
    RetentionPolicy,
    Store,
    instance_id_for,
    load_key_provider,
    load_or_create_signer,
    open_store,
    purge,
)
from warden.config.model import Config
from warden.server import inspectors
from warden.server.keys import STATE
from warden.server.logs import log_fields
from warden.server.run import run_async, serve
from warden.server.runtime import InspectorFactory, Runtime
from warden.web.admin import add_routes, admin_auth

log = logging.getLogger("warden.server")

INSPECTOR_FACTORIES: list[InspectorFactory] = [inspectors.guardrails, inspectors.masking]


async def start_gateway(
    config: Config, *, stop: asyncio.Event | None = None, settle_gc: bool = False
) -> None:
    state_dir = config.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    store = await open_store(config.store_url(), state_dir=state_dir)
    instance = instance_id_for(state_dir)
    raw_key = load_key_provider(config.store.raw_key) if config.store.raw_key else None
    recorder = Recorder(store, mode="best-effort", instance_id=instance, raw_key=raw_key)
    await recorder.start()
    approval_store = ApprovalStore(store.engine)
    await asyncio.to_thread(approval_store.migrate)
    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())  # webhooks: stateless
    approvals = ApprovalService(
        approval_store,
        timeout=config.approvals.timeout,
        instance_id=instance,
        notifiers=build_notifiers(config.approvals.notify, http),
        audit=recorder.admin_event,
    )
    await approvals.start()

    loop = asyncio.get_running_loop()

    def setup(app: web.Application) -> None:
        app.middlewares.append(admin_auth)
        add_routes(app, store, approvals)
        app[STATE].metrics.gauges.update(
            {
                "warden_recorder_dropped_total": lambda: float(recorder.metrics["dropped"]),
                "warden_recorder_written_total": lambda: float(recorder.metrics["written"]),
                "warden_recorder_batches_total": lambda: float(recorder.metrics["batches"]),
            }
        )

        def on_reload(runtime: Runtime) -> None:
            details: dict[str, Any] = {
                "generation": runtime.generation,
                "file": str(runtime.config.source),
                "connections": sorted(runtime.config.connections),
                "policies": sorted(runtime.config.policies),
            }
            # Called from the reload's worker thread: hand the event to the loop.
            loop.call_soon_threadsafe(
                lambda: loop.create_task(recorder.admin_event("config.reload", "warden", details))
            )

        app[STATE].on_reload.append(on_reload)

    retention = asyncio.create_task(_retention(config, store))
    try:
        await serve(
            config,
            factories=INSPECTOR_FACTORIES,
            recorder=recorder,
            approvals=approvals,
            setup=setup,
            stop=stop,
            settle_gc=settle_gc,
        )
    finally:
        retention.cancel()
        await approvals.stop()
        await recorder.stop()
        await http.close()
        store.close()
        log_fields(log, logging.INFO, "store closed", recorder=recorder.metrics)


def retention_policy(config: Config) -> RetentionPolicy:
    return RetentionPolicy(
        default_days=config.store.retention_days,
        connections={
            name: conn.retention_days
            for name, conn in config.connections.items()
            if conn.retention_days is not None
        },
    )


async def _retention(config: Config, store: Store) -> None:
    """Purge expired recordings now and then; the chain stays verifiable
    (signed tombstones replace what was deleted)."""
    policy = retention_policy(config)
    if not policy.all_days():
        return
    signer = load_or_create_signer(config.state_dir)
    while True:
        try:
            result = await asyncio.to_thread(purge, store, policy, signer=signer, actor="retention")
            if result.events:
                log_fields(log, logging.INFO, "retention purge", **result.as_dict())
        except Exception as exc:
            log_fields(
                log, logging.ERROR, "retention purge failed", error=f"{type(exc).__name__}: {exc}"
            )
        await asyncio.sleep(config.store.retention_interval)


def run_gateway(config: Config) -> None:
    run_async(start_gateway(config, settle_gc=True))
