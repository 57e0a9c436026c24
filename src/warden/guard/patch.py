"""The files an ``apply_patch`` body (the Codex patch format) writes.

::

    *** Begin Patch
    *** Add File: path        (every following "+" line is the new content)
    *** Update File: path     (hunks; "+" lines are what gets written)
    *** Move to: new/path     (the update also writes here)
    *** Delete File: path
    *** End Patch

Every named path is a write (a delete too: removing ``.git/hooks/pre-commit``
matters as much as writing it); the added lines are the content scanned for
secrets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^\*\*\* (Add File|Update File|Delete File|Move to): (.+?)\s*$")


@dataclass(frozen=True, slots=True)
class PatchedFile:
    path: str
    operation: str
    """``add``, ``update``, ``delete`` or ``move``."""
    content: str


def looks_like_patch(text: str) -> bool:
    return text.lstrip().startswith("*** Begin Patch")


def patched_files(text: str) -> list[PatchedFile]:
    files: list[PatchedFile] = []
    targets: list[tuple[str, str]] = []
    added: list[str] = []

    def flush() -> None:
        content = "\n".join(added)
        files.extend(PatchedFile(path, operation, content) for path, operation in targets)
        targets.clear()
        added.clear()

    for line in text.split("\n"):  # as Codex reads it: U+2028 is content
        line = line.removesuffix("\r")
        header = _HEADER.match(line)
        if header:
            kind, path = header.group(1), header.group(2)
            if kind == "Move to" and targets:
                targets.append((path, "move"))
                continue
            flush()
            targets.append((path, kind.split()[0].lower()))
        elif line.startswith("+") and targets:
            added.append(line[1:])
        elif line.startswith("*** End Patch"):
            flush()
    flush()
    return files
