"""Pack loading and validation: errors name the line, the rule and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from warden.guard import DEFAULT_PACK, GuardEngine, PackError, load_pack, pack_from_yaml
from warden.guard.loader import parse_rules


def rule(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "t.rule",
        "description": "A test rule.",
        "kind": "shell",
        "match": {"command": "rm"},
        "action": "deny",
    }
    base.update(overrides)
    return base


def test_default_pack_loads() -> None:
    pack = load_pack(DEFAULT_PACK)
    assert pack.name == "default"
    assert len(pack.rules) > 40


def test_errors_point_at_the_line_rule_and_field() -> None:
    text = """\
name: mine
rules:
  - id: ok.rule
    description: fine
    kind: shell
    match: {command: rm}
    action: deny
  - id: bad.rule
    description: wrong field for the kind
    kind: shell
    match:
      sql_where: false
    action: deny
"""
    with pytest.raises(PackError) as caught:
        pack_from_yaml(text, "mine.yaml")
    [message] = caught.value.errors
    assert message.startswith("line 8: rules[1] (rule bad.rule):")
    assert "sql_where do not apply to kind 'shell'" in message
    assert "mine.yaml" in str(caught.value)


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [
        (rule(action="block"), "rules[0].action"),
        (rule(id="Bad Id"), "rules[0].id"),
        (rule(kind="kubectl"), "rules[0].kind"),
        (rule(match={"comand": "rm"}), "comand"),
        (rule(match={"resource_any": ["ns"]}), "resource_any needs subcommand"),
        (rule(match={"any": [{"path_glob_any": ["/etc/**"]}]}), "path_glob_any do not apply"),
        (rule(kind=["shell", "sql"], match={"command": "rm"}), "do not apply to kind 'sql'"),
        (rule(match={"args_count_max": -1}), "args_count_max"),
    ],
)
def test_invalid_rules(bad: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PackError) as caught:
        load_pack({"name": "p", "rules": [bad]})
    assert fragment in str(caught.value)


def test_duplicate_ids() -> None:
    with pytest.raises(PackError, match=r"duplicate rule id 't\.rule'"):
        load_pack({"name": "p", "rules": [rule(), rule()]})
    with pytest.raises(PackError, match=r"duplicate rule id 't\.rule'"):
        parse_rules([rule(), rule()])


def test_settings_are_validated() -> None:
    with pytest.raises(PackError, match="on_unparsable"):
        load_pack({"name": "p", "settings": {"on_unparsable": "allow"}})


def test_single_strings_are_lists() -> None:
    pack = load_pack({"name": "p", "rules": [rule(match={"command_any": "rm", "flags_any": "r"})]})
    assert pack.rules[0].match.command_any == ("rm",)


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="not valid YAML"):
        pack_from_yaml("rules: [", "x.yaml")
    with pytest.raises(PackError, match="must be a mapping"):
        pack_from_yaml("- 1", "x.yaml")
    with pytest.raises(PackError, match="cannot read"):
        load_pack(tmp_path / "missing.yaml")


def test_extra_rules_replace_in_place_or_append() -> None:
    engine = GuardEngine.from_pack(
        DEFAULT_PACK,
        extra_rules=[
            rule(id="shell.rm-root", description="Allowed here.", action="allow"),
            rule(
                id="corp.no-psql-prod",
                kind="shell",
                match={"command": "psql", "args_any_glob": ["*prod*"]},
                action="review",
            ),
        ],
    )
    ids = [r.id for r in engine.pack.rules]
    default_ids = [r.id for r in load_pack(DEFAULT_PACK).rules]
    assert ids == [*default_ids, "corp.no-psql-prod"]
    assert engine.evaluate("Bash", {"command": "rm -rf /"}).action.value == "allow"
    assert engine.evaluate("Bash", {"command": "psql db-prod"}).action.value == "review"
