"""``warden rules list`` and ``warden rules test RULE_ID TEXT``: look at the catalogue."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from warden.cli.scan import add_rules_option, load_engine
from warden.detect.mask import Masker
from warden.detect.vault import MemoryVault


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("rules", help="list and try detection rules")
    inner = parser.add_subparsers(dest="rules_command", required=True, metavar="ACTION")

    listing = inner.add_parser("list", help="the rules in force (built-in + --rules)")
    add_rules_option(listing)
    listing.add_argument("--family", help="only this family")
    listing.add_argument("--json", action="store_true", help="one JSON object per rule")
    listing.set_defaults(func=_list)

    test = inner.add_parser("test", help="show what one rule matches in TEXT and how it masks")
    add_rules_option(test)
    test.add_argument("rule_id", metavar="RULE_ID")
    test.add_argument("text", metavar="TEXT", help="the text to try ('-' reads stdin)")
    test.set_defaults(func=_test)


def _list(args: argparse.Namespace) -> int:
    engine = load_engine(args.rules)
    if engine is None:
        return 2
    rules = [r for r in engine.rules if args.family in (None, r.family)]
    if args.json:
        for rule in rules:
            record = {
                "id": rule.id,
                "family": rule.family,
                "severity": rule.severity,
                "action": rule.action,
                "enabled": rule.enabled,
                "description": rule.description,
            }
            print(json.dumps(record))
        return 0
    table = Table(title=f"{len(rules)} rules")
    for column in ("id", "family", "severity", "action", "on", "description"):
        table.add_column(column, overflow="fold" if column == "description" else "ellipsis")
    for rule in rules:
        on = "yes" if rule.enabled else "opt-in"
        table.add_row(rule.id, rule.family, rule.severity, rule.action, on, rule.description)
    Console().print(table)
    return 0


def _test(args: argparse.Namespace) -> int:
    engine = load_engine(args.rules)
    if engine is None:
        return 2
    rule = engine.catalogue.get(args.rule_id)
    if rule is None:
        print(f"warden: no rule {args.rule_id!r} (see 'warden rules list')", file=sys.stderr)
        return 2
    text = sys.stdin.read() if args.text == "-" else args.text
    matches = engine.explain(text, rule.id)
    for n, match in enumerate(matches, 1):
        verdict = f"not a finding: {match.rejected}" if match.rejected else "finding"
        print(
            f"match {n}: characters {match.match_start}-{match.match_end}, "
            f"secret {match.start}-{match.end} {text[match.start : match.end]!r}: {verdict}"
        )
    if not matches:
        print(f"{rule.id}: no match")
    only: list[str | None] = [None] * len(engine.rules)
    only[engine.catalogue.index(rule.id)] = rule.action
    findings = engine.scan(text, only)
    masker = Masker(hash_key=os.urandom(32), vault=MemoryVault())
    print(f"masked ({rule.action}): {masker.apply(text, findings)}")
    return 0 if findings else 1
