"""The built-in inspectors, as factories of one policy's pipeline.

Order matters and is explicit: guardrails first, so a rule about secrets
in a file write sees the real content; masking next, so what is released
(and recorded) is masked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from warden.config.model import Config, PolicyConfig
from warden.guard import DEFAULT_PACK, GuardEngine, GuardrailInspector
from warden.pipeline.types import Inspector
from warden.server.masking import masking_inspector


@lru_cache(maxsize=32)
def _guard_engine(pack: str, rules: str) -> GuardEngine:
    source: Path = DEFAULT_PACK if pack == "default" else Path(pack)
    extra: list[dict[str, Any]] = json.loads(rules)
    return GuardEngine.from_pack(source, extra_rules=extra)


def guardrails(name: str, policy: PolicyConfig, config: Config) -> Sequence[Inspector]:
    settings = policy.guardrails
    if not settings.enabled:
        return []
    engine = _guard_engine(settings.pack, json.dumps(settings.rules, sort_keys=True))
    return [GuardrailInspector(engine)]


def masking(name: str, policy: PolicyConfig, config: Config) -> Sequence[Inspector]:
    if not policy.masking.enabled:
        return []
    return [masking_inspector(policy.masking, config.state_dir)]
