"""From IdP claims (or SAML attributes) to Warden groups.

The rules are :class:`~warden.access.config.ClaimRule` values, applied in
order; their groups are unioned. A claim may be a string, a number or a list
of them; a dotted claim name walks into nested objects
(``realm_access.roles``).

**Entra ID group overage.** When a user is in more groups than fit in a
token (200 in a JWT), Entra leaves ``groups`` out and says so: an ID token
carries ``_claim_names: {"groups": "src1"}`` with a ``_claim_sources``
endpoint on Microsoft Graph, an implicit-flow token carries
``hasgroups: true``. Fetching from Graph needs a network call and Graph
permissions the gateway must not assume, so the groups are treated as
*unknown*: the rules for ``groups`` give nothing, the configured
``overage_groups`` are given instead, and :class:`GroupResult` says so (the
caller logs it, without the token). Roles (``roles``) never overflow and
still map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from warden.access.config import ClaimRule


@dataclass(frozen=True, slots=True)
class GroupResult:
    groups: frozenset[str]
    overage: bool = False


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The values of a claim as strings; a dotted name walks nested objects."""
    value: Any = claims.get(name)
    if value is None and "." in name:
        value = claims
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, str | int):
            out.append(str(item))
    return out


def groups_overflowed(claims: Mapping[str, Any], claim: str = "groups") -> bool:
    """Entra's overage indication for ``claim``."""
    names = claims.get("_claim_names")
    if isinstance(names, Mapping) and claim in names:
        return True
    return claim == "groups" and claims.get("hasgroups") is True


def map_groups(
    claims: Mapping[str, Any],
    rules: Iterable[ClaimRule],
    *,
    overage_groups: Iterable[str] = (),
) -> GroupResult:
    groups: set[str] = set()
    overage = False
    for rule in rules:
        if rule.claim not in claims and groups_overflowed(claims, rule.claim):
            overage = True
            continue
        for value in claim_values(claims, rule.claim):
            groups.update(rule.groups_for(value))
    if overage:
        groups.update(overage_groups)
    return GroupResult(frozenset(groups), overage)
