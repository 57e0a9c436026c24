"""The CLI side of sign-in: the device flow, refresh, token exchange, stored credentials.

Credentials live in ``$WARDEN_HOME/credentials.json`` (default
``$XDG_CONFIG_HOME/warden`` or ``~/.config/warden``), a 0600 file in a 0700
directory, keyed by gateway URL. It holds the current gateway token and the
refresh token of the sign-in; :func:`valid_token` returns a token with at
least a minute left, refreshing (or re-exchanging a CI token) when needed,
so ``warden token`` can be Claude Code's ``apiKeyHelper``.

Synchronous and stdlib-only (``urllib``): the CLI starts fast and needs no
event loop.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIENT_ID = "warden-cli"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
DEFAULT_GATEWAY = "http://127.0.0.1:8080"
MIN_REMAINING = 60
TIMEOUT = 30


class ClientError(Exception):
    """Something the person at the terminal should read."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


def home() -> Path:
    explicit = os.environ.get("WARDEN_HOME")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "warden"


def credentials_path() -> Path:
    return home() / "credentials.json"


def load_credentials() -> dict[str, Any]:
    try:
        data = json.loads(credentials_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"gateways": {}}
    except ValueError:
        raise ClientError(
            f"{credentials_path()} is not valid JSON; delete it and sign in"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("gateways"), dict):
        return {"gateways": {}}
    return data


def save_credentials(data: dict[str, Any]) -> None:
    """Atomically, 0600 from the first byte (never world-readable, not even briefly)."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(temporary, path)


def gateway_url(explicit: str | None) -> str:
    """``--gateway``, else ``$WARDEN_GATEWAY``, else the last used, else the local default."""
    if explicit:
        return explicit.rstrip("/")
    env = os.environ.get("WARDEN_GATEWAY")
    if env:
        return env.rstrip("/")
    default = load_credentials().get("default")
    return str(default).rstrip("/") if default else DEFAULT_GATEWAY


def post_form(url: str, form: dict[str, str]) -> Answer:
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    return _send(request)


def call(
    url: str, *, token: str, method: str = "GET", body: dict[str, Any] | None = None
) -> Answer:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return _send(urllib.request.Request(url, data=data, headers=headers, method=method))


def _send(request: urllib.request.Request) -> Answer:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ClientError(f"cannot reach {request.full_url}: {reason}") from None
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    return Answer(status, body if isinstance(body, dict) else {})


def _remember(gateway: str, tokens: dict[str, Any], **extra: Any) -> dict[str, Any]:
    data = load_credentials()
    entry = {
        "access_token": tokens["access_token"],
        "expires_at": int(time.time()) + int(tokens.get("expires_in", 0)),
        **extra,
    }
    previous = data["gateways"].get(gateway, {})
    refresh = tokens.get("refresh_token")
    if refresh:
        entry["refresh_token"] = refresh
    elif "exchange" not in extra and previous.get("refresh_token"):
        entry["refresh_token"] = previous["refresh_token"]
    data["gateways"][gateway] = entry
    data["default"] = gateway
    save_credentials(data)
    return entry


def device_login(
    gateway: str,
    *,
    show: Callable[[str], None],
    open_browser: Callable[[str], object] | None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """RFC 8628 from the device side; returns the stored credentials."""
    start = post_form(f"{gateway}/auth/device/code", {"client_id": CLIENT_ID})
    if start.status != 200:
        raise ClientError(_oauth_message(start, "the gateway refused to start a sign-in"))
    grant = start.body
    verification = str(grant.get("verification_uri_complete") or grant["verification_uri"])
    show(f"To sign in, open {verification}\nand check that it shows the code {grant['user_code']}.")
    if open_browser is not None:
        open_browser(verification)
    interval = float(grant.get("interval", 5))
    deadline = time.monotonic() + float(grant.get("expires_in", 600))
    while time.monotonic() < deadline:
        answer = post_form(
            f"{gateway}/auth/token",
            {
                "grant_type": DEVICE_GRANT,
                "device_code": grant["device_code"],
                "client_id": CLIENT_ID,
            },
        )
        if answer.status == 200:
            return _remember(gateway, answer.body)
        error = answer.body.get("error")
        if error == "authorization_pending":
            sleep(interval)
        elif error == "slow_down":
            interval += 5
            sleep(interval)
        else:
            raise ClientError(_oauth_message(answer, "the sign-in failed"))
    raise ClientError("the sign-in took too long; run `warden login` again")


def refresh(gateway: str, refresh_token: str) -> dict[str, Any] | None:
    answer = post_form(
        f"{gateway}/auth/token",
        {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID},
    )
    if answer.status != 200:
        return None
    return _remember(gateway, answer.body)


def exchange(gateway: str, subject_token: str, source: str) -> dict[str, Any]:
    answer = post_form(
        f"{gateway}/auth/token",
        {
            "grant_type": EXCHANGE_GRANT,
            "subject_token": subject_token,
            "subject_token_type": JWT_TYPE,
        },
    )
    if answer.status != 200:
        raise ClientError(_oauth_message(answer, "the gateway refused the token exchange"))
    return _remember(gateway, answer.body, exchange=source)


def github_actions_token(audience: str) -> str:
    """A fresh OIDC token from the GitHub Actions runner (needs ``id-token: write``)."""
    url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    bearer = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        raise ClientError(
            "not in a GitHub Actions job with `permissions: id-token: write` "
            "(ACTIONS_ID_TOKEN_REQUEST_URL is unset)"
        )
    separator = "&" if "?" in url else "?"
    target = f"{url}{separator}audience={urllib.parse.quote(audience, safe='')}"
    answer = call(target, token=bearer)
    value = answer.body.get("value")
    if answer.status != 200 or not isinstance(value, str):
        raise ClientError(f"GitHub did not issue an OIDC token (HTTP {answer.status})")
    return value


def valid_token(
    gateway: str, *, subject_token: Callable[[], str] | None = None, source: str = ""
) -> str:
    """A gateway token with at least a minute left: stored, refreshed or exchanged."""
    entry = load_credentials()["gateways"].get(gateway) or {}
    fresh = entry.get("access_token") and entry.get("expires_at", 0) - time.time() > MIN_REMAINING
    if fresh and (subject_token is None or entry.get("exchange") == source):
        return str(entry["access_token"])
    if subject_token is not None:
        return str(exchange(gateway, subject_token(), source)["access_token"])
    if entry.get("refresh_token"):
        renewed = refresh(gateway, str(entry["refresh_token"]))
        if renewed is not None:
            return str(renewed["access_token"])
        raise ClientError(f"your sign-in to {gateway} has ended; run `warden login` again")
    raise ClientError(f"not signed in to {gateway}; run `warden login`")


def logout(gateway: str) -> bool:
    data = load_credentials()
    entry = data["gateways"].pop(gateway, None)
    if entry is None:
        return False
    if entry.get("refresh_token"):
        # Forget it locally even if the gateway is unreachable; it ends with its session.
        with contextlib.suppress(ClientError):
            post_form(f"{gateway}/auth/revoke", {"token": str(entry["refresh_token"])})
    if data.get("default") == gateway:
        data.pop("default")
    save_credentials(data)
    return True


def _oauth_message(answer: Answer, fallback: str) -> str:
    description = answer.body.get("error_description") or answer.body.get("message")
    error = answer.body.get("error")
    if description:
        return f"{fallback}: {description}"
    if error:
        return f"{fallback}: {error}"
    return f"{fallback} (HTTP {answer.status})"
