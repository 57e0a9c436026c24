"""Detection: the rule catalogue, the matching engine and the maskers.

The public names live here; the modules behind them are private details.
"""

from warden.detect.catalogue import (
    Catalogue,
    CatalogueError,
    CustomRules,
    KeywordRule,
    Rule,
    ValueRule,
)
from warden.detect.engine import Engine, Finding
from warden.detect.inspector import MaskingInspector
from warden.detect.mask import Masker, MaskStyle
from warden.detect.policy import MaskOptions, Policy, PolicyEntry
from warden.detect.stream import HoldOverflow, StreamMasker
from warden.detect.vault import MemoryVault, MemoryVaults, Vault, VaultCipher, detokenize

__all__ = [
    "Catalogue",
    "CatalogueError",
    "CustomRules",
    "Engine",
    "Finding",
    "HoldOverflow",
    "KeywordRule",
    "MaskOptions",
    "MaskStyle",
    "Masker",
    "MaskingInspector",
    "MemoryVault",
    "MemoryVaults",
    "Policy",
    "PolicyEntry",
    "Rule",
    "StreamMasker",
    "ValueRule",
    "Vault",
    "VaultCipher",
    "detokenize",
]
