"""The access service: identify a caller, decide whether they may use a connection."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.access.support import AuditSink, Clock, identity_config
from warden.access.service import AccessService, default_issuer
from warden.access.static import StaticTokens
from warden.config.model import AccessConfig, TokenConfig
from warden.pipeline.types import Identity

STATIC = "wdn-static-service-token-123"


def static_tokens() -> StaticTokens:
    digest = hashlib.sha256(STATIC.encode()).hexdigest()
    return StaticTokens(
        {digest: TokenConfig(name="ci", subject="ci-bot", groups=["ci"], sha256=digest)}
    )


async def test_identifies_gateway_tokens_and_falls_back_to_static_tokens(
    service: AccessService,
) -> None:
    service.reconfigure(service.config, static_tokens=static_tokens())
    token, _ = await service.issue("alice", frozenset({"dev"}), ("oidc",), display_name="Alice")
    who = await service.identify(token)
    assert who == Identity("alice", frozenset({"dev"}), "oidc", "Alice")
    static = await service.identify(STATIC)
    assert static is not None and static.subject == "ci-bot"
    assert static.auth_method == "service-token"
    assert await service.identify("wdn-not-a-token") is None
    assert await service.identify(token[:-4] + "AAAA") is None


async def test_a_revoked_token_stops_identifying(service: AccessService) -> None:
    token, claims = await service.issue("alice", frozenset(), ("oidc",))
    await service.revoke_token(claims, "admin", "laptop lost")
    assert await service.identify(token) is None


async def test_replicas_accept_each_others_tokens_and_revocations(
    service: AccessService, store_url: str, tmp_path: Path, clock: Clock
) -> None:
    other = AccessService(
        identity_config(),
        issuer=service.issuer,
        state_dir=tmp_path / "replica-b",
        store_url=store_url,
        clock=clock,
    )
    await other.start()
    try:
        token, claims = await other.issue("bob", frozenset({"ops"}), ("oidc",))
        # A key published after this replica's last sync: one reload finds it.
        who = await service.identify(token)
        assert who is not None and who.subject == "bob"
        await other.revoke_token(claims, "admin", "test")
        assert await service.identify(token) is not None  # not synced yet
        await service.sync_once()
        assert await service.identify(token) is None
    finally:
        await other.close()


async def test_a_token_from_another_gateway_is_refused(
    service: AccessService, store_url: str, tmp_path: Path, clock: Clock
) -> None:
    other = AccessService(
        identity_config(),
        issuer="https://other-gateway.example.com",
        state_dir=tmp_path / "other",
        store_url=store_url,
        clock=clock,
    )
    await other.start()
    try:
        token, _ = await other.issue("mallory", frozenset({"admins"}), ("oidc",))
        await service.sync_once()
        assert await service.identify(token) is None
    finally:
        await other.close()


async def test_access_lists_deny_wins(service: AccessService) -> None:
    alice = Identity("alice", frozenset({"dev", "contractors"}))
    bob = Identity("bob", frozenset({"dev"}))
    access = AccessConfig(groups=["dev"], deny_groups=["contractors"])
    assert await service.may_use(bob, "claude", access) == (True, "access list")
    allowed, why = await service.may_use(alice, "claude", access)
    assert not allowed and "may not use connection 'claude'" in why
    assert (await service.may_use(alice, "claude", AccessConfig()))[0]
    denied = AccessConfig(deny_subjects=["bob"])
    assert not (await service.may_use(bob, "claude", denied))[0]


def test_default_issuer() -> None:
    assert default_issuer("127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert default_issuer("0.0.0.0:9000") == "http://127.0.0.1:9000"
    assert default_issuer("[::]:9000") == "http://127.0.0.1:9000"


async def test_first_start_prints_an_admin_password_once(
    store_url: str, tmp_path: Path, clock: Clock
) -> None:
    printed: list[str] = []
    audit = AuditSink()
    for _ in range(2):
        svc = AccessService(
            identity_config(local_accounts={"bootstrap": True}),
            issuer="http://127.0.0.1:8080",
            state_dir=tmp_path / "state",
            store_url=store_url,
            clock=clock,
            audit=audit,
            announce=printed.append,
        )
        await svc.start()
        accounts = await svc.store.run(svc.accounts.all)
        await svc.close()
    assert len(printed) == 1
    password = printed[0].split("password: ")[1].split()[0]
    assert [a.username for a in accounts] == ["admin"]
    assert accounts[0].groups == ("admin",)
    assert audit.kinds() == ["access.account.bootstrap"]
    assert password not in str(audit.events)
