"""The built-in catalogue through the engine: its examples, negatives, hard negatives."""

from __future__ import annotations

from tests.detect.engines import default_engine, hard_negatives


def test_every_example_is_found_by_its_rule() -> None:
    engine = default_engine()
    missed = []
    for index, rule in enumerate(engine.rules):
        only: list[str | None] = [None] * len(engine.rules)
        only[index] = rule.action
        for example in rule.examples:
            if not any(f.rule_id == rule.id for f in engine.scan_all(example, only)):
                missed.append(f"{rule.id}: {example[:60]!r}")
    assert missed == []


def test_negatives_match_no_enabled_rule() -> None:
    engine = default_engine()
    found = []
    for rule in engine.rules:
        for negative in rule.negatives:
            hits = engine.scan_all(negative)
            found += [f"{rule.id} negative {negative[:50]!r}: {f.rule_id}" for f in hits]
    assert found == []


def test_hard_negatives_match_no_enabled_rule() -> None:
    assert hard_negatives(), "tests/detect/hard_negatives.txt is missing or empty"
    engine = default_engine()
    found = [
        f"{line[:60]!r}: {f.rule_id}" for line in hard_negatives() for f in engine.scan_all(line)
    ]
    assert found == []
