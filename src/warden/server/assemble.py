"""Putting the product together: which inspectors, recorder and approvals a
config turns on. Built-in inspectors are registered here exactly as a third
party's would be: as factories in one ordered list."""

from __future__ import annotations

from warden.config.model import Config
from warden.server.run import run
from warden.server.runtime import InspectorFactory

INSPECTOR_FACTORIES: list[InspectorFactory] = []


def run_gateway(config: Config) -> None:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    run(config, factories=INSPECTOR_FACTORIES)
