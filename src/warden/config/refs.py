"""References to secrets (defined in :mod:`warden.refs`, outside this package,
so that sections living elsewhere can use them without an import cycle)."""

from warden.refs import CredentialRef

__all__ = ["CredentialRef"]
