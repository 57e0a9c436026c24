"""The rule catalogue as data: it parses, it compiles everywhere, and its own examples hold.

These tests need no engine: they read the YAML with `rulegate`, a plain-regex reading of the
schema in src/warden/detect/rules/README.md. The engine has its own tests.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import hyperscan
import pytest
import re2
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.detect import rulegate as gate

HARD_NEGATIVES = Path(__file__).with_name("hard_negatives.txt")
README = gate.RULES_DIR / "README.md"
ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_MATCH_WIDTH = 20_000  # characters; the engine sizes its confirm window from this
REQUIRED = ("id", "description", "pattern", "examples")


@pytest.fixture(scope="module")
def rules() -> tuple[gate.Rule, ...]:
    return gate.load_catalogue()


@pytest.fixture(scope="module")
def enabled(rules: tuple[gate.Rule, ...]) -> list[gate.Rule]:
    return [r for r in rules if r.enabled]


def _hard_negatives() -> list[str]:
    lines = HARD_NEGATIVES.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


# --- shape --------------------------------------------------------------------------------


def test_every_file_parses_and_follows_the_schema() -> None:
    paths = sorted(gate.RULES_DIR.glob("*.yaml"))
    assert {p.stem for p in paths} == gate.FAMILIES
    problems = []
    for path in paths:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(doc) == {"family", "rules"}, path.name
        assert doc["family"] == path.stem, path.name
        for raw in doc["rules"]:
            where = f"{path.name}:{raw.get('id')}"
            problems += [f"{where}: unknown key {k}" for k in set(raw) - gate.RULE_KEYS]
            problems += [f"{where}: missing {k}" for k in REQUIRED if not raw.get(k)]
            allow = raw.get("allow") or {}
            problems += [f"{where}: unknown allow key {k}" for k in set(allow) - gate.ALLOW_KEYS]
            if raw.get("action", "redact") not in gate.ACTIONS:
                problems.append(f"{where}: action {raw.get('action')}")
            if raw.get("severity", "high") not in gate.SEVERITIES:
                problems.append(f"{where}: severity {raw.get('severity')}")
            if raw.get("validator") not in (None, *gate.KNOWN_VALIDATORS):
                problems.append(f"{where}: validator {raw.get('validator')}")
            kws = raw.get("keywords") or []
            if any(k != k.lower() or not k for k in kws):
                problems.append(f"{where}: keywords must be non-empty lower case")
            if not isinstance(raw.get("enabled", True), bool):
                problems.append(f"{where}: enabled must be a boolean")
    assert not problems, "\n".join(problems)


def test_ids_are_unique_kebab_case(rules: tuple[gate.Rule, ...]) -> None:
    dupes = [i for i, n in Counter(r.id for r in rules).items() if n > 1]
    assert not dupes
    assert [r.id for r in rules if not ID_RE.fullmatch(r.id)] == []


def test_there_are_at_least_150_credential_rules(rules: tuple[gate.Rule, ...]) -> None:
    # Credential rules: on by default, not PII, not the low-severity identifier rules.
    credential = [r for r in rules if r.enabled and r.family != "pii" and r.severity != "low"]
    assert len(credential) >= 150, len(credential)


def test_readme_documents_every_family_and_validator() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [f"{f}.yaml" for f in sorted(gate.FAMILIES) if f"{f}.yaml" not in text]
    missing += [v for v in sorted(gate.KNOWN_VALIDATORS) if f"`{v}`" not in text]
    assert not missing


# --- patterns -----------------------------------------------------------------------------


def test_patterns_compile_in_re_and_re2(rules: tuple[gate.Rule, ...]) -> None:
    problems = []
    for r in rules:
        try:
            compiled = re.compile(r.pattern, re.ASCII)
            if compiled.groups < r.secret_group:
                problems.append(f"{r.id}: secret_group {r.secret_group} > {compiled.groups} groups")
        except re.error as e:
            problems.append(f"{r.id}: re: {e}")
        try:
            re2.compile(r.pattern)
        except re2.error as e:
            problems.append(f"{r.id}: re2: {e}")
        problems += [f"{r.id}: allow pattern {p}" for p in r.allow_patterns if not _re2_ok(p)]
    assert not problems, "\n".join(problems)


def _re2_ok(pattern: str) -> bool:
    try:
        re2.compile(pattern)
    except re2.error:
        return False
    return True


def test_patterns_compile_together_in_one_hyperscan_database(rules: tuple[gate.Rule, ...]) -> None:
    # Without HS_FLAG_ALLOWEMPTY, hyperscan refuses any pattern that can match the empty string.
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    expressions = [r.pattern.encode() for r in rules]
    db.compile(
        expressions=expressions,
        ids=list(range(len(expressions))),
        elements=len(expressions),
        flags=[0] * len(expressions),
    )
    hits: set[int] = set()

    def on_match(rule_index: int, start: int, end: int, flags: int, context: object) -> None:
        hits.add(rule_index)

    for i, r in enumerate(rules):
        db.scan(r.examples[0].encode(), match_event_handler=on_match)
        assert i in hits, f"hyperscan misses the first example of {r.id}"
        hits.clear()


def test_every_match_has_a_bounded_nonzero_width(rules: tuple[gate.Rule, ...]) -> None:
    problems = []
    for r in rules:
        low, high = re._parser.parse(r.pattern, re.ASCII).getwidth()  # type: ignore[attr-defined]
        if low == 0 or high > MAX_MATCH_WIDTH:
            problems.append(f"{r.id}: width {low}..{high}")
    assert not problems, "\n".join(problems)


# --- examples and negatives ---------------------------------------------------------------


def test_every_example_is_found_by_its_rule(rules: tuple[gate.Rule, ...]) -> None:
    missed = [
        f"{r.id}: {ex[:80]!r}"
        for r in rules
        for ex in r.examples
        if not any(gate.iter_findings(r, ex))
    ]
    assert not missed, "\n".join(missed)


def test_re2_finds_the_same_secrets_as_re(rules: tuple[gate.Rule, ...]) -> None:
    problems = []
    for r in rules:
        compiled = re2.compile(r.pattern)
        for ex in r.examples:
            ours = [m.span(r.secret_group) for m in r.regex.finditer(ex)]
            theirs = [m.span(r.secret_group) for m in compiled.finditer(ex)]
            if ours != theirs:
                problems.append(f"{r.id}: re {ours} re2 {theirs} in {ex[:60]!r}")
    assert not problems, "\n".join(problems)


def test_rule_negatives_match_no_enabled_rule(
    rules: tuple[gate.Rule, ...], enabled: list[gate.Rule]
) -> None:
    fired = [
        f"{r.id} negative {neg[:60]!r} -> {f.rule}"
        for r in rules
        for neg in r.negatives
        for f in gate.scan([r, *enabled], neg)
    ]
    assert not fired, "\n".join(fired)


def test_hard_negatives_file_is_substantial() -> None:
    assert len(_hard_negatives()) >= 200


def test_hard_negatives_match_no_enabled_rule(enabled: list[gate.Rule]) -> None:
    fired = [
        f"{line[:70]!r} -> {f.rule} ({f.secret[:24]!r})"
        for line in _hard_negatives()
        for f in gate.scan(enabled, line)
    ]
    assert not fired, "\n".join(fired)


# --- the test-side validators, so the measurements above mean what they say ---------------


@pytest.mark.parametrize(
    ("validator", "value", "ok"),
    [
        ("luhn", "4539 1767 4936 5367", True),
        ("luhn", "4539-1767-4936-5368", False),
        ("iban", "GB25 ACME 3369 6783 5163 83", True),
        ("iban", "GB25 ACME 3369 6783 5163 84", False),
        ("us-ssn", "532-71-4098", True),
        ("us-ssn", "666-12-3456", False),
        ("us-ssn", "123-00-4567", False),
        ("ip-public", "8.8.4.4", True),
        ("ip-public", "10.1.2.3", False),
        ("ip-public", "2001:db8::1", False),
        ("phone", "+44 20 7946 0958", True),
        ("phone", "345-899-3560x4587", True),
        ("phone", "12", False),
        ("phone", "+0 123 456 789", False),
        ("email", "dana@acme-mail.io", True),
        ("email", "root@localhost", False),
        ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", True),
        ("jwt", "eyJzdWIiOiIxIn0.eyJzdWIiOiIxIn0.c2ln", False),
        ("pem", "-----BEGIN EC PRIVATE KEY-----\nAA\n-----END EC PRIVATE KEY-----", True),
        ("pem", "-----BEGIN EC PRIVATE KEY-----\nAA\n-----END RSA PRIVATE KEY-----", False),
    ],
)
def test_validators(validator: str, value: str, ok: bool) -> None:
    assert gate.VALIDATORS[validator](value) is ok


# --- key blocks, with keys generated here rather than copied from anywhere ----------------


def _fresh_private_keys() -> list[tuple[str, str]]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    none = serialization.NoEncryption()
    encrypted = serialization.BestAvailableEncryption(b"correct horse battery staple")
    pem, fmt = serialization.Encoding.PEM, serialization.PrivateFormat
    return [
        ("rsa-4096 traditional", rsa_key.private_bytes(pem, fmt.TraditionalOpenSSL, none).decode()),
        ("rsa-4096 pkcs8", rsa_key.private_bytes(pem, fmt.PKCS8, none).decode()),
        ("rsa-4096 pkcs8 encrypted", rsa_key.private_bytes(pem, fmt.PKCS8, encrypted).decode()),
        ("ec traditional", ec_key.private_bytes(pem, fmt.TraditionalOpenSSL, none).decode()),
        ("ed25519 openssh", ed_key.private_bytes(pem, fmt.OpenSSH, none).decode()),
    ]


def test_private_key_rule_finds_freshly_generated_keys(rules: tuple[gate.Rule, ...]) -> None:
    rule = next(r for r in rules if r.id == "private-key-block")
    missed = []
    for name, block in _fresh_private_keys():
        wrappings = {
            "raw": block,
            "json": '{"private_key": ' + json.dumps(block) + "}",
            "in prose": f"here is the key:\n\n{block}\nkeep it safe",
        }
        for how, text in wrappings.items():
            found = list(gate.iter_findings(rule, text))
            if len(found) != 1 or "PRIVATE KEY-----" not in found[0].secret:
                missed.append(f"{name} ({how})")
    assert not missed
