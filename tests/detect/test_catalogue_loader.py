"""Loading rules: the model, load-time refusals that name the rule, custom rules.

(The built-in catalogue's own content is tested in ``test_catalogue.py``.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.detect.engines import MINI, default_engine, mini_catalogue
from warden.detect.catalogue import (
    Catalogue,
    CatalogueError,
    CustomRules,
    KeywordRule,
    Rule,
    ValueRule,
)
from warden.detect.engine import Engine


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_loads_the_test_catalogue() -> None:
    catalogue = mini_catalogue()
    assert len(catalogue) == 8
    assert catalogue.families == ("test",)
    assert catalogue.get("test-card") is not None
    assert catalogue.get("nope") is None
    assert catalogue.rules[catalogue.index("test-ip")].enabled is False


def test_version_changes_with_content() -> None:
    base = mini_catalogue()
    changed = base.with_custom([Rule(id="extra", pattern="zzz-[0-9]{4}")])
    assert base.version != changed.version
    assert Catalogue.from_files([MINI]).version == base.version


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{id: Bad_Id, pattern: 'x'}", "kebab-case"),
        ("{id: a, pattern: 'a+'}", "a: pattern 'a\\+': unbounded repetition"),
        ("{id: a, pattern: 'x?'}", "can match the empty string"),
        ("{id: a, pattern: '(?<=x)y'}", "unsupported construct"),
        ("{id: a, pattern: 'x', validator: crc64}", "validator"),
        ("{id: a, pattern: 'x', colour: red}", "colour"),
        ("{id: a, pattern: '(x)', secret_group: 2}", "secret_group 2"),
        ("{id: a, pattern: 'x', action: shout}", "action"),
        ("{id: a, pattern: 'x', allow: {patterns: ['(']}}", "allow pattern"),
        ("{id: a, pattern: 'x', family: other}", "set per file"),
    ],
)
def test_bad_rules_are_refused_with_the_rule_named(tmp_path: Path, rule: str, message: str) -> None:
    path = write(tmp_path, f"family: t\nrules:\n  - {rule}\n")
    with pytest.raises(CatalogueError, match=message) as caught:
        Catalogue.from_files([path])
    assert str(path) in str(caught.value) or "a:" in str(caught.value)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "family: t\nrules:\n  - {id: a, pattern: x}\n  - {id: a, pattern: y}\n")
    with pytest.raises(CatalogueError, match="a: duplicate rule id"):
        Catalogue.from_files([path])


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path, "family: t\nrules:\n  - {id: a, pattern: 'a+'}\n  - {id: b, pattern: 'b*'}\n"
    )
    with pytest.raises(CatalogueError) as caught:
        Catalogue.from_files([path])
    assert len(caught.value.problems) == 2


def test_not_yaml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="rules"):
        Catalogue.from_files([write(tmp_path, "family: t\n")])


def test_custom_rules_regex_keywords_and_values() -> None:
    custom = CustomRules(
        rules=(Rule(id="ticket-id", pattern=r"\bTCK-[0-9]{6}\b", action="hash"),),
        keywords=(KeywordRule(id="code-names", words=("Bluebird", "Project X")),),
        values=(ValueRule(id="hosts", values=("db1.corp.example", "10.9.8.7")),),
    )
    catalogue = mini_catalogue().with_custom(custom)
    engine = Engine(catalogue, backend="python")
    text = "bluebird and PROJECT X touch db1.corp.example (10.9.8.7), see TCK-123456; xbluebird"
    found = [(f.rule_id, text[f.start : f.end]) for f in engine.scan(text)]
    assert found == [
        ("code-names", "bluebird"),
        ("code-names", "PROJECT X"),
        ("hosts", "db1.corp.example"),
        ("hosts", "10.9.8.7"),
        ("ticket-id", "TCK-123456"),
    ]
    assert catalogue.get("code-names") is not None
    assert catalogue.rules[-1].family == "custom"


def test_value_rules_are_case_sensitive_by_default() -> None:
    custom = CustomRules(values=(ValueRule(id="cust", values=("ACME-42",)),))
    engine = Engine(Catalogue(()).with_custom(custom), backend="python")
    assert [f.rule_id for f in engine.scan("acme-42 ACME-42")] == ["cust"]


def test_custom_ids_must_not_clash() -> None:
    with pytest.raises(CatalogueError, match="duplicate"):
        mini_catalogue().with_custom([Rule(id="test-card", pattern="x")])


def test_default_catalogue_loads_and_builds() -> None:
    engine = default_engine()
    assert len(engine.rules) > 150
    assert engine.backend == "hyperscan"
