"""A plain-regex reading of the rule catalogue, for tests that run before (and beside) the engine.

It applies a rule exactly as ``src/warden/detect/rules/README.md`` describes: the regex, then
the keyword gate on the whole match, then the entropy floor on the secret group, then the
allowlist, then the validator. It uses Python ``re`` (ASCII mode) so a pattern that backtracks
badly shows up here as a slow test; ``re2`` and hyperscan are only compiled against.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "src" / "warden" / "detect" / "rules"

FAMILIES = frozenset(
    {
        "cloud",
        "source-host",
        "ci-cd",
        "package-registry",
        "saas",
        "payment",
        "messaging",
        "ai",
        "observability",
        "database",
        "crypto-key",
        "generic",
        "pii",
    }
)
ACTIONS = frozenset({"redact", "mask", "hash", "tokenize", "block", "review"})
SEVERITIES = frozenset({"critical", "high", "medium", "low"})
RULE_KEYS = frozenset(
    {
        "id",
        "description",
        "pattern",
        "secret_group",
        "keywords",
        "entropy",
        "validator",
        "allow",
        "action",
        "severity",
        "multiline",
        "enabled",
        "examples",
        "negatives",
    }
)
ALLOW_KEYS = frozenset({"values", "patterns", "stopwords"})


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    description: str
    pattern: str
    secret_group: int
    keywords: tuple[str, ...]
    entropy: float | None
    validator: str | None
    allow_values: frozenset[str]
    allow_patterns: tuple[str, ...]
    stopwords: tuple[str, ...]
    action: str
    severity: str
    multiline: bool
    enabled: bool
    examples: tuple[str, ...]
    negatives: tuple[str, ...]
    source: str

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern)


@dataclass(frozen=True)
class Finding:
    rule: str
    start: int
    end: int
    secret: str


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


def load_file(path: Path) -> list[Rule]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    family = doc["family"]
    rules = []
    for raw in doc["rules"]:
        allow = raw.get("allow") or {}
        rules.append(
            Rule(
                id=raw["id"],
                family=family,
                description=raw["description"],
                pattern=raw["pattern"],
                secret_group=int(raw.get("secret_group", 0)),
                keywords=tuple(raw.get("keywords") or ()),
                entropy=raw.get("entropy"),
                validator=raw.get("validator"),
                allow_values=frozenset(allow.get("values") or ()),
                allow_patterns=tuple(allow.get("patterns") or ()),
                stopwords=tuple(allow.get("stopwords") or ()),
                action=raw.get("action", "redact"),
                severity=raw.get("severity", "high"),
                multiline=bool(raw.get("multiline", False)),
                enabled=bool(raw.get("enabled", True)),
                examples=tuple(raw.get("examples") or ()),
                negatives=tuple(raw.get("negatives") or ()),
                source=path.name,
            )
        )
    return rules


@cache
def load_catalogue() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for path in sorted(RULES_DIR.glob("*.yaml")):
        rules.extend(load_file(path))
    return tuple(rules)


def shannon_entropy(s: str) -> float:
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


# --- validators (minimal, test-side; the engine has its own) --------------------------------


def _luhn(s: str) -> bool:
    digits = re.sub(r"[ \-]", "", s)
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def _iban(s: str) -> bool:
    v = re.sub(r"[ \-]", "", s).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}", v):
        return False
    if _IBAN_LENGTHS.get(v[:2]) != len(v):
        return False
    n = "".join(str(int(c, 36)) for c in v[4:] + v[:4])
    return int(n) % 97 == 1


def _b64url_json(seg: str) -> object:
    raw = base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))
    return json.loads(raw)


def _jwt(s: str) -> bool:
    parts = s.split(".")
    if len(parts) != 3:
        return False
    try:
        header = _b64url_json(parts[0])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and "alg" in header


def _us_ssn(s: str) -> bool:
    d = re.sub(r"[ \-]", "", s)
    if not re.fullmatch(r"[0-9]{9}", d):
        return False
    area, group, serial = d[:3], d[3:5], d[5:]
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


def _ip_public(s: str) -> bool:
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


def _phone(s: str) -> bool:
    """Plausible E.164 length: 7-15 digits once separators and an extension (x123, ext. 123) are
    stripped; a '+' number must not start with 0; a national number written with its trunk
    prefix 0 has 9-11 digits; a run of one repeated digit is not a number."""
    core = re.sub(r"(?i)\s*(?:x|ext\.?)\s*[0-9]{1,6}$", "", s.strip())
    d = re.sub(r"[^0-9]", "", core)
    if core.startswith("+"):
        return 8 <= len(d) <= 15 and d[0] != "0"
    if d.startswith("00"):
        return 8 <= len(d) - 2 <= 15
    if d.startswith("0"):
        return 9 <= len(d) <= 11
    return 7 <= len(d) <= 15 and len(set(d)) > 1


def _pem(s: str) -> bool:
    begin = re.search(r"-----BEGIN ([A-Z0-9 ]+)-----", s)
    end = re.search(r"-----END ([A-Z0-9 ]+)-----", s)
    return bool(begin and end and begin.group(1) == end.group(1))


def _email(s: str) -> bool:
    local, _, domain = s.rpartition("@")
    if not local or "." not in domain:
        return False
    tld = domain.rsplit(".", 1)[1]
    return tld.isalpha() and 2 <= len(tld) <= 24


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": _luhn,
    "iban": _iban,
    "jwt": _jwt,
    "us-ssn": _us_ssn,
    "ip-public": _ip_public,
    "phone": _phone,
    "pem": _pem,
    "email": _email,
}
KNOWN_VALIDATORS = frozenset(VALIDATORS) | {"github-crc32"}


def _allowed(rule: Rule, secret: str) -> bool:
    if secret in rule.allow_values:
        return True
    low = secret.lower()
    if any(w.lower() in low for w in rule.stopwords):
        return True
    return any(_compile(p).search(secret) for p in rule.allow_patterns)


def iter_findings(rule: Rule, text: str, *, validate: bool = True) -> Iterator[Finding]:
    for m in rule.regex.finditer(text):
        secret = m.group(rule.secret_group)
        if not secret:
            continue
        if rule.keywords:
            whole = m.group(0).lower()
            if not any(k in whole for k in rule.keywords):
                continue
        if rule.entropy is not None and shannon_entropy(secret) < rule.entropy:
            continue
        if _allowed(rule, secret):
            continue
        if validate and rule.validator:
            check = VALIDATORS.get(rule.validator)
            if check is None or not check(secret):
                continue
        start, end = m.span(rule.secret_group)
        yield Finding(rule.id, start, end, secret)


def scan(rules: Iterable[Rule], text: str) -> list[Finding]:
    out: list[Finding] = []
    for rule in rules:
        out.extend(iter_findings(rule, text))
    return out
