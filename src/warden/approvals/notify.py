"""Telling approvers that something waits for them.

A notifier gets the approval request (masked context only) and how to act on
it. Failures are logged and never block the hold: the request stays in the
store, where ``warden approvals list`` finds it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any, Protocol

import aiohttp

from warden.approvals.store import ApprovalRequest
from warden.config.approvals import NotifierConfig
from warden.server.logs import log_fields

log = logging.getLogger("warden.approvals")


class Notifier(Protocol):
    async def notify(self, request: ApprovalRequest) -> None: ...


def _summary(request: ApprovalRequest) -> str:
    return (
        f"Warden is holding output for review: rule {request.rule} on connection "
        f"{request.connection} for {request.subject} ({request.reason}). "
        f"Approve with `warden approvals approve {request.id}` or deny with "
        f"`warden approvals deny {request.id}`."
    )


class LogNotifier:
    async def notify(self, request: ApprovalRequest) -> None:
        log_fields(
            log,
            logging.WARNING,
            "approval requested",
            approval=request.id,
            rule=request.rule,
            connection=request.connection,
            subject=request.subject,
            session=request.session_id,
        )


class WebhookNotifier:
    """POSTs the request as JSON, signed with HMAC-SHA256 when a secret is set."""

    def __init__(self, url: str, secret: str | None, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.secret = secret
        self.session = session

    def body(self, request: ApprovalRequest) -> dict[str, Any]:
        return {"type": "approval.requested", "summary": _summary(request), **request.as_dict()}

    async def notify(self, request: ApprovalRequest) -> None:
        data = json.dumps(self.body(request), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if self.secret:
            digest = hmac.new(self.secret.encode(), data, hashlib.sha256).hexdigest()
            headers["X-Warden-Signature"] = f"sha256={digest}"
        async with self.session.post(
            self.url, data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
        ) as reply:
            if reply.status >= 300:
                raise RuntimeError(f"webhook answered {reply.status}")


class SlackNotifier(WebhookNotifier):
    """A Slack incoming webhook: a text message."""

    def body(self, request: ApprovalRequest) -> dict[str, Any]:
        context = request.context[-500:]
        return {"text": f"{_summary(request)}\n```{context}```"}


def build_notifiers(
    configs: list[NotifierConfig], session: aiohttp.ClientSession
) -> list[Notifier]:
    out: list[Notifier] = []
    for config in configs:
        if config.type == "log":
            out.append(LogNotifier())
            continue
        assert config.url is not None
        url = config.url.resolve()
        secret = config.secret.resolve() if config.secret is not None else None
        if config.type == "slack":
            out.append(SlackNotifier(url, None, session))
        else:
            out.append(WebhookNotifier(url, secret, session))
    return out


async def notify_all(notifiers: list[Notifier], request: ApprovalRequest) -> None:
    for notifier in notifiers:
        try:
            await notifier.notify(request)
        except Exception as exc:  # a notifier must never break the hold
            log_fields(
                log,
                logging.ERROR,
                "approval notification failed",
                approval=request.id,
                notifier=type(notifier).__name__,
                error=f"{type(exc).__name__}: {exc}",
            )
