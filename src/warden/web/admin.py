"""The admin JSON API under ``/admin/api/``.

Callers authenticate like agents do (a gateway credential in
``Authorization: Bearer``); what they may do depends on their groups:
``admin_groups`` see everything, ``auditor`` (and admins) read the audit
trail, the approvers named in ``approvals.approvers`` (and admins) answer
review holds. Approvers act as themselves: nobody approves their own request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from warden.access.static import presented_credential
from warden.approvals.service import ApprovalService
from warden.approvals.store import DecisionError
from warden.audit.reveal import AUDITOR_GROUP
from warden.audit.store import Store
from warden.pipeline.types import Identity
from warden.server.keys import IDENTITY, STATE
from warden.web import audit_api

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "status": status}}, status=status)


async def identify(request: web.Request) -> Identity | None:
    credential = presented_credential(request.headers)
    if not credential:
        return None
    runtime = request.app[STATE].runtime
    identity: Identity | None = await runtime.identify(credential)
    return identity


def _groups_for(request: web.Request) -> list[str]:
    path = request.path
    if path.startswith("/admin/api/audit/"):
        return _auditors(request)
    if path.startswith("/admin/api/approvals"):
        return _approvers(request)
    return _admins(request)


@web.middleware
async def admin_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate and authorise every ``/admin/api/`` request by its groups."""
    if not request.path.startswith("/admin/api/"):
        return await handler(request)
    identity = await identify(request)
    if identity is None:
        return _json_error(401, "send a gateway credential as Authorization: Bearer")
    if request.path.startswith("/admin/api/access-requests"):
        # Just-in-time requests: each connection names its own approvers;
        # the handler checks them (and that nobody approves their own request).
        request[IDENTITY] = identity
        return await handler(request)
    allowed = set(_groups_for(request))
    if not identity.groups & allowed:
        return _json_error(403, f"{identity.subject} is not in any of: {sorted(allowed)}")
    request[IDENTITY] = identity
    return await handler(request)


def _admins(request: web.Request) -> list[str]:
    return list(request.app[STATE].runtime.config.admin_groups)


def _auditors(request: web.Request) -> list[str]:
    return [*_admins(request), AUDITOR_GROUP]


def _approvers(request: web.Request) -> list[str]:
    return [*_admins(request), *request.app[STATE].runtime.config.approvals.approvers]


def add_routes(app: web.Application, store: Store, approvals: ApprovalService) -> None:
    audit_api.add_routes(app, store, prefix="/admin/api/audit")

    async def list_approvals(request: web.Request) -> web.Response:
        status = request.query.get("status", "pending")
        rows = approvals.store.list(None if status == "all" else status)
        return web.json_response({"approvals": [row.as_dict() for row in rows]})

    async def show_approval(request: web.Request) -> web.Response:
        row = approvals.store.get(request.match_info["id"])
        if row is None:
            return _json_error(404, "no such approval request")
        return web.json_response(row.as_dict())

    async def decide(request: web.Request, approve: bool) -> web.Response:
        identity: Identity = request[IDENTITY]
        note = ""
        if request.can_read_body:
            body = await request.json()
            note = str(body.get("note", "")) if isinstance(body, dict) else ""
        try:
            decided = await approvals.decide(
                request.match_info["id"], approver=identity.subject, approve=approve, note=note
            )
        except DecisionError as exc:
            return _json_error(409, str(exc))
        return web.json_response(decided.as_dict())

    async def approve(request: web.Request) -> web.Response:
        return await decide(request, True)

    async def deny(request: web.Request) -> web.Response:
        return await decide(request, False)

    app.router.add_get("/admin/api/approvals", list_approvals)
    app.router.add_get("/admin/api/approvals/{id}", show_approval)
    app.router.add_post("/admin/api/approvals/{id}/approve", approve)
    app.router.add_post("/admin/api/approvals/{id}/deny", deny)
