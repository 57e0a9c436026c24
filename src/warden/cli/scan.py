"""``warden scan PATH…|-``: mask files or stdin with the rule catalogue.

Prints the masked text, or with ``--json`` one JSON object per finding
(``path``, ``rule``, ``start``/``end`` in characters of the file, 1-based
``line``, ``action``, ``severity``), never the secret itself. Exits 1 when
anything was found, 0 when nothing was, 2 on a usage error (a missing file,
a bad ``--rules`` file).

Every finding is shown masked here: ``block`` and ``review`` rules, which
stop or pause traffic in the gateway, are redacted, and ``tokenize`` uses a
throwaway vault (its placeholders cannot be reversed after the run).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import sys
from pathlib import Path
from typing import Any

from warden.detect.catalogue import Catalogue, CatalogueError
from warden.detect.engine import Engine, Finding
from warden.detect.mask import Masker
from warden.detect.vault import MemoryVault


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "scan", help="mask secrets and PII in files or stdin; exit 1 when something was found"
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files to scan, '-' for stdin")
    add_rules_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object per finding")
    parser.set_defaults(func=run)


def add_rules_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="FILE",
        help="extra rule YAML (same schema as the built-in catalogue); repeatable",
    )


def load_engine(rule_files: list[str]) -> Engine | None:
    """The default catalogue plus ``rule_files``; ``None`` after printing why not."""
    try:
        catalogue = Catalogue.default()
        if rule_files:
            catalogue = catalogue.with_files(rule_files)
    except CatalogueError as exc:
        print(f"warden: rules: {exc}", file=sys.stderr)
        return None
    # `scan` applies each rule's default: the rules that are off stay out of the pass.
    return Engine(catalogue, stream=False, active={r.id for r in catalogue.rules if r.enabled})


def run(args: argparse.Namespace) -> int:
    engine = load_engine(args.rules)
    if engine is None:
        return 2
    texts: list[tuple[str, str]] = []
    for path in args.paths:
        try:
            texts.append((path, _read(path)))
        except OSError as exc:
            print(f"warden: {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    masker = Masker(hash_key=os.urandom(32), vault=MemoryVault())
    found_any = False
    for path, text in texts:
        findings = engine.scan(text)
        found_any = found_any or bool(findings)
        if args.json:
            _print_json(path, text, findings)
            continue
        if len(texts) > 1:
            _write(f"==> {path} <==\n")
        _write(masker.apply(text, [_shown(f) for f in findings]))
    return 1 if found_any else 0


def _read(path: str) -> str:
    # surrogateescape keeps undecodable bytes one character each and round-trips them
    if path == "-":
        return sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    return Path(path).read_bytes().decode("utf-8", "surrogateescape")


def _write(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


def _shown(finding: Finding) -> Finding:
    if finding.action in ("block", "review"):
        return Finding(finding.rule_id, finding.start, finding.end, "redact", finding.severity)
    return finding


def _print_json(path: str, text: str, findings: list[Finding]) -> None:
    newlines = [i for i, ch in enumerate(text) if ch == "\n"] if findings else []
    for finding in findings:
        record = {
            "path": path,
            "rule": finding.rule_id,
            "start": finding.start,
            "end": finding.end,
            "line": bisect.bisect_left(newlines, finding.start) + 1,
            "action": finding.action,
            "severity": finding.severity,
        }
        print(json.dumps(record), flush=True)
