"""Building the masking inspector a policy asks for.

The detection engine takes seconds to compile (hundreds of rules into one
hyperscan database), so engines are cached per process by their custom
rules: a reload that does not change the rules reuses the compiled engine,
and one that does compiles it off the event loop before the atomic swap.

Per deployment, ``<state_dir>/masking.key`` (32 random bytes, mode 0600,
created on first start) keys the ``hash`` action, so the same value always
hashes the same way, and seals the per-session token vaults (AES-256-GCM),
which live in this process's memory.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from warden.config.model import MaskingConfig
from warden.detect import (
    Catalogue,
    CustomRules,
    Engine,
    KeywordRule,
    MaskingInspector,
    MemoryVault,
    MemoryVaults,
    Policy,
    PolicyEntry,
    Rule,
    ValueRule,
    VaultCipher,
)

KEY_FILE = "masking.key"
_lock = threading.Lock()
_vaults: dict[Path, MemoryVaults] = {}


def masking_key(state_dir: Path) -> bytes:
    """The deployment's masking key, created (0600) when missing."""
    path = state_dir / KEY_FILE
    with _lock:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            state_dir.mkdir(parents=True, exist_ok=True)
            data = secrets.token_bytes(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
    if len(data) != 32:
        raise ValueError(f"{path} must hold exactly 32 bytes")
    return data


def custom_rules(items: list[dict[str, Any]]) -> CustomRules:
    """Config ``masking.custom`` entries: a ``pattern`` (a regex rule), ``words``
    (a keyword list) or ``values`` (exact values), each with an ``id``."""
    rules: list[Rule] = []
    keywords: list[KeywordRule] = []
    values: list[ValueRule] = []
    for item in items:
        if "words" in item:
            keywords.append(KeywordRule.model_validate(item))
        elif "values" in item:
            values.append(ValueRule.model_validate(item))
        else:
            rules.append(Rule.model_validate({"family": "custom", **item}))
    return CustomRules(rules=tuple(rules), keywords=tuple(keywords), values=tuple(values))


@lru_cache(maxsize=8)
def _catalogue(custom: str) -> Catalogue:
    catalogue = Catalogue.default()
    items: list[dict[str, Any]] = json.loads(custom)
    if items:
        catalogue = catalogue.with_custom(custom_rules(items))
    return catalogue


@lru_cache(maxsize=8)
def _engine(custom: str, active: frozenset[str]) -> Engine:
    return Engine(_catalogue(custom), active=active)


def engine_for(config: MaskingConfig) -> Engine:
    """The engine for a masking config: its custom rules, and only the rules
    its policy can turn on compiled (policies with the same ones share it)."""
    custom = json.dumps(config.custom, sort_keys=True)
    return _engine(custom, policy_for(config).reachable(_catalogue(custom)))


def policy_for(config: MaskingConfig) -> Policy:
    entries: list[PolicyEntry] = []
    if not config.pii:
        entries.append(PolicyEntry(rules=("family:pii",), enabled=False))
    if config.enable:
        entries.append(PolicyEntry(rules=tuple(config.enable), enabled=True))
    if config.disable:
        entries.append(PolicyEntry(rules=tuple(config.disable), enabled=False))
    for rule, action in sorted(config.actions.items()):
        entries.append(PolicyEntry(rules=(rule,), action=action))
    return Policy(
        request_action=config.request_action,
        response_action=config.response_action,
        entries=tuple(entries),
        detokenize_tool_input=config.detokenize == "tool-input",
    )


def vaults_for(state_dir: Path) -> MemoryVaults:
    """One vault store per deployment and process, sealed with its key."""
    with _lock:
        vaults = _vaults.get(state_dir)
    if vaults is None:
        cipher = VaultCipher(masking_key(state_dir))  # stateless: one for every vault

        def factory() -> MemoryVault:
            return MemoryVault(cipher=cipher)

        vaults = MemoryVaults(factory=factory)
        with _lock:
            vaults = _vaults.setdefault(state_dir, vaults)
    return vaults


def masking_inspector(config: MaskingConfig, state_dir: Path) -> MaskingInspector:
    return MaskingInspector(
        engine_for(config),
        policy_for(config),
        hash_key=masking_key(state_dir),
        vaults=vaults_for(state_dir),
    )
