"""Everything a config builds, swapped as one object on reload.

A request takes the current :class:`Runtime` once, at its start, and keeps
it to its end: a reload never changes the rules under an exchange in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from warden.access.authorize import allowed
from warden.access.service import AccessService
from warden.access.static import StaticTokens
from warden.config.model import Config, ConnectionConfig, PolicyConfig
from warden.errors import Flavor
from warden.pipeline.chain import Pipeline
from warden.pipeline.types import Identity, Inspector
from warden.protocols.registry import flavor
from warden.upstream.broker import Broker

InspectorFactory = Callable[[str, PolicyConfig, Config], Sequence[Inspector]]
"""Builds the inspectors of one policy, in order: (policy name, policy, config)."""


@dataclass(slots=True)
class Connection:
    name: str
    config: ConnectionConfig
    broker: Broker
    flavor: Flavor


@dataclass(slots=True)
class Runtime:
    config: Config
    connections: dict[str, Connection]
    tokens: StaticTokens
    pipelines: dict[str, Pipeline]
    generation: int = 0
    extras: dict[str, Any] = field(default_factory=dict)
    access: AccessService | None = None
    """Gateway tokens, sign-in, JIT grants; ``None`` leaves only static tokens."""

    async def identify(self, credential: str) -> Identity | None:
        """The identity a presented gateway credential stands for, if any."""
        if self.access is not None:
            return await self.access.identify(credential)  # gateway JWT, then static
        return self.tokens.identify(credential)

    async def may_use(self, identity: Identity, connection: str) -> tuple[bool, str]:
        """The connection's access list (deny wins), and a grant if it is ``jit``."""
        rules = self.config.connections[connection].access
        if self.access is not None:
            return await self.access.may_use(identity, connection, rules, rules.jit)
        if not allowed(rules, identity):
            return False, f"{identity.subject} may not use connection {connection!r}"
        return rules.jit is None, "just-in-time access is not available"

    def pipeline_for(self, connection: str, identity: Identity) -> tuple[str, Pipeline]:
        conn = self.config.connections[connection]
        base = self.config.policies[conn.policy]
        name = conn.policy
        for group in sorted(identity.groups):
            override = base.groups.get(group)
            if override is not None:
                name = override
                break
        return name, self.pipelines[name]


def build_runtime(
    config: Config,
    session: aiohttp.ClientSession,
    factories: Sequence[InspectorFactory],
    *,
    generation: int = 0,
    access: AccessService | None = None,
) -> Runtime:
    """Build every pipeline and broker; raises if any inspector cannot be built."""
    connections = {
        name: Connection(name, conn, Broker(conn, session), flavor(conn.type))
        for name, conn in config.connections.items()
    }
    pipelines: dict[str, Pipeline] = {}
    for name, policy in config.policies.items():
        inspectors: list[Inspector] = []
        for factory in factories:
            inspectors.extend(factory(name, policy, config))
        pipelines[name] = Pipeline(inspectors)
    return Runtime(
        config=config,
        connections=connections,
        tokens=StaticTokens(config.token_hashes),
        pipelines=pipelines,
        generation=generation,
        access=access,
    )
