"""An on-disk cache of compiled hyperscan databases.

Compiling the built-in catalogue into hyperscan takes seconds of CPU and,
while it runs, tens of MB of heap that the allocator keeps afterwards. The
compiled database is a blob (``hyperscan.dumpb``), so it is stored under a
key that covers everything it is built from (the expressions, their ids,
the mode, the binding's version) and loaded on the next start.

Robust by construction: a file is written to a temporary name and renamed
into place (readers never see half a file; concurrent writers race
harmlessly), and carries a SHA-256 of its payload that is checked before
the payload is handed to hyperscan, which checks its own version, platform
and CRC as well. Anything that fails (no directory, no permission, a
corrupt or foreign file) means "not cached": the caller compiles, as it
would without a cache.

Where: ``$WARDEN_CACHE_DIR`` when set (empty turns the cache off), else
``$XDG_CACHE_HOME/warden`` or ``~/.cache/warden``.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_MAGIC = b"warden-hs-1\n"
_DIGEST = 32
_KEEP = 16
"""Databases kept per directory; the least recently used beyond that are removed."""


def default_dir() -> Path | None:
    """The cache directory this process uses, or ``None`` when it is turned off."""
    explicit = os.environ.get("WARDEN_CACHE_DIR")
    if explicit is not None:
        return Path(explicit) if explicit else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "warden"


def key(mode: str, patterns: Sequence[str], ids: Sequence[int], *extra: Any) -> str:
    blob = json.dumps([mode, list(patterns), list(ids), list(extra)], ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _path(directory: Path, name: str) -> Path:
    return directory / f"hs-{name}.db"


def load(directory: Path | None, name: str, loader: Callable[[bytes], T]) -> T | None:
    """The cached object for ``name`` (``loader`` applied to the blob), or ``None``."""
    if directory is None:
        return None
    path = _path(directory, name)
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept when the directory is pruned
    head = len(_MAGIC) + _DIGEST
    if len(raw) <= head or not raw.startswith(_MAGIC):
        return None
    digest, payload = raw[len(_MAGIC) : head], raw[head:]
    if hashlib.sha256(payload).digest() != digest:
        return None
    try:
        return loader(payload)
    except Exception:  # a foreign or stale blob: compile instead
        return None


def store(directory: Path | None, name: str, payload: bytes) -> None:
    """Write ``payload`` for ``name`` atomically; failures are ignored."""
    if directory is None:
        return
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".hs-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, _path(directory, name))
        except BaseException:
            os.unlink(tmp)
            raise
        _prune(directory)
    except OSError:
        return


def _prune(directory: Path) -> None:
    """Remove all but the ``_KEEP`` most recently used databases."""
    files = []
    for path in directory.glob("hs-*.db"):
        with contextlib.suppress(OSError):
            files.append((path.stat().st_mtime, path))
    files.sort(reverse=True)
    for _, path in files[_KEEP:]:
        with contextlib.suppress(OSError):
            path.unlink()


def release_memory() -> None:
    """Hand freed heap back to the system (glibc keeps it otherwise).

    Hyperscan's compiler allocates tens of MB that it frees on return; glibc
    keeps the freed pages mapped, so a process that compiled once would idle
    that much larger for the rest of its life. Elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc's; musl has none
    except (OSError, AttributeError):
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
