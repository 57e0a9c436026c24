"""A one-off upstream for a test: a threaded ``http.server`` whose handler the
test writes, for answers the fake provider does not give (a cut stream, an
odd content type, fields it never sends)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """An upstream written for one test: HTTP/1.1, no access log."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def answer(
        self, content_type: str | None, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        """A 200 with ``body`` whole (``Content-Length``), plus ``headers``."""
        self.send_response(200)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving(handler: type[QuietHandler], host: str = "127.0.0.1") -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def answering(content_type: str, body: bytes) -> type[QuietHandler]:
    """An upstream that answers every POST with ``body`` (status 200)."""

    class Upstream(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.answer(content_type, body)

    return Upstream


def closing_after(
    content_type: str, body: bytes, *, declared: int | None = None
) -> type[QuietHandler]:
    """An upstream that answers every GET and POST with ``body``, then closes
    the connection: a stream that stops short, or, with ``declared`` (a
    ``Content-Length`` above ``len(body)``), a body cut short."""

    class Upstream(QuietHandler):
        def _answer(self) -> None:
            length = self.headers.get("Content-Length")
            if length:
                self.rfile.read(int(length))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            if declared is not None:
                self.send_header("Content-Length", str(declared))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(body)

        do_GET = do_POST = _answer

    return Upstream


def paced(content_type: str, pieces: Sequence[bytes]) -> type[QuietHandler]:
    """An upstream that answers every GET with ``pieces``, a pause after each
    (so each arrives as a read of its own), then closes the connection."""

    class Upstream(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for piece in pieces:
                self.wfile.write(piece)
                self.wfile.flush()
                time.sleep(0.05)

    return Upstream
