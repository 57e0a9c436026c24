"""The aiohttp application: routes, shared state, reload.

Routes: ``/healthz`` (the process is up), ``/readyz`` (config loaded and
not shutting down), ``/metrics``, and every connection under
``/<connection-name>/``. The names of the gateway's own routes can't be
connections (the config refuses them, see ``warden.config.model``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from warden.access.service import AccessService, ConnectionAccess, default_issuer
from warden.access.static import StaticTokens
from warden.approvals.none import NoApprovals
from warden.config.loader import ConfigError, load_config
from warden.config.model import Config
from warden.pipeline.record import NullRecorder, Recorder
from warden.server.handler import proxy
from warden.server.keys import APPROVALS, RECORDER, STATE
from warden.server.logs import log_fields
from warden.server.metrics import Metrics
from warden.server.runtime import InspectorFactory, Runtime, build_runtime
from warden.web import auth_api

log = logging.getLogger("warden.server")


@dataclass(slots=True)
class AppState:
    config: Config
    factories: Sequence[InspectorFactory]
    session: aiohttp.ClientSession = field(init=False)
    runtime: Runtime = field(init=False)
    metrics: Metrics = field(default_factory=Metrics)
    ready: bool = False
    draining: bool = False
    on_reload: list[Any] = field(default_factory=list)
    access: AccessService | None = None

    def reload(self, path: Path | None = None) -> bool:
        """Load the config again and swap atomically; keep the old on error."""
        source = path or self.config.source
        if source is None:
            return False
        try:
            config = load_config(source)
            runtime = build_runtime(
                config,
                self.session,
                self.factories,
                generation=self.runtime.generation + 1,
                access=self.access,
            )
        except ConfigError as exc:
            log_fields(
                log,
                logging.ERROR,
                "config reload refused; the running config stays",
                file=str(source),
                problems=[p.render(str(source)) for p in exc.problems],
            )
            return False
        except Exception as exc:
            log_fields(
                log,
                logging.ERROR,
                "config reload refused; the running config stays",
                file=str(source),
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        self.config = config
        self.runtime = runtime
        if self.access is not None:
            self.access.reconfigure(
                config.identity,
                static_tokens=runtime.tokens,
                connections=connection_access(config),
                admin_groups=config.admin_groups,
            )
        log_fields(log, logging.INFO, "config reloaded", generation=runtime.generation)
        for callback in self.on_reload:
            callback(runtime)
        return True


def connection_access(config: Config) -> dict[str, ConnectionAccess]:
    return {
        name: ConnectionAccess(conn.access, conn.access.jit)
        for name, conn in config.connections.items()
    }


def access_service(config: Config, audit: Any = None) -> AccessService:
    """Who is calling: gateway tokens, sign-in, token exchange, JIT grants."""
    return AccessService(
        config.identity,
        issuer=config.identity.issuer or default_issuer(config.listen),
        state_dir=config.state_dir,
        store_url=config.store_url(),
        static_tokens=StaticTokens(config.token_hashes),
        connections=connection_access(config),
        admin_groups=config.admin_groups,
        audit=audit if hasattr(audit, "admin_event") else None,
    )


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.ready and not state.draining:
        return web.json_response({"status": "ready", "generation": state.runtime.generation})
    return web.json_response({"status": "draining" if state.draining else "starting"}, status=503)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=request.app[STATE].metrics.render(), content_type="text/plain")


def create_app(
    config: Config,
    *,
    factories: Sequence[InspectorFactory] = (),
    recorder: Recorder | None = None,
    approvals: Any = None,
) -> web.Application:
    app = web.Application(client_max_size=config.limits.max_body_bytes)
    state = AppState(config, tuple(factories))
    app[STATE] = state
    app[RECORDER] = recorder or NullRecorder()
    app[APPROVALS] = approvals or NoApprovals()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    state.access = access_service(config, recorder)
    auth_api.add_routes(app, state.access)  # /auth/…, /.well-known/…, JIT admin API
    app.router.add_route("*", "/{connection}/{tail:.*}", proxy)
    app.router.add_route("*", "/{connection}", proxy)

    async def startup(app: web.Application) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60)
        # One session carries every agent's requests: it must keep no cookies
        # (one agent's upstream cookie would ride along on the next agent's
        # request), and agents' own cookies are stripped both ways.
        state.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=True,
            trust_env=False,
            skip_auto_headers=(),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        state.runtime = build_runtime(config, state.session, state.factories, access=state.access)
        state.ready = True

    async def shutdown(app: web.Application) -> None:
        state.draining = True

    async def cleanup(app: web.Application) -> None:
        await state.session.close()

    app.on_startup.append(startup)
    app.on_shutdown.append(shutdown)
    app.on_cleanup.append(cleanup)
    return app
