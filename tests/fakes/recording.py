"""Every request the fake provider received, kept for assertions."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: tuple[tuple[str, str], ...]  # every header line, in order, names as sent
    body: bytes
    status: int | None = None  # the status the fake answered with, once it has

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    @property
    def json(self) -> Any:
        """The parsed body, or None when the body is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def contains(self, secret: str) -> bool:
        """Whether `secret` appears anywhere: path, query, any header, the body."""
        needle = secret.encode()
        return (
            secret in self.path
            or any(secret in k or secret in v for k, v in self.query.items())
            or any(secret in k or secret in v for k, v in self.headers)
            or needle in self.body
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": [list(h) for h in self.headers],
            "body": self.body.decode("utf-8", "replace"),
            "status": self.status,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordedRequest:
        return cls(
            method=data["method"],
            path=data["path"],
            query=dict(data["query"]),
            headers=tuple((k, v) for k, v in data["headers"]),
            body=data["body"].encode(),
            status=data.get("status"),
        )


async def record(request: web.Request) -> RecordedRequest:
    body = await request.read()
    return RecordedRequest(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers),
        body=body,
    )


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    def add(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def answered(self, request: RecordedRequest, status: int) -> None:
        with self._lock:
            for i in range(len(self._requests) - 1, -1, -1):
                if self._requests[i] is request:
                    self._requests[i] = replace(request, status=status)
                    return

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r for r in self.requests if r.path == path and (method is None or r.method == method)
        ]

    def anywhere(self, secret: str) -> bool:
        return any(r.contains(secret) for r in self.requests)
