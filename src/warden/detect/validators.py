"""Checks a candidate must pass before it counts: checksums and structure.

A rule names one validator (the list is closed; an unknown name fails the
catalogue load). Each takes the secret group's text and returns whether it
is plausibly real. They are pure functions of that text, so the engine's
result never depends on where or how the text arrived.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import zlib
from collections.abc import Callable, Mapping

Validator = Callable[[str], bool]


def luhn(value: str) -> bool:
    """Payment card numbers: 12-19 digits (spaces and dashes allowed), Luhn mod 10."""
    digits = [c for c in value if c not in " -"]
    if not 12 <= len(digits) <= 19 or not all("0" <= c <= "9" for c in digits):
        return False
    if len(set(digits)) == 1:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Total IBAN length per country, from the SWIFT IBAN registry.
_IBAN_LENGTHS: Mapping[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27,
    "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def iban(value: str) -> bool:
    """ISO 13616: a registered country, its registry length, check digits mod 97 == 1."""
    text = "".join(value.split()).upper()
    if not 15 <= len(text) <= 34 or not text.isascii() or not text.isalnum():
        return False
    country = text[:2]
    if not country.isalpha() or not text[2:4].isdigit():
        return False
    if _IBAN_LENGTHS.get(country) != len(text):
        return False
    rearranged = text[4:] + text[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jwt(value: str) -> bool:
    """Three base64url segments; the first decodes to a JSON object with an ``alg`` member."""
    parts = value.strip().split(".")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return False
    try:
        header = json.loads(_b64url(parts[0]))
    except (ValueError, binascii.Error):
        return False
    return isinstance(header, dict) and "alg" in header


def us_ssn(value: str) -> bool:
    """9 digits: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    digits = "".join(c for c in value if c not in " -")
    if len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    return 0 < area < 900 and area != 666 and group > 0 and serial > 0


def ip_public(value: str) -> bool:
    """A globally routable IPv4 or IPv6 address (not private, loopback, reserved, docs)."""
    try:
        address = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return address.is_global and not address.is_multicast


_EXTENSION = re.compile(r"\s*(?:x|ext\.?|extension)\s*\d{1,6}\s*$", re.IGNORECASE)


def phone(value: str) -> bool:
    """Separators and a trailing extension removed: ``+`` numbers have 8-15 digits
    not starting with 0; ``00`` numbers 8-15 digits after it; numbers with a
    national trunk ``0`` 9-11 digits; others 7-15; never one repeated digit."""
    text = _EXTENSION.sub("", value.strip())
    digits = "".join(c for c in text if c.isascii() and c.isdigit())
    if not digits or len(set(digits)) == 1:
        return False
    if text.startswith("+"):
        return 8 <= len(digits) <= 15 and digits[0] != "0"
    if digits.startswith("00"):
        return 8 <= len(digits) - 2 <= 15
    if digits.startswith("0"):
        return 9 <= len(digits) <= 11
    return 7 <= len(digits) <= 15


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def github_crc32(value: str) -> bool:
    """GitHub's ``gh?_`` tokens end in 6 base62 digits: the CRC32 of the 30 before them.

    Other GitHub token shapes (``github_pat_...``) carry no checksum we can
    check and pass.
    """
    head, sep, body = value.partition("_")
    if not sep or len(head) != 3 or not head.startswith("gh"):
        return value.startswith("github_pat_")
    if len(body) != 36 or not body.isascii() or not body.isalnum():
        return False
    number = 0
    for c in body[30:]:
        number = number * 62 + _BASE62.index(c)
    return zlib.crc32(body[:30].encode()) == number


_PEM_LABEL = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END ([A-Z0-9 ]+)-----", re.DOTALL)


def pem(value: str) -> bool:
    """A ``-----BEGIN X-----`` ... ``-----END X-----`` block whose two labels are equal."""
    found = _PEM_LABEL.search(value)
    return found is not None and found.group(1) == found.group(2)


def email(value: str) -> bool:
    """A local part and a domain that contains a dot and ends in a 2-24 letter TLD."""
    local, sep, domain = value.rpartition("@")
    if not sep or not local or "." not in domain:
        return False
    tld = domain.rsplit(".", 1)[1]
    return 2 <= len(tld) <= 24 and tld.isascii() and tld.isalpha()


VALIDATORS: Mapping[str, Validator] = {
    "luhn": luhn,
    "iban": iban,
    "jwt": jwt,
    "us-ssn": us_ssn,
    "ip-public": ip_public,
    "phone": phone,
    "github-crc32": github_crc32,
    "pem": pem,
    "email": email,
}
