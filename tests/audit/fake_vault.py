"""A faithful fake of HashiCorp Vault's transit engine, over real HTTP.

What Warden uses of the API, with Vault's shapes and status codes:

    POST /v1/<mount>/encrypt/<key>      {"plaintext": b64}
        -> {"data": {"ciphertext": "vault:vN:…", "key_version": N}}
    POST /v1/<mount>/decrypt/<key>      {"ciphertext": "vault:vN:…"}
        -> {"data": {"plaintext": b64}}
    POST /v1/<mount>/keys/<key>/rotate  -> 204
    POST /v1/<mount>/keys/<key>/config  {"min_decryption_version": N} -> 204

Tokens go in ``X-Vault-Token``; a wrong one is ``403 {"errors": ["permission
denied"]}``. Encrypting with a key that does not exist creates it (Vault's
upsert); decrypting with one is ``400 encryption key not found``. Keys are
AES-256-GCM96 with versions, ciphertexts ``vault:v<version>:<base64(nonce +
sealed)>``, like Vault's own. Every request is kept in ``requests``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@dataclass
class TransitKey:
    versions: list[bytes] = field(default_factory=lambda: [AESGCM.generate_key(bit_length=256)])
    min_decryption_version: int = 1

    @property
    def latest(self) -> int:
        return len(self.versions)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class FakeVault:
    def __init__(self, token: str = "s.test-root-token", mount: str = "transit") -> None:
        self.tokens = {token}
        self.mount = mount
        self.keys: dict[str, TransitKey] = {}
        self.requests: list[Seen] = []
        self.redirect_to: str | None = None
        """Answer every request with a 307 to this URL (a standby node)."""
        self._lock = threading.Lock()

    def rotate(self, name: str) -> None:
        with self._lock:
            self.keys[name].versions.append(AESGCM.generate_key(bit_length=256))

    def calls(self, operation: str) -> list[Seen]:
        return [r for r in self.requests if f"/{operation}/" in r.path]

    # -- the API -----------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Any:
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return 400, {"errors": ["failed to parse JSON input"]}
        with self._lock:
            self.requests.append(Seen(method, path, headers, body))
            if self.redirect_to is not None:
                return 307, self.redirect_to
            if headers.get("x-vault-token") not in self.tokens:
                return 403, {"errors": ["permission denied"]}
            prefix = f"/v1/{self.mount}/"
            if method != "POST" or not path.startswith(prefix):
                return 404, {"errors": []}
            parts = path[len(prefix) :].split("/")
            if len(parts) == 2 and parts[0] == "encrypt":
                return self._encrypt(parts[1], body)
            if len(parts) == 2 and parts[0] == "decrypt":
                return self._decrypt(parts[1], body)
            if len(parts) == 3 and parts[0] == "keys" and parts[2] == "rotate":
                if parts[1] not in self.keys:
                    return 400, {"errors": ["key not found"]}
                self.keys[parts[1]].versions.append(AESGCM.generate_key(bit_length=256))
                return 204, None
            if len(parts) == 3 and parts[0] == "keys" and parts[2] == "config":
                key = self.keys.get(parts[1])
                if key is None:
                    return 400, {"errors": ["key not found"]}
                key.min_decryption_version = int(body.get("min_decryption_version", 1))
                return 204, None
            return 404, {"errors": []}

    def _encrypt(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        try:
            plaintext = base64.b64decode(str(body.get("plaintext", "")), validate=True)
        except binascii.Error:
            return 400, {"errors": ["failed to base64-decode plaintext"]}
        key = self.keys.setdefault(name, TransitKey())
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(key.versions[-1]).encrypt(nonce, plaintext, None)
        text = f"vault:v{key.latest}:" + base64.b64encode(nonce + sealed).decode()
        return 200, _reply({"ciphertext": text, "key_version": key.latest})

    def _decrypt(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        key = self.keys.get(name)
        if key is None:
            return 400, {"errors": ["encryption key not found"]}
        text = str(body.get("ciphertext", ""))
        prefix, _, rest = text.partition(":")
        version_text, _, data = rest.partition(":")
        if prefix != "vault" or not version_text.startswith("v") or not data:
            return 400, {"errors": ["invalid ciphertext: no prefix"]}
        try:
            version = int(version_text[1:])
            blob = base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error):
            return 400, {"errors": ["invalid ciphertext: version number could not be decoded"]}
        if version < key.min_decryption_version:
            return 400, {"errors": ["ciphertext or signature version is disallowed by policy"]}
        if not 1 <= version <= key.latest:
            return 400, {"errors": ["invalid key version"]}
        try:
            plaintext = AESGCM(key.versions[version - 1]).decrypt(blob[:12], blob[12:], None)
        except InvalidTag:
            return 400, {"errors": ["cipher: message authentication failed"]}
        return 200, _reply({"plaintext": base64.b64encode(plaintext).decode()})


def _reply(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "request_id": secrets.token_hex(16),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": None,
        "auth": None,
    }


class _Handler(BaseHTTPRequestHandler):
    vault: FakeVault

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body = self.vault.handle(self.command, self.path, headers, raw)
        self.send_response(status)
        if status == 307:
            self.send_header("Location", str(body))
            body = None
        payload = b"" if body is None else json.dumps(body).encode()
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextlib.contextmanager
def serve(vault: FakeVault) -> Iterator[str]:
    """Run ``vault`` on 127.0.0.1 in a thread; yield its address."""
    handler = type("Handler", (_Handler,), {"vault": vault})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
