"""Turning findings into masked text and into decisions.

Per action:

* ``redact``: ``[REDACTED:<rule-id>]``;
* ``mask``: a few leading and trailing characters kept around an ellipsis,
  e.g. ``sk-a…Xy9`` (short secrets are fully replaced by the ellipsis);
* ``hash``: ``[HASH:<rule-id>:<12 hex>]``, an HMAC-SHA256 under the
  deployment's key, so the same value always renders the same and can be
  correlated across sessions without being recoverable;
* ``tokenize``: ``[TOKEN:<rule-id>:<id>]``, reversible through the session's
  vault (see :mod:`warden.detect.vault`);
* ``block`` and ``review``: the text is left alone; they turn into
  ``BLOCK`` / ``HOLD`` decisions that stop or pause the exchange.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from warden.detect.catalogue import MASKING_ACTIONS
from warden.detect.engine import Finding
from warden.detect.vault import Vault
from warden.pipeline.types import Decision, Flow

FLOWS = {
    "redact": Flow.REWRITE,
    "mask": Flow.REWRITE,
    "hash": Flow.REWRITE,
    "tokenize": Flow.REWRITE,
    "block": Flow.BLOCK,
    "review": Flow.HOLD,
}


@dataclass(frozen=True, slots=True)
class MaskStyle:
    """How ``mask`` renders: ``keep_start`` + ellipsis + ``keep_end`` characters."""

    keep_start: int = 4
    keep_end: int = 3
    min_length: int = 12
    """Secrets shorter than this are replaced by the ellipsis alone."""
    ellipsis: str = "…"


class Masker:
    """Renders one finding's replacement; deterministic for a given key and vault."""

    def __init__(
        self,
        *,
        hash_key: bytes,
        vault: Vault | None = None,
        style: MaskStyle = MaskStyle(),
    ) -> None:
        if len(hash_key) < 16:
            raise ValueError("the hash key must be at least 16 bytes")
        self._key = hash_key
        self._vault = vault
        self._style = style

    def with_vault(self, vault: Vault | None) -> Masker:
        return Masker(hash_key=self._key, vault=vault, style=self._style)

    def render(self, finding: Finding, secret: str) -> str:
        action = finding.action
        if action == "redact":
            return f"[REDACTED:{finding.rule_id}]"
        if action == "mask":
            style = self._style
            if len(secret) < style.min_length:
                return style.ellipsis
            tail = secret[len(secret) - style.keep_end :] if style.keep_end else ""
            return secret[: style.keep_start] + style.ellipsis + tail
        if action == "hash":
            data = secret.encode("utf-8", "surrogatepass")
            mac = hmac.new(self._key, data, hashlib.sha256).hexdigest()[:12]
            return f"[HASH:{finding.rule_id}:{mac}]"
        if action == "tokenize":
            if self._vault is None:
                raise RuntimeError("tokenize needs a vault; none is configured here")
            return self._vault.tokenize(finding.rule_id, secret)
        if action in ("block", "review"):
            return secret
        raise ValueError(f"unknown action {action!r}")

    def apply(self, text: str, findings: Sequence[Finding], base: int = 0) -> str:
        """``text`` with each masking finding replaced (``block`` / ``review`` ones
        change nothing); findings are sorted and offset by ``base``."""
        if not findings:
            return text
        parts = []
        cursor = 0
        for finding in findings:
            if finding.action not in MASKING_ACTIONS:
                continue
            start, end = finding.start - base, finding.end - base
            parts.append(text[cursor:start])
            parts.append(self.render(finding, text[start:end]))
            cursor = end
        parts.append(text[cursor:])
        return "".join(parts)


def decisions(
    findings: Iterable[Finding], *, inspector: str, channel: str | None
) -> list[Decision]:
    """One decision per finding: where and what, never the value."""
    return [
        Decision(
            flow=FLOWS[f.action],
            rule=f.rule_id,
            action=f.action,
            reason=f"{f.rule_id} matched ({f.severity})",
            inspector=inspector,
            channel=channel,
            start=f.start,
            end=f.end,
            severity=f.severity,
        )
        for f in findings
    ]
