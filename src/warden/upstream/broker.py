"""Credential brokering: strip what the agent sent, inject what only we hold.

The agent's own credential (its *gateway* token) never reaches the
upstream, and the upstream credential never reaches the agent: it is read
from its reference when used, put only into the outgoing request, and
scrubbed from anything coming back (providers echo keys in auth errors).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

import aiohttp
from multidict import CIMultiDict

from warden.config.model import ConnectionConfig, ConnectionType, EntraConfig

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_STRIP_REQUEST = HOP_BY_HOP | {
    "host",
    "content-length",
    "accept-encoding",
    # the server already decoded a compressed body: what goes on is plain
    "content-encoding",
    "authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "x-warden-session",
}
_STRIP_RESPONSE = HOP_BY_HOP | {"content-length", "content-encoding", "set-cookie"}

# OpenAI echoes a partly starred key in its 401 message: "sk-proj-****abcd".
_ECHOED_KEY = re.compile(rb"(?:sk|key|api)[-_][A-Za-z0-9_-]{0,16}\*{3,}[A-Za-z0-9_-]{0,8}")
SCRUBBED = b"[REDACTED:upstream-credential]"
_ECHO_HOLDBACK = 63
"""Bytes of a starred echo a streamed body holds back: the echoes providers
send are 20 to 40 bytes; a longer run of stars split across reads could
leave its first part unscrubbed (it is already starred)."""
_REMEMBERED = 8
"""Upstream credentials a broker scrubs for: the current one and the last few."""


class CredentialUnavailable(Exception):
    """The gateway could not obtain the upstream credential."""


class EntraTokenSource:
    """OAuth 2.0 client-credentials tokens for a service principal, cached
    until five minutes before they expire."""

    def __init__(self, entra: EntraConfig, session: aiohttp.ClientSession) -> None:
        self._entra = entra
        self._session = session
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    @property
    def current(self) -> str | None:
        return self._token

    async def token(self) -> str:
        if self._token is not None and time.monotonic() < self._expires:
            return self._token
        async with self._lock:
            if self._token is not None and time.monotonic() < self._expires:
                return self._token
            entra = self._entra
            url = f"{entra.authority.rstrip('/')}/{entra.tenant_id}/oauth2/v2.0/token"
            form = {
                "grant_type": "client_credentials",
                "client_id": entra.client_id,
                "client_secret": entra.client_secret.resolve(),
                "scope": entra.scope,
            }
            try:
                async with self._session.post(
                    url, data=form, timeout=aiohttp.ClientTimeout(total=30)
                ) as resp:
                    payload = await resp.json(content_type=None)
                    if resp.status != 200 or not isinstance(payload, dict):
                        raise CredentialUnavailable(f"Entra token endpoint answered {resp.status}")
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise CredentialUnavailable(
                    f"Entra token endpoint failed: {type(exc).__name__}"
                ) from exc
            token = payload.get("access_token")
            if not isinstance(token, str) or not token:
                raise CredentialUnavailable("Entra token endpoint returned no access_token")
            lifetime = float(payload.get("expires_in", 3599))
            self._token = token
            self._expires = time.monotonic() + max(lifetime - 300, lifetime / 2)
            return token


class Broker:
    """Builds the upstream request for one connection."""

    def __init__(self, connection: ConnectionConfig, session: aiohttp.ClientSession) -> None:
        self.connection = connection
        self._entra = (
            EntraTokenSource(connection.entra, session) if connection.entra is not None else None
        )
        self._seen: dict[bytes, None] = {}
        """The credentials sent lately, oldest first (at most ``_REMEMBERED``):
        an Entra token changes every hour, and a process runs for months."""

    def url(self, tail: str, query: str) -> str:
        url = f"{self.connection.upstream}/{tail}"
        conn = self.connection
        if conn.type is ConnectionType.AZURE_OPENAI and conn.api_version:
            pairs = parse_qsl(query, keep_blank_values=True)
            if not any(k == "api-version" for k, _ in pairs):
                pairs.append(("api-version", conn.api_version))
                query = urlencode(pairs)
        return f"{url}?{query}" if query else url

    async def headers(self, client: Mapping[str, str]) -> CIMultiDict[str]:
        out: CIMultiDict[str] = CIMultiDict()
        for name, value in client.items():
            if name.lower() not in _STRIP_REQUEST and not name.lower().startswith("x-forwarded-"):
                out.add(name, value)
        secret = await self._secret()
        kind = self.connection.type
        if kind is ConnectionType.ANTHROPIC:
            out["x-api-key"] = secret
        elif kind is ConnectionType.OPENAI or self._entra is not None:
            out["Authorization"] = f"Bearer {secret}"
        else:
            out["api-key"] = secret
        return out

    async def _secret(self) -> str:
        try:
            if self._entra is not None:
                secret = await self._entra.token()
            else:
                assert self.connection.credential is not None
                secret = self.connection.credential.resolve()
        except (LookupError, OSError) as exc:
            raise CredentialUnavailable(str(exc)) from None
        raw = secret.encode()
        if raw not in self._seen:
            self._seen[raw] = None
            if len(self._seen) > _REMEMBERED:
                del self._seen[next(iter(self._seen))]
        return secret

    def scrub(self, data: bytes) -> bytes:
        """Remove any upstream credential (or a starred echo of one)."""
        for secret in self._seen:
            if secret and secret in data:
                data = data.replace(secret, SCRUBBED)
        if b"***" in data:
            data = _ECHOED_KEY.sub(SCRUBBED, data)
        return data

    def scrubber(self) -> StreamScrubber:
        """A scrubber for a body that arrives in pieces."""
        return StreamScrubber(self)

    def uncrossed(self, data: bytes, cut: int) -> int:
        """``cut`` moved back to the start of any match that crosses it."""
        moved = True
        while moved:
            moved = False
            for secret in self._seen:
                if len(secret) < 2:
                    continue  # one byte cannot cross a cut
                at = data.find(secret, max(0, cut - len(secret) + 1), cut + len(secret) - 1)
                if 0 <= at < cut:
                    cut, moved = at, True
            if b"***" in data:
                for match in _ECHOED_KEY.finditer(data):
                    if match.start() < cut < match.end():
                        cut, moved = match.start(), True
        return cut

    @property
    def holdback(self) -> int:
        """Bytes a credential (or its starred echo) split across two pieces
        can have in the first one."""
        longest = max((len(secret) for secret in self._seen), default=0)
        return max(longest - 1, _ECHO_HOLDBACK)


class StreamScrubber:
    """Scrubs a streamed body: each piece goes out but for its last
    :attr:`Broker.holdback` bytes after its last line end, raw, which wait
    for the next piece, so a credential or echo split across two reads is
    still found whole. The cut moves back to the start of any match that
    crosses it."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._tail = b""

    def feed(self, piece: bytes) -> bytes:
        data = self._tail + piece
        # No credential holds a line end: up to the last one is settled, so
        # a line-oriented stream (SSE, NDJSON) waits for nothing but its
        # unfinished line.
        cut = max(len(data) - self._broker.holdback, data.rfind(b"\n") + 1)
        if cut <= 0:
            self._tail = data
            return b""
        cut = self._broker.uncrossed(data, cut)
        self._tail = data[cut:]
        return self._broker.scrub(data[:cut])

    def finish(self) -> bytes:
        out, self._tail = self._broker.scrub(self._tail), b""
        return out


def response_headers(upstream: Mapping[str, str]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.items():
        if name.lower() not in _STRIP_RESPONSE:
            out.add(name, value)
    return out
