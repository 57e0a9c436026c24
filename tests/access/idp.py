"""The company IdP of the tests: ``oidc-provider-mock``, a real OpenID provider
(authlib's authorization server) running in a thread. A thin WSGI wrapper
records what Warden sends it (authorization and token requests) so the tests
can check state, nonce and PKCE on the wire."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import werkzeug.serving

# The IdP's own dependencies (authlib, flask) deprecate things inside its
# server thread; that is the peer's business, not Warden's.
IDP_WARNINGS = (
    "ignore::authlib.deprecate.AuthlibDeprecationWarning",
    "ignore::DeprecationWarning:authlib",
    "ignore::DeprecationWarning:oidc_provider_mock",
)


@dataclass
class Idp:
    url: str
    token_requests: list[dict[str, str]] = field(default_factory=list)

    async def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        async with aiohttp.ClientSession() as http:
            response = await http.put(f"{self.url}/users/{quote(sub, safe='')}", json=claims)
            assert response.status == 204, await response.text()

    async def authorize(self, authorize_url: str, sub: str, *, deny: bool = False) -> str:
        """A person signs in at the IdP; returns where the IdP sends the browser."""
        assert authorize_url.startswith(self.url), authorize_url
        form = {"action": "deny"} if deny else {"sub": sub}
        async with aiohttp.ClientSession() as http:
            response = await http.post(authorize_url, data=form, allow_redirects=False)
            assert response.status in (302, 303), await response.text()
            return response.headers["Location"]


def _recorder(app: Any, idp: Idp) -> Callable[..., Iterable[bytes]]:
    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/oauth2/token":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(size)
            environ["wsgi.input"] = io.BytesIO(body)
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            idp.token_requests.append(form)
        result: Iterable[bytes] = app(environ, start_response)
        return result

    return wrapped


@contextmanager
def run_idp() -> Iterator[Idp]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import oidc_provider_mock
    flask_app = oidc_provider_mock.app(require_nonce=True)
    server = werkzeug.serving.make_server("localhost", 0, flask_app, threaded=True)
    idp = Idp(url=f"http://localhost:{server.server_port}")
    server.app = _recorder(flask_app, idp)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield idp
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
