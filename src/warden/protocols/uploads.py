"""File uploads (``POST /v1/files``, both providers): the text files agents send.

A file an agent uploads reaches the provider as surely as a prompt does (it
is read by the model later, by id, or run as a batch), so a text file is
inspected like text the agent sends: the masking policy's request action
(``tokenize`` in the quickstart) applies to it. What is text: a file part
whose bytes are UTF-8. A JSON Lines batch input (OpenAI's ``purpose:
batch``, one request per line) is inspected request by request, each body
as the endpoint its ``url`` names would inspect it, so a secret inside a
JSON string is found as itself, not as its escaped form. Binary files
(PDF, images, archives) cannot be read and pass as they are; the record
says so.

Why the splitter is hand-written: the upload is already in memory (bounded
by ``limits.max_body_bytes``) and only the file part may change, byte for
byte everything else; aiohttp's ``MultipartReader`` reads from a live
stream and its writer re-encodes every part. Splitting on the boundary
(RFC 2046 section 5.1.1, RFC 7578) is all that is needed: the new file
bytes go between the same part headers and the same delimiter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from email.message import Message
from typing import Any

from warden.pipeline.request import JsonRequestView, SlotWalker
from warden.pipeline.types import SlotKind, TextSlot


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a multipart body: where its content lies, and what it is."""

    start: int
    end: int
    name: str | None
    filename: str | None


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/form-data`` content type, if it is one."""
    message = Message()
    message["content-type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        return None
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 70:
        return None
    return boundary.encode("latin-1")


def split(body: bytes, boundary: bytes) -> list[Part] | None:
    """The parts of ``body``, or ``None`` when it is not well-formed multipart."""
    delimiter = b"--" + boundary
    if not body.startswith(delimiter):
        at = body.find(b"\r\n" + delimiter)
        if at < 0:
            return None
        cursor = at + 2
    else:
        cursor = 0
    parts: list[Part] = []
    while True:
        cursor += len(delimiter)
        if body.startswith(b"--", cursor):
            return parts  # the close delimiter
        line_end = body.find(b"\r\n", cursor)
        if line_end < 0:
            return None
        head_end = body.find(b"\r\n\r\n", line_end)
        if head_end < 0:
            return None
        headers = body[line_end + 2 : head_end + 2]
        start = head_end + 4
        end = body.find(b"\r\n" + delimiter, start)
        if end < 0:
            return None
        parts.append(_part(headers, start, end))
        cursor = end + 2


def _part(headers: bytes, start: int, end: int) -> Part:
    message = Message()
    for line in headers.decode("latin-1").split("\r\n"):
        field, sep, value = line.partition(":")
        if sep:
            message[field.strip()] = value.strip()
    name = message.get_param("name", header="content-disposition")
    filename = message.get_filename()
    return Part(start, end, name if isinstance(name, str) else None, filename)


def form_value(body: bytes, parts: list[Part], name: str) -> str | None:
    """A plain (non-file) field's value, as text."""
    for part in parts:
        if part.name == name and part.filename is None:
            return body[part.start : part.end].decode("utf-8", "replace")
    return None


def file_part(parts: list[Part], field: str = "file") -> Part | None:
    """The uploaded file: the part named ``field`` that carries a file name
    (a chunked upload's ``data`` may come without one)."""
    named = [p for p in parts if p.name == field]
    return next((p for p in named if p.filename is not None), named[0] if named else None)


def decode_cut(content: bytes) -> str | None:
    """A piece of a UTF-8 file cut at arbitrary bytes (a part of a chunked
    upload), decoded without the partial characters at its two ends (at most
    three bytes each: they cannot hold a word); ``None`` when it is not text."""
    whole = _decode(content)
    if whole is not None:
        return whole
    start = 0
    while start < min(3, len(content)) and content[start] & 0xC0 == 0x80:
        start += 1
    end = len(content)
    for back in range(1, min(3, end - start) + 1):
        lead = content[end - back]
        if lead & 0xC0 == 0xC0:  # a lead byte: is its character complete?
            need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            if back < need:
                end -= back
            break
        if lead < 0x80:
            break
    return _decode(content[start:end])


def _decode(content: bytes) -> str | None:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def splice(body: bytes, part: Part, content: bytes) -> bytes:
    return body[: part.start] + content + body[part.end :]


def text_view(text: str) -> JsonRequestView:
    """A view over a text file: one slot, the whole file."""

    def walk(body: Any) -> Iterator[TextSlot]:
        yield TextSlot(("file",), SlotKind.USER, body["file"], "user")

    return JsonRequestView({"file": text}, "files.upload", walk)


def batch_view(text: str, walker_for: Callable[[str], SlotWalker | None]) -> JsonRequestView | None:
    """A view over a JSON Lines batch input, each line's ``body`` walked as the
    endpoint its ``url`` names walks a request; ``None`` when a line is not a
    batch request (the file is then inspected as text)."""
    lines: list[Any] = []
    walkers: list[SlotWalker] = []
    for raw in text.split("\n"):  # not splitlines: U+2028 in a string is text
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            return None
        walker = (
            walker_for(line["url"])
            if isinstance(line, dict) and isinstance(line.get("url"), str)
            else None
        )
        if walker is None or not isinstance(line.get("body"), dict):
            return None
        lines.append(line)
        walkers.append(walker)

    def walk(body: Any) -> Iterator[TextSlot]:
        for i, (line, walker) in enumerate(zip(body["lines"], walkers, strict=True)):
            for slot in walker(line["body"]):
                yield replace(slot, path=("lines", i, "body", *slot.path))

    return JsonRequestView({"lines": lines}, "files.upload", walk)


def batch_text(view: JsonRequestView) -> str:
    """A batch input view's lines as JSON Lines again."""
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in view.json["lines"])


@dataclass
class Upload:
    """A text file upload, ready for the request inspectors."""

    body: bytes
    part: Part
    view: JsonRequestView
    batch: bool
    purpose: str | None
    original: str

    def text(self) -> str:
        """The file as the inspectors left it."""
        return batch_text(self.view) if self.batch else str(self.view.json["file"])

    def rebuilt(self) -> bytes:
        """The upload with the file's new text, every other byte as it was."""
        return splice(self.body, self.part, self.text().encode("utf-8"))

    def record(self) -> dict[str, Any]:
        return {
            "name": self.part.filename,
            "purpose": self.purpose,
            "inspected": "batch" if self.batch else "text",
            "text": self.text(),
        }


def read_upload(
    content_type: str,
    body: bytes,
    walker_for: Callable[[str], SlotWalker | None],
    *,
    field: str = "file",
    cut: bool = False,
) -> Upload | dict[str, Any]:
    """The text file in a multipart upload (its form field ``field``; with
    ``cut``, a piece of a file cut at any byte); or, when there is none to
    read, what the record says instead (its name and size, and why)."""
    boundary = boundary_of(content_type)
    parts = split(body, boundary) if boundary is not None else None
    part = file_part(parts, field) if parts else None
    if parts is None or part is None:
        return {"inspected": False, "why": "not a multipart upload with a file part"}
    content = body[part.start : part.end]
    text = decode_cut(content) if cut else _decode(content)
    if text is None:
        return {
            "name": part.filename,
            "bytes": len(content),
            "inspected": False,
            "why": "binary (not UTF-8 text)",
        }
    purpose = form_value(body, parts, "purpose")
    view = batch_view(text, walker_for) if purpose == "batch" else None
    batch = view is not None
    return Upload(body, part, view or text_view(text), batch, purpose, text)
