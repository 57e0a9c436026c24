"""HashiCorp Vault's transit engine as the key-encryption key (a KMS).

The data keys that encrypt raw payloads are wrapped and unwrapped by Vault
(``POST /v1/<mount>/encrypt/<key>`` and ``POST /v1/<mount>/decrypt/<key>``);
the key-encryption key never leaves Vault. Vault versions the key itself:
after ``vault write -f transit/keys/<key>/rotate`` new data keys are wrapped
by the newest version and older ones still unwrap (each ciphertext names its
version, ``vault:v2:…``), so the key id Warden stores with a data key stays
the same across rotations.

The spec, in ``store.raw_key`` or ``warden audit reveal --key``::

    vault-transit:https://vault.example:8200/warden-audit
    vault-transit:https://vault.example:8200/kms/transit/warden-audit?token_file=/run/vault/token

The last path segment is the key's name, anything before it the engine's
mount (default ``transit``). Query parameters: ``token_env`` (default
``VAULT_TOKEN``) or ``token_file``, both read on every call so a renewed
token is picked up; ``namespace`` (default ``$VAULT_NAMESPACE``);
``ca_file`` (default ``$VAULT_CACERT``); ``timeout`` in seconds (default 5).

Calls block (``urllib``): the audit writer wraps data keys in its own thread,
once per session, and a reveal unwraps in a worker thread. Redirects are
not followed, so the token only ever goes to the configured address.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from warden.audit.crypto import KeyProviderError, UnknownKeyError
from warden.refs import CredentialRef

SCHEME = "vault-transit"
DEFAULT_MOUNT = "transit"
DEFAULT_TIMEOUT = 5.0
_MAX_RESPONSE = 1 << 20
_KEY_ID_SIZE = 64
_QUERY = frozenset({"token_env", "token_file", "namespace", "ca_file", "timeout"})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class VaultTransitKeyProvider:
    """A :class:`~warden.audit.crypto.KeyProvider` backed by Vault's transit engine."""

    def __init__(
        self,
        address: str,
        key: str,
        *,
        mount: str = DEFAULT_MOUNT,
        token: CredentialRef | None = None,
        namespace: str | None = None,
        ca_file: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        parsed = urllib.parse.urlsplit(address)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise KeyProviderError(f"Vault address {address!r}: expected http(s)://host[:port]")
        if not key or "/" in key or not mount.strip("/"):
            raise KeyProviderError("a Vault transit key needs a name and a mount")
        if not timeout > 0:
            raise KeyProviderError("the Vault timeout must be a positive number of seconds")
        self.address = f"{parsed.scheme}://{parsed.netloc}"
        self.key = key
        self.mount = mount.strip("/")
        self.token = token or CredentialRef(env="VAULT_TOKEN")
        self.namespace = namespace or None
        self.timeout = timeout
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if ca_file:
            try:
                context = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise KeyProviderError(f"cannot load the Vault CA file {ca_file}: {exc}") from exc
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)
        name = f"{SCHEME}:{self.mount}/{self.key}"
        if len(name) > _KEY_ID_SIZE:
            name = f"{SCHEME}:" + hashlib.sha256(name.encode()).hexdigest()[:32]
        self._key_id = name

    @classmethod
    def from_spec(
        cls, spec: str, environ: Mapping[str, str] | None = None
    ) -> VaultTransitKeyProvider:
        """``vault-transit:URL/[MOUNT/]KEY[?token_env=…&token_file=…&namespace=…&ca_file=…&timeout=…]``."""
        env = os.environ if environ is None else environ
        scheme, _, url = spec.partition(":")
        if scheme != SCHEME:
            raise KeyProviderError(f"key spec {spec!r} is not a {SCHEME}: spec")
        parts = urllib.parse.urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        if parts.scheme not in ("http", "https") or not parts.netloc or not segments:
            raise KeyProviderError(
                f"key spec {spec!r}: expected {SCHEME}:https://HOST:PORT/[MOUNT/]KEY"
            )
        try:
            query = dict(urllib.parse.parse_qsl(parts.query, strict_parsing=bool(parts.query)))
        except ValueError:
            raise KeyProviderError(f"key spec {spec!r}: malformed query string") from None
        unknown = sorted(set(query) - _QUERY)
        if unknown:
            raise KeyProviderError(
                f"key spec {spec!r}: unknown parameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_QUERY))}"
            )
        if "token_env" in query and "token_file" in query:
            raise KeyProviderError(f"key spec {spec!r}: give token_env or token_file, not both")
        token = (
            CredentialRef(file=Path(query["token_file"]))
            if "token_file" in query
            else CredentialRef(env=query.get("token_env", "VAULT_TOKEN"))
        )
        try:
            timeout = float(query.get("timeout", DEFAULT_TIMEOUT))
        except ValueError:
            raise KeyProviderError(f"key spec {spec!r}: timeout must be a number") from None
        *mount, key = (urllib.parse.unquote(s) for s in segments)
        return cls(
            f"{parts.scheme}://{parts.netloc}",
            key,
            mount="/".join(mount) or DEFAULT_MOUNT,
            token=token,
            namespace=query.get("namespace", env.get("VAULT_NAMESPACE")),
            ca_file=query.get("ca_file", env.get("VAULT_CACERT")),
            timeout=timeout,
        )

    @property
    def key_id(self) -> str:
        return self._key_id

    def wrap(self, data_key: bytes) -> bytes:
        data = self._call("encrypt", {"plaintext": base64.b64encode(data_key).decode("ascii")})
        ciphertext = data.get("ciphertext")
        if not isinstance(ciphertext, str) or not ciphertext.startswith("vault:v"):
            raise KeyProviderError(f"Vault returned no ciphertext for key {self.key!r}")
        return ciphertext.encode("ascii")

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        if key_id != self._key_id:
            raise UnknownKeyError(
                f"key-encryption key {key_id} is not available (Vault has {self._key_id})"
            )
        try:
            ciphertext = wrapped.decode("ascii")
        except UnicodeDecodeError:
            raise KeyProviderError("the wrapped data key is not a Vault ciphertext") from None
        data = self._call("decrypt", {"ciphertext": ciphertext})
        try:
            return base64.b64decode(str(data.get("plaintext", "")), validate=True)
        except (binascii.Error, ValueError):
            raise KeyProviderError(f"Vault returned no plaintext for key {self.key!r}") from None

    def _call(self, operation: str, body: dict[str, str]) -> dict[str, Any]:
        try:
            token = self.token.resolve()
        except (LookupError, OSError) as exc:
            raise KeyProviderError(f"no Vault token ({self.token.describe()}): {exc}") from None
        path = "/".join(urllib.parse.quote(p, safe="") for p in (*self.mount.split("/"), ""))
        url = f"{self.address}/v1/{path}{operation}/{urllib.parse.quote(self.key, safe='')}"
        headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        request = urllib.request.Request(
            url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        what = f"Vault transit {operation} with key {self.mount}/{self.key}"
        try:
            with self._opener.open(request, timeout=self.timeout) as reply:
                text = reply.read(_MAX_RESPONSE)
        except urllib.error.HTTPError as exc:
            with exc:
                detail = _errors(exc.read(_MAX_RESPONSE))
            raise KeyProviderError(f"{what} failed: HTTP {exc.code}{detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise KeyProviderError(f"cannot reach Vault at {self.address}: {reason}") from None
        try:
            document = json.loads(text)
        except ValueError:
            raise KeyProviderError(f"{what}: the reply is not JSON") from None
        data = document.get("data") if isinstance(document, dict) else None
        if not isinstance(data, dict):
            raise KeyProviderError(f"{what}: the reply has no data")
        return data


def _errors(body: bytes) -> str:
    """Vault's ``{"errors": [...]}``, as ``": a; b"`` (empty when there are none)."""
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(errors, list) or not errors:
        return ""
    return ": " + "; ".join(str(e)[:200] for e in errors[:5])
