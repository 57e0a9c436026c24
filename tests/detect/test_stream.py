"""The stream masker's invariant: any chunking gives what masking the whole text gives."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.detect.engines import corpus_lines, default_engine, masker, mini_catalogue, mini_engine
from warden.detect.catalogue import Catalogue, Rule
from warden.detect.engine import Engine, Finding
from warden.detect.shape import shape
from warden.detect.stream import HoldOverflow, StreamMasker


def whole(engine: Engine, text: str) -> tuple[str, list[Finding]]:
    findings = engine.scan(text)
    return masker().apply(text, findings), findings


def streamed(engine: Engine, chunks: list[str]) -> tuple[str, list[Finding], list[int]]:
    stream = StreamMasker(engine, masker().render)
    out: list[str] = []
    found: list[Finding] = []
    held: list[int] = []
    for chunk in chunks:
        out.append(stream.feed(chunk))
        found += stream.findings
        held.append(stream.held)
    out.append(stream.flush())
    found += stream.findings
    assert stream.held == 0
    return "".join(out), found, held


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


def check(engine: Engine, text: str, chunks: list[str]) -> None:
    assert "".join(chunks) == text
    expected_text, expected_findings = whole(engine, text)
    got_text, got_findings, _ = streamed(engine, chunks)
    assert got_text == expected_text
    assert got_findings == expected_findings


ALPHABET = "ab1 _-.:=\"'\n@AKIghp4é漢\ud800"
MINI_PIECES = [ex for r in mini_catalogue().rules for ex in (*r.examples, *r.negatives)]
texts = st.lists(
    st.one_of(st.text(alphabet=ALPHABET, max_size=12), st.sampled_from(MINI_PIECES)), max_size=8
).map("".join)


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
@given(text=texts, cuts=st.lists(st.integers(0, 10_000), max_size=12))
@settings(max_examples=250, deadline=None)
def test_any_chunking_equals_whole_text_masking(backend: str, text: str, cuts: list[int]) -> None:
    check(mini_engine(backend), text, chunked(text, cuts))


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
@given(text=texts)
@settings(max_examples=100, deadline=None)
def test_one_character_per_delta(backend: str, text: str) -> None:
    check(mini_engine(backend), text, list(text))


PROSE = [
    "Sure, here is the config you asked for:\n",
    "The deploy failed because ",
    " Let me know if you need anything else. ",
    "```\n",
    "\n\n- step one\n- step two\n",
    ' "key": ',
    "export ",
    "=",
    " and then ",
]


def corpus_texts() -> st.SearchStrategy[str]:
    examples = [ex for r in default_engine().rules for ex in r.examples]
    pool = list(corpus_lines()) + examples
    return st.lists(
        st.one_of(st.sampled_from(pool), st.sampled_from(PROSE)), min_size=1, max_size=6
    ).map("".join)


@given(data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_default_catalogue_corpus_in_prose_any_chunking(data: st.DataObject) -> None:
    text = data.draw(corpus_texts())
    sizes = data.draw(st.lists(st.integers(1, 60), min_size=1, max_size=400))
    chunks, i = [], 0
    while i < len(text):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(text[i : i + size])
        i += size
    check(default_engine(), text, chunks)


@given(data=st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_default_catalogue_one_character_per_delta(data: st.DataObject) -> None:
    text = data.draw(corpus_texts())
    check(default_engine(), text, list(text))


def test_prose_is_released_promptly() -> None:
    engine = default_engine()
    _, _, held = streamed(engine, ["The quick brown fox ", "jumps over the lazy dog. "] * 20)
    assert max(held) <= 3  # at most the last word and a boundary character wait


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_an_anchor_stops_holding_once_its_longest_match_is_behind(backend: str) -> None:
    """A rule with a counted gap after its anchor (gitalk-client-secret:
    ``new Gitalk({`` then ``[\\s\\S]{0,200}?`` before the secret) was held
    from its anchor on, as long as text came, until the masker gave up at
    1 MiB: a file downloaded with that snippet near its start failed."""
    engine = default_engine(backend)
    (rule,) = [r for r in engine.rules if r.id == "gitalk-client-secret"]
    snippet = rule.examples[0]
    prose = ["The quick brown fox jumps over the lazy dog. "] * 200
    text, _, held = streamed(engine, [snippet, *prose])
    assert max(held[-100:]) <= 3 * len(snippet)  # bounded by the rule, not the text
    assert text == whole(engine, snippet + "".join(prose))[0]
    assert "099d47a82602846d356089fe375ed601ff9e8c2b" in snippet
    assert "099d47a82602846d356089fe375ed601ff9e8c2b" not in text


def test_a_token_in_progress_is_held_then_masked() -> None:
    stream = StreamMasker(mini_engine(), masker().render)
    first = stream.feed("key AKIA")
    assert "AKIA" not in first
    assert stream.held >= 4
    assert stream.feed("IOSFODNN7EXAMPL") == ""
    rest = stream.feed("F done") + stream.flush()
    assert first + rest == "key [REDACTED:test-aws-key-id] done"


def test_positions_continue_across_flushes() -> None:
    stream = StreamMasker(mini_engine(), masker().render)
    stream.feed("x" * 10)
    stream.flush()
    out = stream.feed(" AKIAIOSFODNN7EXAMPLF ") + stream.flush()
    assert out == " [REDACTED:test-aws-key-id] "
    assert stream.position == 32


def test_pathological_overlap_chains_fail_closed() -> None:
    catalogue = Catalogue(
        (
            Rule(id="head", pattern=r"x[0-9]{4}"),
            Rule(id="tail", pattern=r"[0-9]{4}x", severity="low"),
        )
    )
    # head and tail findings overlap without end: the group is never decided
    stream = StreamMasker(Engine(catalogue), masker().render, max_held=64)
    with pytest.raises(HoldOverflow):
        for _ in range(100):
            stream.feed("x1234")


def test_inactive_masker_passes_through() -> None:
    engine = mini_engine()
    stream = StreamMasker(engine, masker().render, [None] * len(engine.rules))
    assert stream.feed("AKIAIOSFODNN7EXAMPLF") == "AKIAIOSFODNN7EXAMPLF"
    assert stream.flush() == ""


@given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_default_catalogue_without_hyperscan(data: st.DataObject) -> None:
    text = data.draw(corpus_texts())
    size = data.draw(st.integers(1, 40))
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    check(default_engine("python"), text, chunks)


def test_folded_anchors_are_found_through_kelvin_signs() -> None:
    engine = Engine(Catalogue((Rule(id="kw", pattern=r"(?i)token=[a-z]{4}"),)), backend="python")
    text = "x tO\u212aEN=abcd y"  # U+212A KELVIN SIGN folds onto k
    check(engine, text, list(text))


@given(data=st.data())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_whole_equals_feeding_then_flushing(data: st.DataObject) -> None:
    text = data.draw(corpus_texts())
    stream = StreamMasker(default_engine(), masker().render)
    out = stream.whole(text)
    assert (out, stream.findings) == whole(default_engine(), text)
    assert stream.held == 0
    # the masker goes on at the next offset, as after a flush
    again = stream.whole(text)
    assert again == out
    assert [f.start for f in stream.findings] == [
        f.start + len(text) for f in whole(default_engine(), text)[1]
    ]


@pytest.mark.parametrize("backend", ["hyperscan", "python"])
def test_rules_of_no_simple_shape_at_the_start_of_the_text(backend: str) -> None:
    """The rules the hold checks through their closures (phone numbers, an
    assignment at the start of a line...) matched from the very first
    character, where the closures built for the middle of a text do not
    apply, in any split of two and one character per delta."""
    engine = default_engine(backend)
    exceptions = [r for r in engine.rules if shape(r.pattern).run is None]
    assert exceptions
    for rule in exceptions:
        for example in rule.examples:
            for text in (example, example + " and more"):
                check(engine, text, list(text))
                for cut in range(1, len(text)):
                    check(engine, text, [text[:cut], text[cut:]])
