"""File downloads through the gateway: a text file masked as it streams,
anything else passed as it is, and what cannot be finished cut short."""

from __future__ import annotations

import http.client
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.provider import FakeProvider
from tests.helpers.gateway import GATEWAY_TOKEN, gateway_config, run_gateway
from tests.helpers.inspectors import TestInspector
from tests.helpers.upstream import paced, serving
from tests.server.test_masking import GITHUB_PAT, POLICY, PRIVATE_KEY
from warden.config.loader import parse_config
from warden.pipeline.record import RecordKind
from warden.pipeline.types import Exchange
from warden.server import inspectors
from warden.server.downloads import SNIFF_BYTES, looks_like_text

FACTORIES = (inspectors.guardrails, inspectors.masking)
MASKED_PAT = "[REDACTED:github-pat-classic]"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + GITHUB_PAT.encode() + b"\x00\xff"


class Kept:
    """A best-effort recorder that keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def record(self, exchange: Exchange, kind: RecordKind, payload: dict[str, Any]) -> None:
        self.events.append((kind.value, payload))

    async def settle(self, exchange: Exchange) -> None:
        pass

    def strict_for(self, exchange: Exchange) -> bool:
        return False

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [payload for k, payload in self.events if k == kind]


@pytest.fixture
def masked(upstream: str, env: dict[str, str]) -> Iterator[tuple[str, Kept]]:
    recorder = Kept()
    config = parse_config(gateway_config(upstream) + POLICY, env=env)
    with run_gateway(config, factories=FACTORIES, recorder=recorder) as (url, _):
        yield url, recorder


def _keep_file(provider: FakeProvider, file_id: str, content: bytes, mime: str) -> None:
    """A file Anthropic's code execution tool wrote: downloadable."""
    provider.stored[file_id] = {
        "id": file_id,
        "type": "file",
        "filename": "out.txt",
        "mime_type": mime,
        "size_bytes": len(content),
        "downloadable": True,
        "content": content,
    }


def test_a_file_the_code_execution_tool_wrote_is_masked(
    masked: tuple[str, Kept], provider: FakeProvider
) -> None:
    url, recorder = masked
    text = f"token={GITHUB_PAT}\nnaïve café ✓\n"
    _keep_file(provider, "file_011Cout", text.encode(), "text/plain")
    claude = anthropic.Anthropic(base_url=url + "/claude", api_key=GATEWAY_TOKEN, max_retries=0)
    got = claude.beta.files.download("file_011Cout").read().decode()
    assert got == f"token={MASKED_PAT}\nnaïve café ✓\n"
    recorded = "".join(event["text"] for event in recorder.of("response.event"))
    assert recorded == got
    assert [d["rule"] for d in recorder.of("decision")] == ["github-pat-classic"]
    (end,) = recorder.of("end")
    assert end["inspected"] == "text" and end["bytes"] == len(text.encode())


def test_a_binary_file_passes_byte_for_byte(
    masked: tuple[str, Kept], provider: FakeProvider
) -> None:
    """A PNG cannot be read as text: masking bytes inside it would break it."""
    url, recorder = masked
    _keep_file(provider, "file_011Cpng", PNG, "image/png")
    claude = anthropic.Anthropic(base_url=url + "/claude", api_key=GATEWAY_TOKEN, max_retries=0)
    assert claude.beta.files.download("file_011Cpng").read() == PNG
    (end,) = recorder.of("end")
    assert end["inspected"] is False and "binary" in end["why"]


def test_a_file_that_cannot_be_downloaded_is_the_providers_error(
    masked: tuple[str, Kept], provider: FakeProvider
) -> None:
    url, _ = masked
    provider.stored["file_011Cup"] = {"type": "file", "downloadable": False, "content": b"x"}
    claude = anthropic.Anthropic(base_url=url + "/claude", api_key=GATEWAY_TOKEN, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="not downloadable"):
        claude.beta.files.download("file_011Cup").read()


def test_an_openai_text_file_is_masked_and_a_batchs_output_still_read_by_line(
    masked: tuple[str, Kept], provider: FakeProvider
) -> None:
    url, _ = masked
    provider.stored["file-notes"] = {
        "object": "file",
        "content": f"notes\nuse {GITHUB_PAT} to push\n".encode(),
    }
    client = openai.OpenAI(base_url=url + "/openai/v1", api_key=GATEWAY_TOKEN, max_retries=0)
    assert client.files.content("file-notes").text == f"notes\nuse {MASKED_PAT} to push\n"


def _download(
    env: dict[str, str],
    pieces: Sequence[bytes],
    *,
    content_type: str = "application/octet-stream",
    factories: Sequence[Any] = FACTORIES,
    recorder: Any = None,
) -> bytes:
    """A download through a gateway in front of an upstream that writes
    ``pieces`` with a pause between them (so each is a read of its own): the
    body the agent gets (``http.client.IncompleteRead`` when it is cut)."""
    with serving(paced(content_type, pieces)) as upstream:
        config = parse_config(gateway_config(upstream) + POLICY, env=env)
        with run_gateway(config, factories=factories, recorder=recorder) as (url, _):
            request = urllib.request.Request(
                url + "/claude/v1/files/file_011Cx/content",
                headers={"x-api-key": GATEWAY_TOKEN},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                return bytes(response.read())


def test_a_secret_and_a_character_cut_between_two_reads_are_read_whole(
    env: dict[str, str],
) -> None:
    body = f"é {GITHUB_PAT} ✓".encode()
    cut_secret, cut_char = 10, len("é ".encode()) + len(GITHUB_PAT) + 2
    pieces = [body[:1], body[1:cut_secret], body[cut_secret:cut_char], body[cut_char:]]
    assert _download(env, pieces).decode() == f"é {MASKED_PAT} ✓"


def test_text_that_turns_out_not_to_be_utf8_is_cut_short(env: dict[str, str]) -> None:
    """What follows cannot be read, so it is not sent: the agent's client
    learns the body is incomplete."""
    recorder = Kept()
    with pytest.raises(http.client.IncompleteRead) as cut:
        _download(env, [b"plain text\n", b"\xff\xfe" + GITHUB_PAT.encode()], recorder=recorder)
    assert GITHUB_PAT.encode() not in cut.value.partial
    (end,) = recorder.of("end")
    assert end["outcome"] == "error" and "not UTF-8" in end["error"]


def test_a_blocking_rule_cuts_the_download(env: dict[str, str]) -> None:
    recorder = Kept()
    with pytest.raises(http.client.IncompleteRead) as cut:
        _download(env, [b"config:\n", PRIVATE_KEY.encode(), b"\nend\n"], recorder=recorder)
    assert b"PRIVATE KEY" not in cut.value.partial
    (end,) = recorder.of("end")
    assert end["outcome"] == "blocked" and "private-key-block" in end["error"]
    assert [d["rule"] for d in recorder.of("decision")] == ["private-key-block"]


def test_an_inspector_that_fails_cuts_the_download(env: dict[str, str]) -> None:
    failing = [lambda *_: [TestInspector(raise_on_text=True)]]
    recorder = Kept()
    with pytest.raises(http.client.IncompleteRead) as cut:
        _download(env, [b"fine text"], factories=failing, recorder=recorder)
    assert b"fine" not in cut.value.partial
    (end,) = recorder.of("end")
    assert end["outcome"] == "error"


@pytest.mark.parametrize(
    ("head", "text"),
    [
        (b"hello\n", True),
        ("naïve".encode(), True),
        ("é".encode()[:1], True),  # a character cut by the read: its end may follow
        (b"a" * SNIFF_BYTES + b"\xff", True),  # only the start decides
        (PNG, False),
        (b"text\x00with a NUL", False),
        (b"\xff\xfe", False),
        (b"", False),
    ],
)
def test_which_starts_are_text(head: bytes, text: bool) -> None:
    assert looks_like_text(head) is text
