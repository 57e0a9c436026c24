"""Multipart uploads: finding the file, inspecting its text, splicing it back."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers.inspectors import TestInspector
from tests.protocols.test_openai import exchange
from warden.pipeline.chain import Pipeline
from warden.pipeline.request import SlotWalker
from warden.protocols.openai_chat import iter_chat_slots
from warden.protocols.uploads import Upload, boundary_of, decode_cut, read_upload, split


def multipart(content: bytes, purpose: str = "user_data", name: str = "a.txt") -> tuple[str, bytes]:
    """What an SDK (httpx) sends for a file upload."""
    request = httpx.Request(
        "POST", "http://x/v1/files", files={"file": (name, content)}, data={"purpose": purpose}
    )
    return request.headers["content-type"], request.read()


def chat_only(url: str) -> SlotWalker | None:
    return iter_chat_slots if url.endswith("/chat/completions") else None


def test_the_boundary_of_form_data_only() -> None:
    assert boundary_of('multipart/form-data; boundary="a b"') == b"a b"
    assert boundary_of("multipart/form-data; boundary=xyz") == b"xyz"
    assert boundary_of("multipart/mixed; boundary=xyz") is None
    assert boundary_of("application/json") is None
    assert boundary_of("multipart/form-data") is None


def test_split_finds_every_part_and_refuses_what_is_cut() -> None:
    body = b'preamble\r\n--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--\r\n'
    [part] = split(body, b"b") or []
    assert (part.name, part.filename, body[part.start : part.end]) == ("x", None, b"1")
    assert split(body[:-8], b"b") is None  # no delimiter after the content
    assert split(b"no parts here", b"b") is None


def test_a_text_file_is_inspected_and_spliced_back_byte_for_byte() -> None:
    content_type, body = multipart(b"line one\nline two\n")
    upload = read_upload(content_type, body, chat_only)
    assert isinstance(upload, Upload) and not upload.batch and upload.purpose == "user_data"
    Pipeline([TestInspector(request_upper=True)]).inspect_request(exchange(), upload.view)
    rebuilt = upload.rebuilt()
    assert rebuilt == body.replace(b"line one\nline two\n", b"LINE ONE\nLINE TWO\n")
    assert upload.record()["text"] == "LINE ONE\nLINE TWO\n"


def test_a_batch_input_is_inspected_request_by_request() -> None:
    line = {
        "custom_id": "a",
        "url": "/v1/chat/completions",
        "body": {"messages": [{"role": "user", "content": "hi\nthere"}]},
    }
    content_type, body = multipart((json.dumps(line) + "\n").encode(), "batch", "in.jsonl")
    upload = read_upload(content_type, body, chat_only)
    assert isinstance(upload, Upload) and upload.batch
    assert [s.path for s in upload.view.slots()] == [("lines", 0, "body", "messages", 0, "content")]
    Pipeline([TestInspector(request_upper=True)]).inspect_request(exchange(), upload.view)
    [sent] = [json.loads(x) for x in upload.text().splitlines()]
    assert sent == {**line, "body": {"messages": [{"role": "user", "content": "HI\nTHERE"}]}}


def test_a_batch_line_with_a_line_separator_in_a_string_is_one_request() -> None:
    """JSON Lines end at ``\\n``: U+2028 inside a string is text, not a line end."""
    line = {
        "custom_id": "a",
        "url": "/v1/chat/completions",
        "body": {"messages": [{"role": "user", "content": "one\u2028two"}]},
    }
    text = json.dumps(line, ensure_ascii=False) + "\r\n"
    content_type, body = multipart(text.encode(), "batch", "in.jsonl")
    upload = read_upload(content_type, body, chat_only)
    assert isinstance(upload, Upload) and upload.batch
    assert [s.text for s in upload.view.slots()] == ["one\u2028two"]


def test_a_batch_line_for_another_endpoint_makes_it_plain_text() -> None:
    line = {"custom_id": "a", "url": "/v1/images/generations", "body": {"prompt": "cat"}}
    content_type, body = multipart((json.dumps(line) + "\n").encode(), "batch", "in.jsonl")
    upload = read_upload(content_type, body, chat_only)
    assert isinstance(upload, Upload) and not upload.batch


def test_a_binary_file_or_no_file_is_not_inspected_and_says_why() -> None:
    content_type, body = multipart(b"\x89PNG\r\n\x1a\n\xff", name="x.png")
    assert read_upload(content_type, body, chat_only) == {
        "name": "x.png",
        "bytes": 9,
        "inspected": False,
        "why": "binary (not UTF-8 text)",
    }
    assert read_upload("application/json", b"{}", chat_only) == {
        "inspected": False,
        "why": "not a multipart upload with a file part",
    }


@pytest.mark.parametrize(
    ("piece", "text"),
    [
        ("caf\u00e9".encode(), "caf\u00e9"),  # whole: as it is
        ("\u00e9t\u00e9".encode()[1:], "t\u00e9"),  # starts inside a character
        ("t\u20ac".encode()[:-1], "t"),  # ends inside one (three bytes, two here)
        ("\U0001f600ok\U0001f600".encode()[3:-2], "ok"),  # four-byte ones, both ends
        (b"\xff\xfe binary", None),
        (b"ok \xc3\x28 not text", None),  # broken inside, not at an end
    ],
)
def test_a_piece_cut_at_any_byte_decodes_without_its_partial_ends(
    piece: bytes, text: str | None
) -> None:
    assert decode_cut(piece) == text
