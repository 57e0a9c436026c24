"""Azure OpenAI data-plane routes and a Microsoft Entra token endpoint.

Deployment routes need `?api-version=`; every route takes the resource key in
`api-key` (or as a bearer token) or an Entra access token in `Authorization:
Bearer`, issued by the fake token endpoint for the configured service principal.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.openai_chat import (
    ApiError,
    Authorize,
    Handler,
    chat_completions,
    embeddings,
)
from tests.fakes.openai_responses import responses
from tests.fakes.wire import compact, json_response, token

if TYPE_CHECKING:
    from tests.fakes.provider import FakeProvider

RESOURCE = "https://cognitiveservices.azure.com"


class AzureError(ApiError):
    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code or str(self.status), "message": str(self)}}


class EntraTokens:
    """Access tokens the fake token endpoint issued, with their expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def issue(self, tenant: str, client_id: str, lifetime: int) -> str:
        now = int(time.time())
        claims = {
            "aud": RESOURCE,
            "iss": f"https://sts.windows.net/{tenant}/",
            "appid": client_id,
            "tid": tenant,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
        }
        header = {"typ": "JWT", "alg": "RS256", "kid": "fake"}
        access = ".".join(
            [segment(compact(header).encode()), segment(compact(claims).encode()), token(86)]
        )
        with self._lock:
            self._expiry[access] = time.time() + lifetime
        return access

    def valid(self, access: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(access)
        return expiry is not None and time.time() < expiry

    def expire_all(self) -> None:
        """Make every issued token expired, to exercise the gateway's refresh."""
        with self._lock:
            self._expiry = dict.fromkeys(self._expiry, 0.0)

    @property
    def issued(self) -> list[str]:
        with self._lock:
            return list(self._expiry)


def segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def azure_auth(provider: FakeProvider, *, needs_api_version: bool) -> Authorize:
    def authorize(request: web.Request) -> None:
        key = request.headers.get("api-key")
        header = request.headers.get("Authorization", "")
        if key is not None:
            if key != provider.credentials.azure_key:
                raise AzureError(
                    401,
                    "Access denied due to invalid subscription key or wrong API endpoint. "
                    "Make sure to provide a valid key for an active subscription and use a "
                    "correct regional API endpoint for your resource.",
                )
        elif header.startswith("Bearer "):
            bearer = header[7:].strip()
            # The v1 API takes the resource key as a bearer token too (the plain OpenAI SDK).
            if bearer != provider.credentials.azure_key and not provider.entra.valid(bearer):
                raise AzureError(
                    401,
                    "Unauthorized. Access token is missing, invalid, audience is incorrect "
                    f"({RESOURCE}), or have expired.",
                )
        else:
            raise AzureError(
                401,
                "Access denied due to missing subscription key. Make sure to include "
                "subscription key when making requests to an API.",
            )
        if needs_api_version and "api-version" not in request.query:
            raise AzureError(404, "Resource not found")

    return authorize


def entra_error(status: int, error: str, code: int, description: str) -> web.Response:
    return json_response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": token(32, "0123456789abcdef"),
            "correlation_id": token(32, "0123456789abcdef"),
        },
        status=status,
    )


def token_endpoint(provider: FakeProvider) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        creds = provider.credentials
        form = await request.post()
        tenant = request.match_info["tenant"]
        if tenant != creds.azure_tenant:
            return entra_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return entra_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        if form.get("client_id") != creds.azure_client_id:
            return entra_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')!s}' was not found.",
            )
        if form.get("client_secret") != creds.azure_client_secret:
            return entra_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        scope = str(form.get("scope", ""))
        if not scope.endswith("/.default"):
            return entra_error(
                400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid."
            )
        lifetime = creds.azure_token_lifetime
        access = provider.entra.issue(tenant, creds.azure_client_id, lifetime)
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": access,
            }
        )

    return handle


def routes(provider: FakeProvider) -> list[tuple[str, str, Handler]]:
    deployment = azure_auth(provider, needs_api_version=True)
    v1 = azure_auth(provider, needs_api_version=False)
    base = "/openai/deployments/{deployment}"
    return [
        ("POST", f"{base}/chat/completions", chat_completions(provider, deployment, "azure")),
        ("POST", f"{base}/embeddings", embeddings(provider, deployment, "azure")),
        ("POST", "/openai/v1/chat/completions", chat_completions(provider, v1, "azure")),
        ("POST", "/openai/v1/embeddings", embeddings(provider, v1, "azure")),
        ("POST", "/openai/v1/responses", responses(provider, v1)),
        ("POST", "/{tenant}/oauth2/v2.0/token", token_endpoint(provider)),
    ]
