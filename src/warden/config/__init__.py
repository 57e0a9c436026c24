"""Configuration: the schema (``model``) and reading a file (``loader``)."""

from warden.config.loader import ConfigError, ConfigProblem, interpolate, load_config, parse_config
from warden.config.model import (
    Config,
    ConnectionConfig,
    ConnectionType,
    PolicyConfig,
    RecordingMode,
    TokenConfig,
)
from warden.config.refs import CredentialRef

__all__ = [
    "Config",
    "ConfigError",
    "ConfigProblem",
    "ConnectionConfig",
    "ConnectionType",
    "CredentialRef",
    "PolicyConfig",
    "RecordingMode",
    "TokenConfig",
    "interpolate",
    "load_config",
    "parse_config",
]
