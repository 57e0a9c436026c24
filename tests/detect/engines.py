"""Engines shared by the detection tests, built once per test session.

The built-in catalogue takes seconds to compile, so tests share one engine
per (catalogue, backend); engines are immutable, so sharing is safe.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from warden.detect.catalogue import Catalogue
from warden.detect.engine import Engine
from warden.detect.mask import Masker
from warden.detect.vault import MemoryVault

DATA = Path(__file__).with_name("data")
MINI = DATA / "mini.yaml"
CORPUS_DIR = Path(
    os.environ.get("WARDEN_CORPUS_DIR") or Path(__file__).resolve().parents[3] / "shared" / "corpus"
)
"""The shared labeled corpus: ``$WARDEN_CORPUS_DIR``, else ``../shared/corpus``
beside the checkout. It lives outside the repository; the tests that only
measure against it skip when it is not there."""
CORPUS = CORPUS_DIR / "secret-examples.jsonl"
HARD_NEGATIVES = Path(__file__).with_name("hard_negatives.txt")


@cache
def mini_catalogue() -> Catalogue:
    return Catalogue.from_files([MINI])


@cache
def mini_engine(backend: str = "hyperscan") -> Engine:
    return Engine(mini_catalogue(), backend=backend)  # type: ignore[arg-type]


@cache
def default_engine(backend: str = "hyperscan") -> Engine:
    return Engine(Catalogue.default(), backend=backend)  # type: ignore[arg-type]


def masker() -> Masker:
    """A deterministic masker (fixed keys) for comparing outputs."""
    return Masker(hash_key=b"k" * 32, vault=MemoryVault(key=b"v" * 32))


@cache
def corpus_lines() -> tuple[str, ...]:
    """Texts of the shared labeled corpus (empty when it is not there)."""
    if not CORPUS.exists():
        return ()
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    return tuple(row["text"] for row in rows)


@cache
def hard_negatives() -> tuple[str, ...]:
    if not HARD_NEGATIVES.exists():
        return ()
    lines = HARD_NEGATIVES.read_text(encoding="utf-8").splitlines()
    return tuple(line for line in lines if line.strip() and not line.startswith("#"))
