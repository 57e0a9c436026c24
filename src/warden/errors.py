"""Errors the gateway itself produces, rendered in the client's own format.

An SDK decides which exception to raise from the HTTP status and the error
object's shape, so a 401 must look like Anthropic's ``authentication_error``
to the anthropic SDK and like OpenAI's ``invalid_api_key`` to the openai SDK.
:class:`GatewayError` carries the status, a kind and a message; the
``render_*`` helpers turn it into the body (or the SSE event, mid-stream) of
the connection's flavour.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any


class Flavor(enum.StrEnum):
    ANTHROPIC = "anthropic"
    OPENAI = "openai"


class ErrorKind(enum.StrEnum):
    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    TOO_LARGE = "too_large"
    RATE_LIMIT = "rate_limit"
    UPSTREAM = "upstream"
    TIMEOUT = "timeout"
    INTERNAL = "internal"
    BLOCKED = "blocked"
    UNAVAILABLE = "unavailable"


_STATUS = {
    ErrorKind.INVALID_REQUEST: 400,
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.PERMISSION: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.UPSTREAM: 502,
    ErrorKind.TIMEOUT: 504,
    ErrorKind.INTERNAL: 500,
    ErrorKind.BLOCKED: 400,
    ErrorKind.UNAVAILABLE: 503,
}

# https://docs.anthropic.com/en/api/errors
_ANTHROPIC_TYPE = {
    ErrorKind.INVALID_REQUEST: "invalid_request_error",
    ErrorKind.AUTHENTICATION: "authentication_error",
    ErrorKind.PERMISSION: "permission_error",
    ErrorKind.NOT_FOUND: "not_found_error",
    ErrorKind.TOO_LARGE: "request_too_large",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.UPSTREAM: "api_error",
    ErrorKind.TIMEOUT: "timeout_error",
    ErrorKind.INTERNAL: "api_error",
    ErrorKind.BLOCKED: "invalid_request_error",
    ErrorKind.UNAVAILABLE: "overloaded_error",
}

# https://platform.openai.com/docs/guides/error-codes
_OPENAI_TYPE = {
    ErrorKind.INVALID_REQUEST: ("invalid_request_error", None),
    ErrorKind.AUTHENTICATION: ("invalid_request_error", "invalid_api_key"),
    ErrorKind.PERMISSION: ("invalid_request_error", "permission_denied"),
    ErrorKind.NOT_FOUND: ("invalid_request_error", "not_found"),
    ErrorKind.TOO_LARGE: ("invalid_request_error", "request_too_large"),
    ErrorKind.RATE_LIMIT: ("rate_limit_error", "rate_limit_exceeded"),
    ErrorKind.UPSTREAM: ("server_error", "upstream_error"),
    ErrorKind.TIMEOUT: ("server_error", "upstream_timeout"),
    ErrorKind.INTERNAL: ("server_error", None),
    ErrorKind.BLOCKED: ("invalid_request_error", "blocked_by_policy"),
    ErrorKind.UNAVAILABLE: ("server_error", "unavailable"),
}


@dataclass(frozen=True, slots=True)
class GatewayError(Exception):
    """An error Warden answers with, instead of forwarding to the upstream."""

    kind: ErrorKind
    message: str
    rule: str | None = None

    @property
    def status(self) -> int:
        return _STATUS[self.kind]

    def __str__(self) -> str:
        return self.message


def recording_failed(exchange_id: str) -> GatewayError:
    return GatewayError(
        ErrorKind.UNAVAILABLE,
        f"Warden could not record this exchange ({exchange_id}) and its policy requires "
        "recording, so it was stopped",
    )


def error_object(error: GatewayError, flavor: Flavor) -> dict[str, Any]:
    """The JSON error body for a non-streamed answer."""
    if flavor is Flavor.ANTHROPIC:
        return {
            "type": "error",
            "error": {"type": _ANTHROPIC_TYPE[error.kind], "message": error.message},
        }
    kind, code = _OPENAI_TYPE[error.kind]
    if error.rule is not None:
        code = "blocked_by_policy"
    return {"error": {"message": error.message, "type": kind, "param": None, "code": code}}


def error_body(error: GatewayError, flavor: Flavor) -> bytes:
    return json.dumps(error_object(error, flavor), separators=(",", ":")).encode()


def stream_error_event(
    error: GatewayError, flavor: Flavor, *, responses_api: bool = False
) -> bytes:
    """The SSE event that ends a stream which already started with a 200.

    Anthropic sends ``event: error``; Chat Completions clients look for an
    ``error`` key in a ``data:`` line; the Responses API has its own ``error``
    event type.
    """
    if flavor is Flavor.ANTHROPIC:
        data = json.dumps(error_object(error, flavor), separators=(",", ":"))
        return f"event: error\ndata: {data}\n\n".encode()
    body = error_object(error, flavor)["error"]
    if responses_api:
        payload = {
            "type": "error",
            "code": body["code"] or body["type"],
            "message": body["message"],
            "param": None,
        }
        data = json.dumps(payload, separators=(",", ":"))
        return f"event: error\ndata: {data}\n\n".encode()
    data = json.dumps({"error": body}, separators=(",", ":"))
    return f"data: {data}\n\n".encode()
