"""Typed keys for what the aiohttp application carries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from warden.pipeline.record import Recorder
from warden.pipeline.types import Identity

if TYPE_CHECKING:
    from warden.server.app import AppState

STATE: web.AppKey[AppState] = web.AppKey("warden_state")
RECORDER: web.AppKey[Recorder] = web.AppKey("warden_recorder")
APPROVALS: web.AppKey[Any] = web.AppKey("warden_approvals")
RUNTIME = STATE
IDENTITY: web.RequestKey[Identity] = web.RequestKey("warden_identity", Identity)
"""Who an ``/admin/api/`` request is from (set by ``admin_auth``)."""
