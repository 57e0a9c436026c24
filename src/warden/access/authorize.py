"""Which identities may use a connection. Deny always wins."""

from __future__ import annotations

from warden.config.model import AccessConfig
from warden.pipeline.types import Identity


def allowed(access: AccessConfig, identity: Identity) -> bool:
    if identity.subject in access.deny_subjects:
        return False
    if identity.groups & set(access.deny_groups):
        return False
    if not access.groups and not access.subjects:
        return True
    return identity.subject in access.subjects or bool(identity.groups & set(access.groups))
