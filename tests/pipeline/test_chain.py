"""The inspector chain: order, decisions, and what counts as a change."""

from __future__ import annotations

from tests.helpers.inspectors import TestInspector
from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Channel, ChannelKind, Exchange, Flow, Identity


def exchange() -> Exchange:
    return Exchange("ex", "s", "c", "anthropic", Identity("dev"))


def test_stages_run_in_order_and_each_sees_the_previous_output() -> None:
    upper = TestInspector(name="upper")
    deny = TestInspector(name="deny", tool_flow=Flow.DENY)
    pipeline = Pipeline([upper, deny])
    text = pipeline.open_channel(exchange(), Channel("content/0", ChannelKind.TEXT))
    assert text.feed("ab").text == "AB"
    tool = pipeline.open_channel(exchange(), Channel("content/1", ChannelKind.TOOL_INPUT))
    assert tool.feed('{"a":').text == ""
    out = tool.end()
    assert out.text == '{"a":'
    assert [d.rule for d in out.decisions] == ["test-tool"]
    assert out.flow_decision is not None and out.flow_decision.flow is Flow.DENY


def test_changed_is_about_the_whole_channel() -> None:
    pipeline = Pipeline([TestInspector(upper=False)])
    chain = pipeline.open_channel(exchange(), Channel("content/1", ChannelKind.TOOL_INPUT))
    chain.feed("held ")
    chain.feed("then released")
    chain.end()
    assert chain.text == "held then released"
    assert not chain.changed
    rewriting = Pipeline([TestInspector()]).open_channel(
        exchange(), Channel("content/0", ChannelKind.TEXT)
    )
    rewriting.feed("x")
    rewriting.end()
    assert rewriting.changed


def test_whole_is_feed_then_end_for_every_stage() -> None:
    stages = [TestInspector(name="upper"), TestInspector(name="deny", tool_flow=Flow.DENY)]
    for kind in (ChannelKind.TEXT, ChannelKind.TOOL_INPUT):
        fed = Pipeline(stages).open_channel(exchange(), Channel("c/0", kind))
        first = fed.feed('{"a": "b"}')
        last = fed.end()
        at_once = Pipeline(stages).open_channel(exchange(), Channel("c/0", kind))
        out = at_once.whole('{"a": "b"}')
        assert out.text == first.text + last.text
        assert out.decisions == first.decisions + last.decisions
        assert at_once.text == fed.text and at_once.changed == fed.changed


def test_a_channel_that_keeps_nothing_still_lets_everything_through() -> None:
    """A file download is a channel too long to hold: it keeps no copy."""
    for stages in ([TestInspector()], []):
        chain = Pipeline(stages).open_channel(
            exchange(), Channel("file", ChannelKind.TEXT), keep=False
        )
        out = [chain.feed("ab").text, chain.feed("c").text, chain.end().text]
        assert "".join(out) == ("ABC" if stages else "abc")
        assert chain.text == "" and chain._fed == []
