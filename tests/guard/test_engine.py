"""Verdicts: ordering, flows, messages, masking, secrets and fail-safe settings."""

from __future__ import annotations

from typing import Any

from warden.guard import Action, GuardEngine
from warden.pipeline.types import Flow


def rule(rule_id: str, action: str, match: dict[str, Any], kind: str = "shell") -> dict[str, Any]:
    return {
        "id": rule_id,
        "description": f"{rule_id} fired.",
        "kind": kind,
        "match": match,
        "action": action,
    }


PACK = {
    "name": "test",
    "rules": [
        rule("t.allow-ls", "allow", {"command": "ls"}),
        rule("t.mask-echo", "mask", {"command": "echo"}),
        rule("t.review-rm", "review", {"command": "rm"}),
        rule("t.deny-rm-root", "deny", {"command": "rm", "args_any_glob": ["/"]}),
        rule("t.review-rm-again", "review", {"command": "rm", "flags_any": ["r"]}),
        rule("t.mask-secret", "mask", {"contains_secret": True}, kind="file-write"),
    ],
}


def engine(**kwargs: Any) -> GuardEngine:
    return GuardEngine.from_pack(PACK, **kwargs)


def test_nothing_matching_is_allowed_without_decisions() -> None:
    verdict = engine().evaluate("Bash", {"command": "make"})
    assert (verdict.action, verdict.flow, verdict.decisions, verdict.message) == (
        Action.ALLOW,
        Flow.PASS,
        (),
        "",
    )


def test_allow_rule_is_recorded_as_pass() -> None:
    verdict = engine().evaluate("Bash", {"command": "ls"})
    assert verdict.flow is Flow.PASS
    assert [(d.rule, d.flow) for d in verdict.decisions] == [("t.allow-ls", Flow.PASS)]


def test_deny_wins_and_comes_first_then_by_strictness_and_pack_order() -> None:
    verdict = engine().evaluate("Bash", {"command": "ls; echo hi; rm -r /"})
    assert verdict.flow is Flow.DENY
    assert [d.rule for d in verdict.decisions] == [
        "t.deny-rm-root",
        "t.review-rm",
        "t.review-rm-again",
        "t.mask-echo",
        "t.allow-ls",
    ]
    assert [d.flow for d in verdict.decisions] == [
        Flow.DENY,
        Flow.HOLD,
        Flow.HOLD,
        Flow.REWRITE,
        Flow.PASS,
    ]
    assert verdict.decision is not None and verdict.decision.rule == "t.deny-rm-root"


def test_review_holds() -> None:
    verdict = engine().evaluate("Bash", {"command": "rm x"})
    assert verdict.flow is Flow.HOLD
    assert verdict.message.startswith(
        "Warden is holding this Bash call for human review: t.review-rm fired."
    )


def test_message_names_the_rule_and_where_but_not_the_value() -> None:
    verdict = engine().evaluate("Bash", {"command": "sudo rm -rf / --secret-token=abc123"})
    assert verdict.message == (
        "Warden blocked this Bash call: t.deny-rm-root fired. "
        "(rule t.deny-rm-root, command via sudo (rm))"
    )
    for decision in verdict.decisions:
        assert "abc123" not in decision.reason
        assert decision.inspector == "guardrails"
        assert decision.severity == "medium"


def test_mask_rewrites_the_field_and_keeps_the_rest() -> None:
    arguments = {"command": "echo hi", "description": "say hi"}
    verdict = engine().evaluate("Bash", arguments)
    assert verdict.flow is Flow.REWRITE and verdict.masked
    assert verdict.arguments == {
        "command": "[masked by Warden: t.mask-echo]",
        "description": "say hi",
    }
    assert arguments["command"] == "echo hi"


def test_mask_uses_the_masker_when_it_changes_something() -> None:
    verdict = engine(masker=lambda text: text.replace("hi", "**")).evaluate(
        "Bash", {"command": "echo hi"}
    )
    assert verdict.arguments == {"command": "echo **"}
    unchanged = engine(masker=lambda text: text).evaluate("Bash", {"command": "echo x"})
    assert unchanged.arguments == {"command": "[masked by Warden: t.mask-echo]"}


def test_masks_apply_even_when_a_stricter_rule_wins() -> None:
    verdict = engine().evaluate("shell", {"command": ["bash", "-c", "echo hi; rm x"]})
    assert verdict.flow is Flow.HOLD
    assert verdict.arguments == {"command": ["[masked by Warden: t.mask-echo]"] * 3}


def test_secret_scanner_sees_file_write_content() -> None:
    seen: list[str] = []

    def scanner(text: str) -> list[str]:
        seen.append(text)
        return ["generic-api-key"] if "sk-" in text else []

    secrets = engine(secret_scanner=scanner, masker=lambda t: t.replace("sk-123", "sk-***"))
    verdict = secrets.evaluate("Write", {"file_path": "a.py", "content": "KEY = 'sk-123'"})
    assert seen == ["KEY = 'sk-123'"]
    assert verdict.flow is Flow.REWRITE
    assert verdict.arguments == {"file_path": "a.py", "content": "KEY = 'sk-***'"}
    clean = secrets.evaluate("Write", {"file_path": "a.py", "content": "KEY = env()"})
    assert clean.decisions == ()
    no_scanner = engine().evaluate("Write", {"file_path": "a.py", "content": "KEY = 'sk-123'"})
    assert no_scanner.decisions == ()


def test_fail_safe_actions_follow_the_settings() -> None:
    review = engine().evaluate("Bash", {"command": "case $x in a) ls;; esac"})
    assert review.flow is Flow.HOLD
    assert review.decisions[0].rule == "guard.unparsable"
    strict = GuardEngine.from_pack({**PACK, "settings": {"on_unparsable": "deny"}})
    assert strict.evaluate("Bash", {"command": "case $x in a) ls;; esac"}).flow is Flow.DENY


def test_unparsable_script_with_a_deny_rule_is_denied() -> None:
    verdict = engine().evaluate("Bash", {"command": "case $x in a) rm -rf /;; esac"})
    assert verdict.flow is Flow.DENY
    assert verdict.decisions[0].rule == "t.deny-rm-root"
    assert "guard.unparsable" in [d.rule for d in verdict.decisions]


def test_evaluate_json() -> None:
    guard = engine()
    assert guard.evaluate_json("Bash", "").flow is Flow.PASS
    assert guard.evaluate_json("Bash", '{"command": "rm -r /"}').flow is Flow.DENY
    invalid = guard.evaluate_json("Bash", '{"command": "rm')
    assert (invalid.flow, invalid.decisions[0].rule) == (Flow.HOLD, "guard.invalid-arguments")
    patch = "*** Begin Patch\n*** Add File: a\n+x\n*** End Patch"
    assert guard.evaluate_json("apply_patch", patch, raw_ok=True).decisions == ()
    assert guard.evaluate_json("apply_patch", patch).decisions == ()  # the table knows it is raw
    duplicate = guard.evaluate_json("Bash", '{"command": "ls", "command": "rm -r /"}')
    assert duplicate.decisions[0].rule == "guard.invalid-arguments"
    assert "duplicate key" in duplicate.decisions[0].reason
    deep = "[" * 600_000 + "]" * 600_000
    assert guard.evaluate_json("Bash", deep).flow is Flow.DENY  # too large: on_too_large
    nested = "[" * 50_000 + "]" * 50_000
    assert guard.evaluate_json("x", nested).decisions[0].rule == "guard.invalid-arguments"


def test_too_many_commands_fail_safe() -> None:
    verdict = GuardEngine.from_pack(
        {"name": "p", "settings": {"max_script_chars": 1_000_000}}
    ).evaluate("Bash", {"command": "a;" * 6_000})
    assert (verdict.flow, verdict.decisions[0].rule) == (Flow.DENY, "guard.too-large")


def test_tool_rules_match_on_the_name() -> None:
    guard = GuardEngine.from_pack(
        {
            "name": "p",
            "rules": [
                rule("t.no-delete-repo", "deny", {"tool_any": ["mcp__github__delete_*"]}, "tool")
            ],
        }
    )
    assert guard.evaluate("mcp__github__delete_repository", {}).flow is Flow.DENY
    assert guard.evaluate("mcp__github__create_issue", {}).flow is Flow.PASS


def test_decisions_are_json_ready() -> None:
    record = engine().evaluate("Bash", {"command": "rm -r /"}).decisions[0].as_record()
    assert record["flow"] == "deny" and record["rule"] == "t.deny-rm-root"


def test_masking_a_multi_edit_rewrites_each_new_string() -> None:
    guard = engine(secret_scanner=lambda text: ["k"] if "sk-" in text else [])
    arguments = {
        "file_path": "a.py",
        "edits": [
            {"old_string": "a", "new_string": "sk-1"},
            {"old_string": "b", "new_string": "ok"},
        ],
    }
    verdict = guard.evaluate("MultiEdit", arguments)
    assert verdict.arguments["file_path"] == "a.py"
    assert [e["new_string"] for e in verdict.arguments["edits"]] == [
        "[masked by Warden: t.mask-secret]"
    ] * 2
