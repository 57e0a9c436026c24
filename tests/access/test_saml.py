"""SAML 2.0 sign-in (python3-saml SP) against a pysaml2 IdP, and the attacks on it."""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.access.support import AuditSink, Clock, auth_server, identity_config
from warden.access.config import SamlConfig
from warden.access.logins import Logins
from warden.access.oidc import LoginFailed
from warden.access.saml import SamlServiceProvider
from warden.access.service import AccessService
from warden.access.store import AccessStore

with warnings.catch_warnings():
    # pysaml2 imports a cipher mode that cryptography moved; not Warden's code.
    warnings.simplefilter("ignore")
    from tests.access.saml_idp import IDP_ENTITY, IDP_SSO, SamlIdp, make_idp, self_signed

Client = TestClient[web.Request, web.Application]
DISPLAY_NAME = "urn:mace:dir:attribute-def:displayName"


def saml_config(cert: Path) -> dict[str, Any]:
    return {
        "idp_entity_id": IDP_ENTITY,
        "idp_sso_url": IDP_SSO,
        "idp_certificate_file": str(cert),
        "name_attribute": DISPLAY_NAME,
    }


@pytest.fixture
async def saml(
    store_url: str, tmp_path: Path, clock: Clock, audit: AuditSink
) -> AsyncIterator[tuple[Client, AccessService, SamlIdp]]:
    key, cert = self_signed(tmp_path, "idp")
    identity = identity_config(
        saml=saml_config(cert),
        groups=[{"claim": "groups"}],
        local_accounts={"enabled": False, "bootstrap": False},
    )
    async with auth_server(
        identity, store_url=store_url, state_dir=tmp_path / "s", clock=clock, audit=audit
    ) as (client, service):
        metadata = await (await client.get("/auth/saml/metadata")).text()
        assert 'entityID="' + service.issuer + '/auth/saml/metadata"' in metadata
        yield client, service, make_idp(metadata, key, cert)


async def begin(client: Client) -> str:
    response = await client.get("/auth/login?method=saml", allow_redirects=False)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    assert location.startswith(IDP_SSO + "?SAMLRequest=")
    return location


async def post(client: Client, response: str, relay_state: str) -> tuple[int, str]:
    answer = await client.post(
        "/auth/saml/acs", data={"SAMLResponse": response, "RelayState": relay_state}
    )
    return answer.status, await answer.text()


async def test_a_signed_assertion_signs_in(
    saml: tuple[Client, AccessService, SamlIdp], audit: AuditSink
) -> None:
    client, service, idp = saml
    response, relay = idp.respond(await begin(client))
    status, page = await post(client, response, relay)
    assert status == 200, page
    assert "signed in as Alice Example" in page
    token = next(c.value for c in client.session.cookie_jar if c.key == "warden_session")
    who = await service.identify(token)
    assert who is not None
    assert (who.subject, who.groups, who.auth_method) == ("alice@example.com", {"sre"}, "saml")
    assert audit.events[-1][2]["method"] == "saml"


def xml(response: str) -> str:
    return base64.b64decode(response).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"sign_assertion": False}, "Assertion of the Response is not signed"),
        (
            {"sign_assertion": False, "sign_response": True},
            "Assertion of the Response is not signed",
        ),
        ({"sha1": True}, "Deprecated signature algorithm"),
        ({"audience": "https://other-sp.example.com/metadata"}, "not a valid audience"),
        ({"destination": "https://other-sp.example.com/acs"}, "received at"),
        ({"in_response_to": "ONELOGIN_someone_elses_request"}, "InResponseTo"),
        ({"in_response_to": None}, "does not answer this sign-in"),
    ],
)
async def test_refused_responses(
    saml: tuple[Client, AccessService, SamlIdp], knobs: dict[str, Any], reason: str
) -> None:
    client, _, idp = saml
    response, relay = idp.respond(await begin(client), **knobs)
    status, page = await post(client, response, relay)
    assert status == 400
    assert reason in page, page


async def test_an_assertion_from_another_idp_key_is_refused(
    saml: tuple[Client, AccessService, SamlIdp], tmp_path: Path
) -> None:
    client, _, _idp = saml
    metadata = await (await client.get("/auth/saml/metadata")).text()
    key, cert = self_signed(tmp_path, "attacker")
    attacker = make_idp(metadata, key, cert)
    response, relay = attacker.respond(await begin(client))
    status, page = await post(client, response, relay)
    assert status == 400 and "Signature validation failed" in page


async def test_a_tampered_assertion_is_refused(
    saml: tuple[Client, AccessService, SamlIdp],
) -> None:
    client, _, idp = saml
    response, relay = idp.respond(await begin(client), user="mallory@example.com")
    forged = xml(response).replace("mallory@example.com", "admin@example.com")
    status, page = await post(client, b64(forged), relay)
    assert status == 400 and "Signature validation failed" in page


async def test_a_wrapped_second_assertion_is_refused(
    saml: tuple[Client, AccessService, SamlIdp],
) -> None:
    """Signature wrapping: keep the signed assertion, add an unsigned one to be read."""
    client, _, idp = saml
    response, relay = idp.respond(await begin(client), user="mallory@example.com")
    document = xml(response)
    signed = re.search(r"<ns1:Assertion .*</ns1:Assertion>", document, re.S)
    assert signed is not None
    evil = re.sub(r"<ns2:Signature .*</ns2:Signature>", "", signed.group(0), flags=re.S)
    evil = evil.replace("mallory@example.com", "admin@example.com").replace('ID="', 'ID="evil')
    status, page = await post(
        client, b64(document.replace(signed.group(0), evil + signed.group(0))), relay
    )
    assert status == 400 and ("1 assertion" in page or "Signature" in page)


async def test_a_replayed_response_is_refused(
    saml: tuple[Client, AccessService, SamlIdp],
) -> None:
    client, _, idp = saml
    response, relay = idp.respond(await begin(client))
    assert (await post(client, response, relay))[0] == 200
    client.session.cookie_jar.update_cookies({"warden_login": relay})
    status, page = await post(client, response, relay)
    assert status == 400 and "already used" in page
    # Even with a fresh sign-in to carry it, the old response answers another request.
    fresh = await begin(client)
    new_relay = dict(p.split("=", 1) for p in fresh.split("?", 1)[1].split("&"))["RelayState"]
    status, page = await post(client, response, new_relay)
    assert status == 400 and "InResponseTo" in page


async def test_an_unknown_relay_state_is_refused(
    saml: tuple[Client, AccessService, SamlIdp],
) -> None:
    client, _, idp = saml
    response, _relay = idp.respond(await begin(client))
    status, page = await post(client, response, "made-up-state")
    assert status == 400 and "another browser" in page


def test_the_assertion_id_cache_stops_a_replay_the_state_did_not(
    store: AccessStore, tmp_path: Path
) -> None:
    """Defence in depth: the same assertion presented for two sign-ins that share a
    request id (a state row copied between replicas, say) is accepted once."""
    key, cert = self_signed(tmp_path, "idp")
    sp = SamlServiceProvider(
        SamlConfig.model_validate(saml_config(cert)),
        "http://127.0.0.1:8080",
        store,
        rules=[],
        overage_groups=[],
    )
    idp = make_idp(sp.metadata(), key, cert)
    logins = Logins(store)
    login = logins.start("saml")
    url, request_id = sp.login_url(login.state)
    logins.set_request_id(login.state, request_id)
    consumed = logins.consume(login.state, "saml")
    assert consumed is not None
    response, _ = idp.respond(url)
    assert sp.complete(consumed, response).subject == "alice@example.com"
    with pytest.raises(LoginFailed, match="replay"):
        sp.complete(consumed, response)
