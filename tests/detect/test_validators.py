"""Validators and entropy, table-driven."""

from __future__ import annotations

import pytest

from warden.detect.entropy import shannon
from warden.detect.validators import VALIDATORS

CASES = [
    ("luhn", "4111 1111 1111 1111", True),
    ("luhn", "4111-1111-1111-1112", False),
    ("luhn", "0000 0000 0000 0000", False),
    ("luhn", "1234", False),
    ("iban", "GB82 WEST 1234 5698 7654 32", True),
    ("iban", "DE89370400440532013000", True),
    ("iban", "DE89370400440532013001", False),
    ("iban", "DE8937040044053201300", False),  # wrong length for DE
    ("iban", "QQ89370400440532013000", False),  # no such country
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", True),
    ("jwt", "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2ln", False),  # no alg
    ("jwt", "not.a.jwt", False),
    ("us-ssn", "536-22-1234", True),
    ("us-ssn", "666-22-1234", False),
    ("us-ssn", "900-22-1234", False),
    ("us-ssn", "536-00-1234", False),
    ("us-ssn", "536-22-0000", False),
    ("ip-public", "8.8.8.8", True),
    ("ip-public", "2606:4700:4700::1111", True),
    ("ip-public", "10.1.2.3", False),
    ("ip-public", "192.0.2.1", False),  # documentation range
    ("ip-public", "127.0.0.1", False),
    ("ip-public", "999.1.1.1", False),
    ("phone", "+44 20 7946 0958", True),
    ("phone", "+0 20 7946 0958", False),
    ("phone", "0044 20 7946 0958", True),
    ("phone", "020 7946 0958", True),
    ("phone", "(415) 555-0132 ext. 12", True),
    ("phone", "555-0132", True),
    ("phone", "111-1111", False),
    ("github-crc32", "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", True),
    ("github-crc32", "ghp_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq18", False),
    ("github-crc32", "github_pat_11AAAAAAA0abcdefghijkl_mnop", True),
    ("pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----", True),
    ("pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END EC PRIVATE KEY-----", False),
    ("email", "jane.doe@example.co.uk", True),
    ("email", "jane@localhost", False),
    ("email", "jane@example.c0m", False),
]


@pytest.mark.parametrize(("name", "value", "expected"), CASES)
def test_validator(name: str, value: str, expected: bool) -> None:
    assert VALIDATORS[name](value) is expected


def test_every_validator_has_a_case() -> None:
    assert {name for name, _, _ in CASES} == set(VALIDATORS)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("", 0.0, 0.0),
        ("aaaaaaaa", 0.0, 0.0),
        ("abab", 1.0, 1.0),
        ("0123456789abcdef", 4.0, 4.0),
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", 4.0, 5.5),
    ],
)
def test_shannon(text: str, low: float, high: float) -> None:
    assert low <= shannon(text) <= high
