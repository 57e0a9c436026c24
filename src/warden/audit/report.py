"""What ``verify`` found: problems, per-chain results, the whole report."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warden.audit.checkpoints import Checkpoint


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    """edited, deleted, inserted, reordered, broken-link, tombstone, checkpoint, raw."""
    chain_id: str
    seq: int | None
    event_id: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "chain": self.chain_id,
            "seq": self.seq,
            "event_id": self.event_id,
            "message": self.message,
        }

    def describe(self) -> str:
        where = f"event {self.event_id} " if self.event_id is not None else ""
        seq = f"(chain {self.chain_id}, seq {self.seq})" if self.seq is not None else ""
        return f"{self.kind}: {where}{seq}: {self.message}".replace(" :", ":")


@dataclass(slots=True)
class ChainReport:
    chain_id: str
    events: int = 0
    purged: int = 0
    head_seq: int = 0
    head_hash: str = ""
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "chain": self.chain_id,
            "ok": self.ok,
            "events": self.events,
            "purged": self.purged,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "checkpoints_verified": self.checkpoints,
            "problems": [p.as_dict() for p in self.problems],
            "problems_truncated": self.truncated,
        }


@dataclass(slots=True)
class VerifyReport:
    chains: list[ChainReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    """Problems that belong to no single walk (signatures, anchors)."""
    checkpoints: int = 0
    anchors: int = 0
    seconds: float = 0.0

    @property
    def events(self) -> int:
        return sum(c.events for c in self.chains)

    @property
    def all_problems(self) -> list[Problem]:
        return [*self.problems, *(p for c in self.chains for p in c.problems)]

    @property
    def ok(self) -> bool:
        return not self.all_problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "chains": [c.as_dict() for c in self.chains],
            "problems": [p.as_dict() for p in self.problems],
            "checkpoints": self.checkpoints,
            "anchors": self.anchors,
            "seconds": round(self.seconds, 3),
        }


def load_anchors(path: str | os.PathLike[str]) -> list[tuple[Checkpoint, str | None]]:
    """Checkpoints exported to a JSONL file, with the public key each carried."""
    anchors: list[tuple[Checkpoint, str | None]] = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if record.get("type", "checkpoint") != "checkpoint":
                continue
            anchors.append((Checkpoint.from_record(record), record.get("public_key")))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}:{number}: not a checkpoint record ({exc})") from None
    return anchors
