"""Just-in-time access: requests, approvals (never one's own), time-bound grants, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.access.support import AuditSink, Clock, identity_config
from warden.access.config import JitRule
from warden.access.grants import GrantError, Problem, Status
from warden.access.service import AccessService, AuditFailed, ConnectionAccess
from warden.config.model import AccessConfig
from warden.pipeline.types import Identity

PROD = AccessConfig(groups=["dev", "sre-leads"], deny_subjects=["eve"])
RULE = JitRule(approvers=["sre-leads"], approvals=2, max_duration="4h")
CONNECTIONS = {
    "prod-db": ConnectionAccess(PROD, RULE),
    "staging": ConnectionAccess(AccessConfig(groups=["dev"]), JitRule(approvers=["sre-leads"])),
    "claude": ConnectionAccess(AccessConfig()),
}
ALICE = Identity("alice", frozenset({"dev"}))
EVE = Identity("eve", frozenset({"dev"}))
LEAD1 = Identity("lead1", frozenset({"sre-leads"}))
LEAD2 = Identity("lead2", frozenset({"sre-leads"}))
LEAD3 = Identity("lead3", frozenset({"sre-leads", "dev"}))
OUTSIDER = Identity("olivia", frozenset({"dev"}))


async def new_service(
    store_url: str, state: Path, clock: Clock, audit: AuditSink | None
) -> AccessService:
    svc = AccessService(
        identity_config(),
        issuer="http://127.0.0.1:8080",
        state_dir=state,
        store_url=store_url,
        connections=CONNECTIONS,
        audit=audit,
        clock=clock,
    )
    await svc.start()
    return svc


@pytest.fixture
async def jit(
    store_url: str, tmp_path: Path, clock: Clock, audit: AuditSink
) -> AsyncIterator[AccessService]:
    svc = await new_service(store_url, tmp_path / "a", clock, audit)
    try:
        yield svc
    finally:
        await svc.close()


async def may_use(svc: AccessService, who: Identity, name: str = "prod-db") -> bool:
    conn = CONNECTIONS[name]
    allowed, _ = await svc.may_use(who, name, conn.access, conn.jit)
    return allowed


async def test_two_approvers_grant_an_hour_that_then_expires(
    jit: AccessService, clock: Clock, audit: AuditSink
) -> None:
    assert not await may_use(jit, ALICE)
    _allowed, why = await jit.may_use(ALICE, "prod-db", PROD, RULE)
    assert "warden request prod-db --for 1h" in why
    request = await jit.request_access(ALICE, "prod-db", 3600, "incident 4711")
    assert (request.status, request.approvals_required) == (Status.PENDING, 2)

    first = await jit.decide(request.id, LEAD1, approve=True, comment="ok")
    assert not first.granted and first.request.status is Status.PENDING
    assert not await may_use(jit, ALICE)
    second = await jit.decide(request.id, LEAD2, approve=True)
    assert second.granted and second.request.status is Status.APPROVED
    assert second.request.expires_at == second.request.granted_at + 3600
    assert await may_use(jit, ALICE)
    assert not await may_use(jit, OUTSIDER)  # a grant is personal

    clock.advance(3600)
    assert not await may_use(jit, ALICE)  # on time, before any sync
    await jit.sync_once()
    [expired] = await jit.list_requests(ALICE, mine=True)
    assert expired.status is Status.EXPIRED
    assert audit.kinds() == [
        "access.request",
        "access.approve",
        "access.approve",
        "access.grant",
        "access.grant.expire",
    ]


async def test_nobody_approves_their_own_request(jit: AccessService) -> None:
    request = await jit.request_access(LEAD3, "prod-db", 600, "rotate the keys")
    with pytest.raises(GrantError, match="nobody approves their own request") as caught:
        await jit.decide(request.id, LEAD3, approve=True)
    assert caught.value.problem is Problem.FORBIDDEN


async def test_only_approvers_decide_and_each_counts_once(jit: AccessService) -> None:
    request = await jit.request_access(ALICE, "prod-db", 600, "debug")
    with pytest.raises(GrantError, match="not an approver"):
        await jit.decide(request.id, OUTSIDER, approve=True)
    await jit.decide(request.id, LEAD1, approve=True)
    with pytest.raises(GrantError, match="already decided"):
        await jit.decide(request.id, LEAD1, approve=True)
    assert not await may_use(jit, ALICE)


async def test_one_denial_ends_the_request(jit: AccessService, audit: AuditSink) -> None:
    request = await jit.request_access(ALICE, "prod-db", 600, "debug")
    await jit.decide(request.id, LEAD1, approve=True)
    denied = await jit.decide(request.id, LEAD2, approve=False, comment="use staging")
    assert denied.request.status is Status.DENIED
    with pytest.raises(GrantError, match="denied, not pending"):
        await jit.decide(request.id, LEAD3, approve=True)
    assert not await may_use(jit, ALICE)
    assert "access.deny" in audit.kinds()


@pytest.mark.parametrize(
    ("who", "connection", "duration", "reason", "message"),
    [
        (ALICE, "prod-db", 5 * 3600, "x", "grants at most 4h"),
        (ALICE, "prod-db", 600, "  ", "give a reason"),
        (EVE, "prod-db", 600, "x", "may not use connection"),
        (LEAD1, "staging", 600, "x", "may not use connection"),
        (ALICE, "claude", 600, "x", "does not need just-in-time"),
        (ALICE, "nope", 600, "x", "no connection named"),
    ],
)
async def test_refused_requests(
    jit: AccessService,
    who: Identity,
    connection: str,
    duration: float,
    reason: str,
    message: str,
) -> None:
    with pytest.raises(GrantError, match=message):
        await jit.request_access(who, connection, duration, reason)


async def test_one_open_request_per_connection(jit: AccessService) -> None:
    await jit.request_access(ALICE, "prod-db", 600, "a")
    with pytest.raises(GrantError, match="already have a pending request"):
        await jit.request_access(ALICE, "prod-db", 600, "b")


async def test_a_single_approval_rule_and_the_default_duration(jit: AccessService) -> None:
    request = await jit.request_access(ALICE, "staging", None, "check")
    assert request.duration == 3600
    decided = await jit.decide(request.id, LEAD1, approve=True)
    assert decided.granted
    assert await may_use(jit, ALICE, "staging")


async def test_unanswered_requests_lapse(jit: AccessService, clock: Clock) -> None:
    request = await jit.request_access(ALICE, "prod-db", 600, "debug")
    clock.advance(RULE.pending_ttl)
    with pytest.raises(GrantError, match="not pending"):
        await jit.decide(request.id, LEAD1, approve=True)
    await jit.sync_once()
    assert (await jit.store.run(jit.grants.get, request.id)).status is Status.LAPSED


async def test_a_revoked_grant_ends_now(jit: AccessService, audit: AuditSink) -> None:
    request = await jit.request_access(ALICE, "staging", 3600, "check")
    await jit.decide(request.id, LEAD1, approve=True)
    assert await may_use(jit, ALICE, "staging")
    with pytest.raises(GrantError, match="only the requester or an approver"):
        await jit.revoke_grant(request.id, OUTSIDER)
    await jit.revoke_grant(request.id, LEAD2)
    assert not await may_use(jit, ALICE, "staging")
    assert audit.kinds()[-1] == "access.revoke"


async def test_a_grant_that_cannot_be_audited_does_not_exist(
    jit: AccessService, audit: AuditSink
) -> None:
    request = await jit.request_access(ALICE, "staging", 3600, "check")
    audit.fail = True
    with pytest.raises(AuditFailed):
        await jit.decide(request.id, LEAD1, approve=True)
    audit.fail = False
    assert not await may_use(jit, ALICE, "staging")
    assert (await jit.store.run(jit.grants.get, request.id)).status is Status.REVOKED


async def test_other_replicas_honour_grants(
    jit: AccessService, store_url: str, tmp_path: Path, clock: Clock
) -> None:
    other = await new_service(store_url, tmp_path / "b", clock, None)
    try:
        assert not await may_use(other, ALICE, "staging")
        request = await jit.request_access(ALICE, "staging", 3600, "check")
        await jit.decide(request.id, LEAD1, approve=True)
        clock.advance(1.5)  # past the replica's negative-cache gap
        assert await may_use(other, ALICE, "staging")
    finally:
        await other.close()


async def test_approvers_list_what_they_may_decide(jit: AccessService) -> None:
    await jit.request_access(ALICE, "prod-db", 600, "x")
    assert [r.connection for r in await jit.list_requests(LEAD1)] == ["prod-db"]
    assert await jit.list_requests(OUTSIDER) == []
    assert [r.subject for r in await jit.list_requests(ALICE, mine=True)] == ["alice"]
