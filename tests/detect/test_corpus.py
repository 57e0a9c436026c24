"""Measure the catalogue on the shared labeled corpus (``$WARDEN_CORPUS_DIR``, else
../shared/corpus), when it is there.

Plain-regex gate only (see rulegate.py); the engine measures itself separately. Numbers are
printed even when the tests pass:

    .venv/bin/python -m pytest tests/detect/test_corpus.py -q

Without the corpus the data-driven cases are skipped, which is the sanctioned outcome.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.detect import rulegate as gate
from tests.detect.engines import CORPUS_DIR

CORPUS = CORPUS_DIR
SECRETS = CORPUS / "secret-examples.jsonl"
PII = CORPUS / "pii-synth-presidio-research.json"

# Floors we reach today; a rule change that drops below one is a regression to look at.
RECALL_FLOOR_ALL_RULES = 0.95  # the catalogue, opt-in rules included
RECALL_FLOOR_DEFAULT = 0.95  # only rules enabled by default (the detection target)
NEGATIVES_FIRED_CEILING = 29  # of 133 look-alikes; most are secret-shaped (see README)

PII_RULE_TYPES = {
    "email-address": "EMAIL_ADDRESS",
    "phone-number-e164": "PHONE_NUMBER",
    "phone-number-nanp": "PHONE_NUMBER",
    "phone-number-national": "PHONE_NUMBER",
    "phone-number-keyword": "PHONE_NUMBER",
    "phone-number-labelled": "PHONE_NUMBER",
    "payment-card-number": "CREDIT_CARD",
    "payment-card-amex": "CREDIT_CARD",
    "payment-card-diners": "CREDIT_CARD",
    "payment-card-other": "CREDIT_CARD",
    "iban": "IBAN_CODE",
    "us-ssn": "US_SSN",
    "us-ssn-keyword": "US_SSN",
    "ipv4-address": "IP_ADDRESS",
    "ipv6-address": "IP_ADDRESS",
}
PII_FLOORS = {  # (recall, precision)
    "EMAIL_ADDRESS": (0.95, 0.95),
    "PHONE_NUMBER": (0.90, 0.95),
    "CREDIT_CARD": (0.85, 0.95),  # Maestro 12-14 digit numbers are left out on purpose (README)
    "IBAN_CODE": (0.95, 0.95),
    "US_SSN": (0.95, 0.95),
    "IP_ADDRESS": (0.95, 0.95),  # ipv4/ipv6 rules are opt-in; measured with them turned on
}


def _require(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"corpus not present: {path} (data-driven case not run)")


@dataclass
class SecretScore:
    positives: int = 0
    found_all: int = 0
    found_default: int = 0
    negatives: int = 0
    negatives_fired: list[tuple[str, list[str]]] = field(default_factory=list)
    by_source: Counter[str] = field(default_factory=Counter)
    by_source_found: Counter[str] = field(default_factory=Counter)
    by_family: Counter[str] = field(default_factory=Counter)
    missed_kinds: Counter[str] = field(default_factory=Counter)


def _rows() -> Iterator[dict[str, object]]:
    with SECRETS.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


@pytest.fixture(scope="module")
def secret_score() -> SecretScore:
    _require(SECRETS)
    rules = gate.load_catalogue()
    default_ids = {r.id for r in rules if r.enabled}
    family_of = {r.id: r.family for r in rules}
    score = SecretScore()
    for row in _rows():
        findings = gate.scan(rules, str(row["text"]))
        ids = sorted({f.rule for f in findings})
        source = str(row["source"]).split("@", 1)[0]
        if row["secret"]:
            score.positives += 1
            score.by_source[source] += 1
            default = [i for i in ids if i in default_ids]
            if ids:
                score.found_all += 1
                score.by_source_found[source] += 1
                score.by_family[family_of[(default or ids)[0]]] += 1
            else:
                score.missed_kinds[str(row["kind"])] += 1
            if default:
                score.found_default += 1
        else:
            score.negatives += 1
            fired = [i for i in ids if i in default_ids]
            if fired:
                score.negatives_fired.append((str(row["kind"]), fired))
    return score


def test_secret_corpus_recall(
    secret_score: SecretScore, capsys: pytest.CaptureFixture[str]
) -> None:
    s = secret_score
    all_recall = s.found_all / s.positives
    default_recall = s.found_default / s.positives
    with capsys.disabled():
        print(f"\n[corpus] secret positives: {s.positives}")
        print(f"[corpus] recall, all rules (incl. opt-in identifiers): {all_recall:.4f}")
        print(f"[corpus] recall, rules enabled by default:             {default_recall:.4f}")
        for source, n in sorted(s.by_source.items()):
            print(f"[corpus]   {source:<12} {s.by_source_found[source]}/{n}")
        print(
            "[corpus] found, by family of the finding rule: "
            + ", ".join(f"{fam}={n}" for fam, n in s.by_family.most_common())
        )
        print(f"[corpus] missed kinds: {dict(s.missed_kinds.most_common())}")
    assert all_recall >= RECALL_FLOOR_ALL_RULES
    assert default_recall >= RECALL_FLOOR_DEFAULT


def test_secret_corpus_lookalikes(
    secret_score: SecretScore, capsys: pytest.CaptureFixture[str]
) -> None:
    s = secret_score
    with capsys.disabled():
        print(
            f"\n[corpus] look-alike negatives fired on (default rules): "
            f"{len(s.negatives_fired)}/{s.negatives}"
        )
        for kind, ids in s.negatives_fired:
            print(f"[corpus]   {kind}: {', '.join(ids)}")
    assert len(s.negatives_fired) <= NEGATIVES_FIRED_CEILING


@pytest.fixture(scope="module")
def pii_score() -> dict[str, tuple[int, int, int, int]]:
    """entity type -> (spans found, spans, findings on a span of that type, findings)."""
    _require(PII)
    rules = [r for r in gate.load_catalogue() if r.id in PII_RULE_TYPES]
    assert len(rules) == len(PII_RULE_TYPES)
    records = json.loads(PII.read_text(encoding="utf-8"))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    wanted = set(PII_RULE_TYPES.values())
    for rec in records:
        text = rec["full_text"]
        spans = [(s["entity_type"], s["start_position"], s["end_position"]) for s in rec["spans"]]
        findings = gate.scan(rules, text)
        for etype, start, end in spans:
            if etype not in wanted:
                continue
            counts[etype][1] += 1
            if any(
                PII_RULE_TYPES[f.rule] == etype and f.start < end and f.end > start
                for f in findings
            ):
                counts[etype][0] += 1
        for f in findings:
            etype = PII_RULE_TYPES[f.rule]
            counts[etype][3] += 1
            if any(t == etype and f.start < end and f.end > start for t, start, end in spans):
                counts[etype][2] += 1
    return {k: (v[0], v[1], v[2], v[3]) for k, v in counts.items()}


@pytest.mark.parametrize("etype", sorted(PII_FLOORS))
def test_pii_recall_and_precision(
    pii_score: dict[str, tuple[int, int, int, int]], etype: str, capsys: pytest.CaptureFixture[str]
) -> None:
    found, spans, true_hits, findings = pii_score[etype]
    recall = found / spans
    precision = true_hits / findings if findings else 1.0
    with capsys.disabled():
        print(
            f"\n[pii] {etype:<14} recall {found}/{spans} = {recall:.3f}   "
            f"precision {true_hits}/{findings} = {precision:.3f}"
        )
    min_recall, min_precision = PII_FLOORS[etype]
    assert recall >= min_recall
    assert precision >= min_precision
