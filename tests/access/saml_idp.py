"""The SAML identity provider of the tests: pysaml2's IdP (``saml2.server.Server``),
signing with xmlsec1 like a production IdP does, configured from Warden's own
SP metadata. ``respond`` answers an AuthnRequest; its knobs produce the
responses an attacker would try."""

from __future__ import annotations

import base64
import datetime
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.server import Server

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
IDP_ENTITY = "https://idp.example.com/saml/metadata"
IDP_SSO = "https://idp.example.com/saml/sso"


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@dataclass
class SamlIdp:
    server: Server
    cert: Path

    def respond(
        self,
        redirect_url: str,
        *,
        user: str = "alice@example.com",
        attributes: dict[str, list[str]] | None = None,
        sign_assertion: bool = True,
        sign_response: bool = False,
        audience: str | None = None,
        destination: str | None = None,
        in_response_to: str | None = "from-request",
        sha1: bool = False,
    ) -> tuple[str, str]:
        """(SAMLResponse, RelayState) for the AuthnRequest in ``redirect_url``."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(redirect_url).query).items()}
        request = self.server.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
        args: dict[str, Any] = self.server.response_args(request.message, [BINDING_HTTP_POST])
        if audience is not None:
            args["sp_entity_id"] = audience
        if destination is not None:
            args["destination"] = destination
        if in_response_to != "from-request":
            args["in_response_to"] = in_response_to
        args.pop("binding", None)
        response = self.server.create_authn_response(
            identity=attributes or {"displayName": ["Alice Example"], "groups": ["sre"]},
            name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=user),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            sign_alg=None if sha1 else RSA_SHA256,
            digest_alg=None if sha1 else DIGEST_SHA256,
            **args,
        )
        return base64.b64encode(str(response).encode()).decode(), query["RelayState"]


def make_idp(sp_metadata: str, key: Path, cert: Path) -> SamlIdp:
    config = IdPConfig()
    config.load(
        {
            "entityid": IDP_ENTITY,
            "service": {
                "idp": {
                    "endpoints": {"single_sign_on_service": [(IDP_SSO, BINDING_HTTP_REDIRECT)]},
                    "policy": {
                        "default": {
                            "lifetime": {"minutes": 5},
                            "attribute_restrictions": None,
                            "name_form": NAME_FORMAT_BASIC,
                        }
                    },
                    "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                    "sign_assertion": True,
                }
            },
            "key_file": str(key),
            "cert_file": str(cert),
            "xmlsec_binary": shutil.which("xmlsec1"),
            "metadata": {"inline": [sp_metadata]},
            "allow_unknown_attributes": True,
        }
    )
    return SamlIdp(Server(config=config), cert)
