"""SAML 2.0 service provider for web sign-in (python3-saml).

Warden sends an AuthnRequest by the HTTP-Redirect binding, with the sign-in
``state`` as RelayState, and accepts the Response by HTTP-POST at
``/auth/saml/acs``. python3-saml in strict mode checks the XML schema, the
signature (against the configured IdP certificate only), the issuer,
timestamps and the audience; Warden requires on top of that, because the
library leaves them optional:

* the **assertion** must be signed (a signed Response around an unsigned
  assertion is not enough), with SHA-256 or better;
* ``InResponseTo`` must be present and equal the ID of the AuthnRequest of
  this sign-in: no IdP-initiated (unsolicited) responses;
* the Response ``Destination`` and the bearer ``SubjectConfirmationData``
  ``Recipient`` must both be exactly the ACS URL (the library only checks a
  prefix / substring);
* an ``AudienceRestriction`` naming this SP must be present;
* each assertion ID is accepted once (replay cache until its
  ``NotOnOrAfter``).

python3-saml is synchronous and XML signature checking is CPU work: call
:meth:`SamlServiceProvider.complete` in a thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from warden.access import schema
from warden.access.claims import GroupResult, map_groups
from warden.access.config import ClaimRule, SamlConfig
from warden.access.logins import LoginState
from warden.access.oidc import LoginFailed, SignedIn
from warden.access.store import AccessStore

MAX_RESPONSE_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class SamlUrls:
    entity_id: str
    acs: str
    metadata: str


def urls_for(config: SamlConfig, issuer: str) -> SamlUrls:
    base = issuer.rstrip("/")
    return SamlUrls(
        entity_id=config.sp_entity_id or f"{base}/auth/saml/metadata",
        acs=f"{base}/auth/saml/acs",
        metadata=f"{base}/auth/saml/metadata",
    )


def settings_for(config: SamlConfig, urls: SamlUrls) -> dict[str, Any]:
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": urls.entity_id,
            "assertionConsumerService": {
                "url": urls.acs,
                "binding": OneLogin_Saml2_Constants.BINDING_HTTP_POST,
            },
            "NameIDFormat": OneLogin_Saml2_Constants.NAMEID_UNSPECIFIED,
        },
        "idp": {
            "entityId": config.idp_entity_id,
            "singleSignOnService": {
                "url": config.idp_sso_url,
                "binding": OneLogin_Saml2_Constants.BINDING_HTTP_REDIRECT,
            },
            "x509cert": _bare_certificate(config.certificate()),
        },
        "security": {
            "authnRequestsSigned": False,
            "wantAssertionsSigned": True,
            "wantMessagesSigned": False,
            "wantNameId": True,
            "wantAttributeStatement": False,
            "requestedAuthnContext": False,
            "rejectDeprecatedAlgorithm": True,
            "rejectUnsolicitedResponsesWithInResponseTo": True,
            "signatureAlgorithm": OneLogin_Saml2_Constants.RSA_SHA256,
            "digestAlgorithm": OneLogin_Saml2_Constants.SHA256,
        },
    }


def _bare_certificate(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines()]
    return "".join(line for line in lines if line and not line.startswith("-----"))


def _request_data(url: str, post: dict[str, str] | None = None) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path,
        "get_data": {},
        "post_data": post or {},
    }


class SamlServiceProvider:
    def __init__(
        self,
        config: SamlConfig,
        issuer: str,
        store: AccessStore,
        *,
        rules: list[ClaimRule],
        overage_groups: list[str],
    ) -> None:
        self.config = config
        self.urls = urls_for(config, issuer)
        self._settings = settings_for(config, self.urls)
        self._store = store
        self._rules = rules
        self._overage = overage_groups

    def metadata(self) -> str:
        settings = OneLogin_Saml2_Settings(self._settings, sp_validation_only=True)
        xml = settings.get_sp_metadata()
        errors = settings.validate_metadata(xml)
        if errors:
            raise RuntimeError(f"invalid SP metadata: {errors}")
        return xml.decode() if isinstance(xml, bytes) else str(xml)

    def login_url(self, state: str) -> tuple[str, str]:
        """The IdP redirect URL and the AuthnRequest ID to remember."""
        auth = OneLogin_Saml2_Auth(_request_data(self.urls.acs), old_settings=self._settings)
        url = auth.login(return_to=state)
        return str(url), str(auth.get_last_request_id())

    def complete(self, login: LoginState, saml_response: str) -> SignedIn:
        """Blocking. Validate the POSTed response of ``login``; raise LoginFailed."""
        if not saml_response or len(saml_response) > MAX_RESPONSE_BYTES:
            raise LoginFailed("no SAML response, or one that is too large")
        if not login.request_id:
            raise LoginFailed("this sign-in did not send a SAML request")
        settings = OneLogin_Saml2_Settings(self._settings)
        try:
            response = OneLogin_Saml2_Response(settings, saml_response)
            valid = response.is_valid(
                _request_data(self.urls.acs, {"SAMLResponse": saml_response}),
                login.request_id,
                raise_exceptions=True,
            )
        except Exception as exc:
            raise LoginFailed(f"the SAML response was refused: {exc}") from None
        if not valid:
            raise LoginFailed("the SAML response was refused")
        self._strict_checks(response, login.request_id)
        assertion_id = response.get_assertion_id()
        not_after = response.get_assertion_not_on_or_after()
        if not assertion_id or not not_after:
            raise LoginFailed("the SAML assertion has no ID or no NotOnOrAfter")
        if not self._remember(str(assertion_id), int(not_after)):
            raise LoginFailed("this SAML assertion was used before (replay)")
        attributes: dict[str, Any] = dict(response.get_attributes())
        name_id = response.get_nameid()
        claims: dict[str, Any] = {**attributes, "nameid": name_id}
        subject_key = self.config.subject_attribute or "nameid"
        subjects = claims.get(subject_key)
        subject = subjects[0] if isinstance(subjects, list) and subjects else subjects
        if not isinstance(subject, str) or not subject:
            raise LoginFailed(f"the SAML assertion has no {subject_key!r}")
        names = claims.get(self.config.name_attribute or "")
        name = names[0] if isinstance(names, list) and names else None
        groups: GroupResult = map_groups(claims, self._rules, overage_groups=self._overage)
        return SignedIn(
            subject=subject,
            display_name=name if isinstance(name, str) else None,
            groups=groups,
            method="saml",
        )

    def _strict_checks(self, response: Any, request_id: str) -> None:
        if response.get_in_response_to() != request_id:
            raise LoginFailed("the SAML response does not answer this sign-in (InResponseTo)")
        if response.document.get("Destination") != self.urls.acs:
            raise LoginFailed("the SAML response is addressed to another Destination")
        audiences = response.get_audiences()
        if not audiences or self.urls.entity_id not in audiences:
            raise LoginFailed("the SAML assertion is not restricted to this service provider")
        signed = response.process_signed_elements()
        if f"{{{OneLogin_Saml2_Constants.NS_SAML}}}Assertion" not in signed:
            raise LoginFailed("the SAML assertion itself is not signed")
        recipients = [
            node.get("Recipient")
            for node in response._query_assertion(
                "/saml:Subject/saml:SubjectConfirmation"
                f"[@Method='{OneLogin_Saml2_Constants.CM_BEARER}']"
                "/saml:SubjectConfirmationData"
            )
        ]
        if self.urls.acs not in recipients:
            raise LoginFailed("the SAML assertion names another Recipient")

    def _remember(self, assertion_id: str, not_after: int) -> bool:
        key = hashlib.sha256(
            f"saml\0{self.config.idp_entity_id}\0{assertion_id}".encode()
        ).hexdigest()
        with self._store.write() as conn:
            return self._store.insert_new(
                conn, schema.seen, key=key, kind="saml", expires_at=not_after + 300
            )
