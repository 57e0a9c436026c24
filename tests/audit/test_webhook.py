from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.audit.helpers import conversation, exchange
from warden.audit.recorder import Recorder
from warden.audit.store import Store
from warden.audit.webhook import SIGNATURE_HEADER, WebhookSink, sign_body, verify_signature

SECRET = b"s3cret"


class Receiver:
    """A local HTTP endpoint answering with scripted statuses (then 200)."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.bodies: list[bytes] = []
        self.signatures: list[str] = []
        self.received = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                with receiver.received:
                    receiver.bodies.append(body)
                    receiver.signatures.append(self.headers[SIGNATURE_HEADER])
                    receiver.received.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/audit"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int) -> None:
        with self.received:
            assert self.received.wait_for(lambda: len(self.bodies) >= count, timeout=60)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_batches_are_signed(receiver: Receiver) -> None:
    sink = WebhookSink(receiver.url, SECRET)
    sink.publish([{"type": "event", "seq": 1}, {"type": "event", "seq": 2}])
    receiver.wait_for(1)
    sink.close()
    body = receiver.bodies[0]
    assert verify_signature(SECRET, body, receiver.signatures[0])
    assert not verify_signature(b"other", body, receiver.signatures[0])
    document = json.loads(body)
    assert document["source"] == "warden-audit"
    assert [r["seq"] for r in document["records"]] == [1, 2]
    assert sink.metrics["sent"] == 2


def test_failures_are_retried_with_back_off(receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 429]
    sink = WebhookSink(receiver.url, SECRET, base_delay=0.01, max_delay=0.02)
    sink.publish([{"type": "event", "seq": 1}])
    receiver.wait_for(4)
    sink.close()
    assert len(set(receiver.bodies)) == 1  # the same signed body each time
    assert sink.metrics["retries"] == 3 and sink.metrics["sent"] == 1


def test_client_errors_are_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [400]
    sink = WebhookSink(receiver.url, SECRET, base_delay=0.01)
    sink.publish([{"type": "event"}])
    receiver.wait_for(1)
    sink.close()
    assert sink.metrics["failed"] == 1 and sink.metrics["retries"] == 0


def test_an_unreachable_endpoint_gives_up_and_counts() -> None:
    sink = WebhookSink("http://127.0.0.1:9/", SECRET, max_attempts=2, base_delay=0.01, timeout=2)
    sink.publish([{"type": "event"}])
    sink.close(timeout=30)
    assert sink.metrics["failed"] == 1


def test_the_queue_is_bounded_and_drops_the_oldest() -> None:
    sink = WebhookSink("http://127.0.0.1:9/", SECRET, max_queue=2, max_attempts=1000, base_delay=60)
    for i in range(5):
        sink.publish([{"i": i}])
    metrics = sink.metrics
    sink.close(timeout=0)
    assert metrics["queued"] <= 2 and metrics["dropped"] >= 2


def test_signature_format() -> None:
    assert sign_body(b"k", b"{}").startswith("sha256=")
    with pytest.raises(ValueError):
        WebhookSink("ftp://x", SECRET)


async def test_the_recorder_publishes_events_and_checkpoints(
    store: Store, receiver: Receiver, tmp_path: Path
) -> None:
    sink = WebhookSink(receiver.url, SECRET)
    async with Recorder(store, instance_id="gw-1", sinks=[sink]) as recorder:
        await conversation(recorder, exchange())
    records = [r for body in receiver.bodies for r in json.loads(body)["records"]]
    events = [r for r in records if r["type"] == "event"]
    checkpoints = [r for r in records if r["type"] == "checkpoint"]
    assert [e["seq"] for e in events] == list(range(1, 8))
    assert events[0]["payload"]["path"] == "/v1/messages"
    assert [c["seq"] for c in checkpoints] == [7]
