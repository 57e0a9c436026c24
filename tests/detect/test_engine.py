"""The engine: what it finds, where, how overlaps resolve, and that both backends agree."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.detect.engines import corpus_lines, default_engine, mini_catalogue, mini_engine
from warden.detect.catalogue import Catalogue, Rule
from warden.detect.engine import Engine, Finding


def spans(
    engine: Engine, text: str, actions: list[str | None] | None = None
) -> list[tuple[str, str]]:
    return [(f.rule_id, text[f.start : f.end]) for f in engine.scan(text, actions)]


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_findings_cover_the_secret_group(backend: str) -> None:
    engine = mini_engine(backend)
    text = 'id AKIAIOSFODNN7EXAMPLF, password = "h7Gk2pQz9Lm4Xw8v" mail bob@example.org'
    found = engine.scan(text)
    assert found == [
        Finding("test-aws-key-id", 3, 23, "redact", "critical"),
        Finding("test-generic-secret", text.index("h7G"), text.index("h7G") + 16, "hash", "medium"),
        Finding("test-email", text.index("bob"), len(text), "redact", "low"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "XAKIAIOSFODNN7EXAMPLF",  # \b
        "AKIAIOSFODNN7EXAMPLFX",
        'password = "aaaaaaaaaaaaaaaa"',  # entropy
        "api_key: your-api-key-here",  # allow value
        "secret=my-example-value-123",  # stopword
        "token=${GITHUB_TOKEN_VALUE_X}",  # allow pattern
        "4111 1111 1111 1112",  # luhn
        "ghp_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq18",  # crc
        "ping 8.8.8.8",  # rule off by default
    ],
)
def test_filters_reject(text: str) -> None:
    assert mini_engine().scan(text) == []


def test_disabled_rules_can_be_turned_on_per_scan() -> None:
    engine = mini_engine()
    actions = list(engine.default_actions)
    actions[engine.catalogue.index("test-ip")] = "mask"
    assert spans(engine, "ping 8.8.8.8 and 10.0.0.1", actions) == [("test-ip", "8.8.8.8")]


def test_checked_actions_are_remembered_and_still_checked() -> None:
    engine = mini_engine()
    defaults = engine.actions()
    assert engine.actions() is defaults and engine.actions(defaults) is defaults
    assert engine.masks_any(defaults)
    none_on = engine.actions([None] * len(engine.catalogue.rules))
    assert engine.actions(none_on) is none_on and not engine.masks_any(none_on)
    # an equal tuple built anew is checked on its own, and answers the same
    assert engine.masks_any(tuple(none_on)) is False
    with pytest.raises(ValueError, match="actions for"):
        engine.actions(("mask",))
    built_without = Engine(mini_catalogue(), active=["test-ip"])
    on = list(built_without.default_actions)
    on[engine.catalogue.index("test-email")] = "mask"
    with pytest.raises(ValueError, match="built without it"):
        built_without.actions(on)


def test_offsets_are_characters_in_non_ascii_text() -> None:
    text = "clé → AKIAIOSFODNN7EXAMPLF ✓ 漢字 bob@example.org"
    found = mini_engine().scan(text)
    assert [text[f.start : f.end] for f in found] == ["AKIAIOSFODNN7EXAMPLF", "bob@example.org"]


def test_lone_surrogates_are_scanned_like_replacement_characters() -> None:
    text = "\ud800 AKIAIOSFODNN7EXAMPLF \udfff"
    [finding] = mini_engine().scan(text)
    assert text[finding.start : finding.end] == "AKIAIOSFODNN7EXAMPLF"


def overlapping() -> Catalogue:
    return Catalogue(
        (
            Rule(id="long-low", pattern=r"key=[a-z0-9]{4,20}", severity="low"),
            Rule(id="short-high", pattern=r"[0-9]{6}", severity="high"),
            Rule(id="long-high", pattern=r"=abc[0-9]{6}", severity="high"),
            Rule(id="stop", pattern=r"abc", action="block", severity="low"),
        )
    )


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_overlapping_findings_merge_to_the_most_severe_then_longest(backend: str) -> None:
    engine = Engine(overlapping(), backend=backend)  # type: ignore[arg-type]
    text = "key=abc123456 tail"
    found = engine.scan(text)
    # the three masking findings overlap: one span over all of them, won by the
    # longest of the two high-severity ones; the block finding stands apart
    assert found == [
        Finding("long-high", 0, 13, "redact", "high"),
        Finding("stop", 4, 7, "block", "low"),
    ]
    assert {f.rule_id for f in engine.scan_all(text)} == {
        "long-low",
        "short-high",
        "long-high",
        "stop",
    }


def test_empty_and_all_off() -> None:
    engine = mini_engine()
    assert engine.scan("") == []
    assert engine.scan("AKIAIOSFODNN7EXAMPLF", [None] * len(engine.rules)) == []


ALPHABET = "ab1 _-.:=\"'\n@AKIghpx4é"
PIECES = [ex for r in mini_catalogue().rules for ex in (*r.examples, *r.negatives)]
TEXT_PARTS = st.lists(
    st.one_of(st.text(alphabet=ALPHABET, max_size=12), st.sampled_from(PIECES)), max_size=8
)


@given(TEXT_PARTS)
@settings(max_examples=300, deadline=None)
def test_backends_agree_on_the_test_catalogue(parts: list[str]) -> None:
    text = "".join(parts)
    actions = [r.action for r in mini_catalogue().rules]
    assert mini_engine("hyperscan").scan(text, actions) == mini_engine("python").scan(text, actions)


@given(st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_backends_agree_on_the_default_catalogue(data: st.DataObject) -> None:
    # The rules' own examples always; the shared corpus too when it is there.
    pool = corpus_lines() + tuple(ex for r in default_engine().rules for ex in r.examples)
    lines = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))
    noise = data.draw(st.text(alphabet=ALPHABET, max_size=20))
    text = noise.join(lines)
    fast, slow = default_engine("hyperscan"), default_engine("python")
    assert fast.scan(text) == slow.scan(text)


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_block_findings_never_hide_masking_findings(backend: str) -> None:
    catalogue = Catalogue(
        (
            Rule(id="stop-all", pattern=r"BEGIN[ -~]{1,60}END", action="block"),
            Rule(id="mail", pattern=r"[a-z]{1,10}@[a-z]{1,10}\.io", severity="low"),
        )
    )
    engine = Engine(catalogue, backend=backend)  # type: ignore[arg-type]
    text = "BEGIN x bob@ex.io END"
    assert [(f.rule_id, f.action) for f in engine.scan(text)] == [
        ("stop-all", "block"),
        ("mail", "redact"),
    ]


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_warden_placeholders_are_never_masked_again(backend: str) -> None:
    engine = mini_engine(backend)
    text = "K=[TOKEN:test-aws-key-id:0123456789abcdef] and [HASH:test-card:0123456789ab] ok"
    assert engine.scan(text) == []
    assert engine.scan("token=[REDACTED:test-generic-secret]") == []


def test_rule_programs_are_compiled_when_first_needed() -> None:
    engine = Engine(mini_catalogue(), backend="hyperscan", cache=False)
    compiled = {r.rule.id for r in engine._rules if r.searcher.compiled}
    assert compiled == set()
    assert [f.rule_id for f in engine.scan("id AKIAIOSFODNN7EXAMPLF")] == ["test-aws-key-id"]
    compiled = {r.rule.id for r in engine._rules if r.searcher.compiled}
    assert compiled == {"test-aws-key-id"}


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_allow_patterns_and_stopwords_apply_each_as_listed(backend: str) -> None:
    rule = Rule(
        id="kv",
        pattern=r"key=([^\s]{4,40})",
        secret_group=1,
        allow={
            "patterns": [r"(?i)^dev", r"\.txt$", r"^[0-9]+$"],
            "stopwords": ["Sample", "••", "a.b"],
        },
    )
    engine = Engine(Catalogue((rule,)), backend=backend)  # type: ignore[arg-type]
    reasons = {
        text: [e.rejected for e in engine.explain(text, "kv")]
        for text in (
            "key=DEVELOPMENT",  # (?i) stays scoped to its own pattern
            "key=notes.txt",
            "key=123456",
            "key=x-sample-y",  # stopwords are case-insensitive
            "key=X-SAMPLE-Y",
            "key=ÉSAMPLE",  # and so outside ASCII
            "key=ab••cd",
            "key=a.bc",  # literally, not a pattern
            "key=axbc9z",
            "key=prodDEV1",
            "key=12345x",
        )
    }
    assert reasons == {
        "key=DEVELOPMENT": ["allowlisted pattern"],
        "key=notes.txt": ["allowlisted pattern"],
        "key=123456": ["allowlisted pattern"],
        "key=x-sample-y": ["allowlisted stopword"],
        "key=X-SAMPLE-Y": ["allowlisted stopword"],
        "key=ÉSAMPLE": ["allowlisted stopword"],
        "key=ab••cd": ["allowlisted stopword"],
        "key=a.bc": ["allowlisted stopword"],
        "key=axbc9z": [""],
        "key=prodDEV1": [""],
        "key=12345x": [""],
    }


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_confirm_windows_hold_next_to_multibyte_text(backend: str) -> None:
    """Windows are sized in characters where the text is ASCII, in bytes elsewhere."""
    engine = mini_engine(backend)
    for pad in ("", "é", "漢字" * 40, "🙂" * 30):
        text = f'{pad}password = "h7Gk2pQz9Lm4Xw8v"{pad} AKIAIOSFODNN7EXAMPLF{pad}'
        assert [text[f.start : f.end] for f in engine.scan(text)] == [
            "h7Gk2pQz9Lm4Xw8v",
            "AKIAIOSFODNN7EXAMPLF",
        ]


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_a_pattern_hyperscan_refuses_with_its_end_anchor_still_works(backend: str) -> None:
    # hyperscan refuses "\z" with something after it; the engine then drops the
    # anchor from that rule's candidate form (a wider one), and finds the same
    catalogue = Catalogue(
        (
            Rule(id="odd", pattern=r"k(?:x|$)yz"),
            Rule(id="plain", pattern=r"ghp_[a-z]{4}(?:[^a-z]|$)"),
        )
    )
    engine = Engine(catalogue, backend=backend, cache=False)  # type: ignore[arg-type]
    assert [f.rule_id for f in engine.scan("kxyz ghp_abcd")] == ["odd", "plain"]


ACTIVE = frozenset(
    {"test-aws-key-id", "test-github-pat", "test-generic-secret", "test-private-key"}
)


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_an_engine_compiles_only_the_active_rules(backend: str) -> None:
    engine = _narrow_engine(backend)
    text = "AKIAIOSFODNN7EXAMPLF mail bob@example.org ping 8.8.8.8"
    assert spans(engine, text) == [("test-aws-key-id", "AKIAIOSFODNN7EXAMPLF")]
    off = {r.id for r, a in zip(engine.rules, engine.default_actions, strict=True) if a is None}
    assert "test-email" in off and "test-card" in off
    actions = list(engine.default_actions)
    actions[engine.catalogue.index("test-email")] = "redact"
    with pytest.raises(ValueError, match="test-email"):
        engine.scan(text, actions)


@given(TEXT_PARTS)
@settings(max_examples=200, deadline=None)
def test_leaving_rules_out_changes_no_finding_of_the_others(parts: list[str]) -> None:
    text = "".join(parts)
    catalogue = mini_catalogue()
    actions = [r.action if r.id in ACTIVE else None for r in catalogue.rules]
    for backend in ("hyperscan", "python"):
        narrow = _narrow_engine(backend)
        assert narrow.scan(text, actions) == mini_engine(backend).scan(text, actions)


@functools.cache
def _narrow_engine(backend: str) -> Engine:
    return Engine(mini_catalogue(), backend=backend, active=ACTIVE)  # type: ignore[arg-type]
