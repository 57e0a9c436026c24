"""Warden: an identity-aware layer-7 gateway for AI agents."""

__version__ = "0.1.0.dev0"
