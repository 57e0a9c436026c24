"""Authenticated access API: who am I, just-in-time access requests, and
token revocation (the sign-in routes are in :mod:`warden.web.auth_api`).

* ``GET /auth/whoami``; ``GET|POST /auth/access-requests``: one's own requests;
* ``GET /admin/api/access-requests``, ``POST
  /admin/api/access-requests/{id}/approve|deny|revoke``: approvers;
* ``POST /admin/api/revocations``: admins revoke a token id or a subject.
"""

from __future__ import annotations

from aiohttp import web

from warden.access.config import parse_duration
from warden.access.grants import GrantError, Problem, Status
from warden.access.service import AccessService, AuditFailed
from warden.access.static import presented_credential
from warden.pipeline.types import Identity
from warden.web.forms import read_json

_STATUS = {
    Problem.INVALID: 400,
    Problem.FORBIDDEN: 403,
    Problem.NOT_FOUND: 404,
    Problem.CONFLICT: 409,
}


def add_routes(app: web.Application, service: AccessService) -> None:
    api = AccessApi(service)
    r = app.router
    r.add_get("/auth/whoami", api.whoami)
    r.add_get("/auth/access-requests", api.my_requests)
    r.add_post("/auth/access-requests", api.create_request)
    r.add_get("/admin/api/access-requests", api.list_requests)
    r.add_post("/admin/api/access-requests/{id}/{action}", api.act_on_request)
    r.add_post("/admin/api/revocations", api.revocations)


def _problem(error: GrantError) -> web.Response:
    return web.json_response(
        {"error": error.problem.value, "message": str(error)}, status=_STATUS[error.problem]
    )


class AccessApi:
    def __init__(self, service: AccessService) -> None:
        self.service = service

    async def caller(self, request: web.Request) -> Identity | None:
        credential = presented_credential(request.headers)
        return await self.service.identify(credential) if credential else None

    async def whoami(self, request: web.Request) -> web.Response:
        who = await self.caller(request)
        if who is None:
            return _unauthorized()
        return web.json_response(
            {
                "subject": who.subject,
                "groups": sorted(who.groups),
                "auth_method": who.auth_method,
                "display_name": who.display_name,
                "admin": self.service.is_admin(who),
            }
        )

    async def my_requests(self, request: web.Request) -> web.Response:
        who = await self.caller(request)
        if who is None:
            return _unauthorized()
        found = await self.service.list_requests(who, mine=True, statuses=_statuses(request))
        return web.json_response({"requests": [r.as_json() for r in found]})

    async def create_request(self, request: web.Request) -> web.Response:
        who = await self.caller(request)
        if who is None:
            return _unauthorized()
        body = await read_json(request)
        if body is None:
            return _bad("send a JSON object: {connection, duration, reason}")
        connection, reason = body.get("connection"), body.get("reason", "")
        if not isinstance(connection, str) or not isinstance(reason, str):
            return _bad("connection and reason must be strings")
        duration = None
        if body.get("duration") is not None:
            try:
                duration = parse_duration(body["duration"])
            except ValueError as exc:
                return _bad(str(exc))
        try:
            created = await self.service.request_access(who, connection, duration, reason)
        except GrantError as exc:
            return _problem(exc)
        except AuditFailed as exc:
            return web.json_response({"error": "unavailable", "message": str(exc)}, status=503)
        return web.json_response(created.as_json(), status=201)

    async def list_requests(self, request: web.Request) -> web.Response:
        who = await self.caller(request)
        if who is None:
            return _unauthorized()
        found = await self.service.list_requests(who, statuses=_statuses(request))
        return web.json_response({"requests": [r.as_json() for r in found]})

    async def act_on_request(self, request: web.Request) -> web.Response:
        who = await self.caller(request)
        if who is None:
            return _unauthorized()
        action = request.match_info["action"]
        request_id = request.match_info["id"]
        body = await read_json(request) or {}
        comment = body.get("comment", "")
        if not isinstance(comment, str):
            return _bad("comment must be a string")
        try:
            if action in ("approve", "deny"):
                decided = await self.service.decide(
                    request_id, who, approve=action == "approve", comment=comment
                )
                return web.json_response({**decided.request.as_json(), "granted": decided.granted})
            if action == "revoke":
                revoked = await self.service.revoke_grant(request_id, who)
                return web.json_response(revoked.as_json())
        except GrantError as exc:
            return _problem(exc)
        except AuditFailed as exc:
            return web.json_response({"error": "unavailable", "message": str(exc)}, status=503)
        return web.json_response({"error": "not_found", "message": "unknown action"}, status=404)

    async def revocations(self, request: web.Request) -> web.Response:
        who = await self.caller(request)
        if who is None:
            return _unauthorized()
        if not self.service.is_admin(who):
            return web.json_response(
                {"error": "forbidden", "message": "only Warden admins revoke tokens"}, status=403
            )
        body = await read_json(request)
        if body is None:
            return _bad("send a JSON object: {jti} or {subject}, and a reason")
        reason = str(body.get("reason", ""))[:500]
        jti, subject = body.get("jti"), body.get("subject")
        try:
            if isinstance(jti, str) and jti and len(jti) <= 64:
                await self.service.revoke_jti(jti, who.subject, reason)
                return web.json_response({"revoked": {"jti": jti}})
            if isinstance(subject, str) and subject and len(subject) <= 255:
                await self.service.revoke_subject(subject, who.subject, reason)
                return web.json_response({"revoked": {"subject": subject}})
        except AuditFailed as exc:
            return web.json_response({"error": "unavailable", "message": str(exc)}, status=503)
        return _bad("give a jti or a subject")


def _statuses(request: web.Request) -> tuple[Status, ...]:
    wanted = request.query.get("status", "")
    out: list[Status] = []
    for name in filter(None, wanted.split(",")):
        try:
            out.append(Status(name))
        except ValueError:
            continue
    return tuple(out)


def _unauthorized() -> web.Response:
    return web.json_response(
        {"error": "unauthorized", "message": "send a gateway token: Authorization: Bearer …"},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="warden"'},
    )


def _bad(message: str) -> web.Response:
    return web.json_response({"error": "invalid", "message": message}, status=400)
