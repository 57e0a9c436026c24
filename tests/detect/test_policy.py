"""Which rules apply, with which action, per direction, connection and group."""

from __future__ import annotations

from tests.detect.engines import mini_catalogue
from warden.detect.policy import MaskOptions, Policy, PolicyEntry
from warden.pipeline.types import Direction

REQ, RESP = Direction.REQUEST, Direction.RESPONSE


def action(
    policy: Policy,
    rule: str,
    direction: Direction,
    conn: str = "c",
    groups: frozenset[str] = frozenset(),
) -> str | None:
    catalogue = mini_catalogue()
    return policy.actions(catalogue, direction, conn, groups)[catalogue.index(rule)]


def test_defaults_tokenize_requests_and_keep_rule_actions_on_responses() -> None:
    policy = Policy()
    assert action(policy, "test-aws-key-id", REQ) == "tokenize"
    assert action(policy, "test-aws-key-id", RESP) == "redact"
    assert action(policy, "test-github-pat", RESP) == "mask"
    assert action(policy, "test-private-key", REQ) == "block"  # not a rewriting action
    assert action(policy, "test-internal-host", REQ) == "review"
    assert action(policy, "test-ip", REQ) is None  # off in the catalogue


def test_entries_apply_in_order_and_later_ones_win() -> None:
    policy = Policy(
        request_action=None,
        response_action="redact",
        entries=(
            PolicyEntry(rules=("test-*",), action="hash"),
            PolicyEntry(rules=("family:test",), enabled=False, direction="response"),
            PolicyEntry(rules=("test-card",), enabled=True, direction="response", action="mask"),
        ),
    )
    assert action(policy, "test-aws-key-id", REQ) == "hash"
    assert action(policy, "test-aws-key-id", RESP) is None
    assert action(policy, "test-card", RESP) == "mask"


def test_entries_can_target_connections_and_groups() -> None:
    policy = Policy(
        entries=(
            PolicyEntry(rules=("test-ip",), connections=("k8s",), groups=("contractors",)),
            PolicyEntry(rules=("test-email",), enabled=False, groups=("admins",)),
        )
    )
    contractors = frozenset({"contractors", "staff"})
    assert action(policy, "test-ip", RESP, "k8s", contractors) == "redact"
    assert action(policy, "test-ip", RESP, "claude", contractors) is None
    assert action(policy, "test-ip", RESP, "k8s", frozenset({"staff"})) is None
    assert action(policy, "test-email", RESP, "x", frozenset({"admins"})) is None
    assert action(policy, "test-email", RESP, "x", contractors) == "redact"


def test_version_follows_content() -> None:
    assert Policy().version == Policy().version
    assert Policy().version != Policy(mask=MaskOptions(keep_start=2)).version
    assert Policy(mask=MaskOptions(keep_start=2)).mask.style().keep_start == 2


def _reachable_matches_actions(policy: Policy) -> None:
    """Every rule :meth:`Policy.actions` turns on anywhere is reachable."""
    catalogue = mini_catalogue()
    reachable = policy.reachable(catalogue)
    for direction in (REQ, RESP):
        for conn in ("c", "other"):
            for groups in (frozenset(), frozenset({"ops"})):
                actions = policy.actions(catalogue, direction, conn, groups)
                on = {r.id for r, a in zip(catalogue.rules, actions, strict=True) if a is not None}
                assert on <= reachable, (direction, conn, groups)


def test_reachable_rules_are_those_on_by_default() -> None:
    policy = Policy()
    reachable = policy.reachable(mini_catalogue())
    assert "test-aws-key-id" in reachable and "test-ip" not in reachable
    _reachable_matches_actions(policy)


def test_an_entry_for_everyone_settles_a_rule_and_a_conditional_one_can_add_it() -> None:
    policy = Policy(
        entries=(
            PolicyEntry(rules=("family:test",), enabled=False),
            PolicyEntry(rules=("test-email",), enabled=True, groups=("ops",)),
            PolicyEntry(rules=("test-card",), enabled=True, connections=("c",)),
            PolicyEntry(rules=("test-card",), enabled=False, direction="response"),
            PolicyEntry(rules=("test-ip",), action="redact"),  # an action turns a rule on
        )
    )
    assert policy.reachable(mini_catalogue()) == {"test-email", "test-card", "test-ip"}
    _reachable_matches_actions(policy)


def test_turning_a_rule_off_for_some_keeps_it_reachable() -> None:
    entry = PolicyEntry(rules=("test-github-pat",), enabled=False, groups=("x",))
    policy = Policy(entries=(entry,))
    assert "test-github-pat" in policy.reachable(mini_catalogue())
    _reachable_matches_actions(policy)
