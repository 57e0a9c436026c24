"""Raw recording and its reveal through a real ``warden serve``: the agent's
unmasked request is sealed under a data key wrapped by Vault's transit engine
(a faithful fake), and only an auditor, with a reason, gets it back from the
admin API; the reveal lands in the gateway's chain, which still verifies."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.audit.fake_vault import FakeVault
from tests.audit.fake_vault import serve as serve_vault
from tests.fakes.provider import Credentials, FakeProvider
from tests.fakes.provider import serve as serve_provider
from tests.helpers.gateway import GATEWAY_TOKEN
from tests.helpers.process import free_port, warden_process
from warden.audit.store import open_store_sync

VAULT_TOKEN = "s.gateway-vault-token"
AUDITOR_TOKEN = "wdn-test-auditor-token-0003"
ADMIN_TOKEN = "wdn-test-admin-token-0004"
SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


@pytest.fixture
def vault() -> Iterator[tuple[FakeVault, str]]:
    fake = FakeVault(VAULT_TOKEN)
    with serve_vault(fake) as url:
        yield fake, url


@pytest.fixture
def upstream() -> Iterator[str]:
    with serve_provider(FakeProvider()) as url:
        yield url


def config(tmp_path: Path, store_url: str, upstream: str, vault_url: str) -> Path:
    state = tmp_path / "gw"
    state.mkdir()
    path = tmp_path / "warden.yaml"
    path.write_text(
        f"""
listen: 127.0.0.1:{free_port()}
state_dir: {state}
store:
  url: "{store_url}"
  raw_key: "vault-transit:{vault_url}/warden-audit"
tokens:
  - {{name: dev, subject: dev, groups: [developers], env: TEST_WARDEN_TOKEN}}
  - {{name: aud, subject: carol, groups: [auditor], env: TEST_AUDITOR_TOKEN}}
  - {{name: adm, subject: root, groups: [admin], env: TEST_ADMIN_TOKEN}}
connections:
  claude:
    type: anthropic
    upstream: {upstream}
    credential: {{env: TEST_ANTHROPIC_KEY}}
policies:
  default:
    raw_recording: true
"""
    )
    return path


def call(base: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def raw_request_event(base: str) -> tuple[str, int, int]:
    """(session id, id of the raw request event, id of the masked request event)."""
    for _ in range(100):
        status, listed = call(base, "/admin/api/audit/sessions", AUDITOR_TOKEN)
        assert status == 200, listed
        for session in listed["sessions"]:
            _, shown = call(base, f"/admin/api/audit/sessions/{session['id']}", AUDITOR_TOKEN)
            events = shown["events"]
            raw = [e for e in events if e["kind"] == "raw" and e["payload"]["of"] == "request"]
            masked = [e for e in events if e["kind"] == "request"]
            if raw and masked:
                return session["id"], raw[0]["id"], masked[0]["id"]
        time.sleep(0.1)
    raise AssertionError("the exchange was not recorded")


def test_only_an_auditor_reveals_raw_content_sealed_by_vault(
    tmp_path: Path, store_url: str, state_dir: Path, upstream: str, vault: tuple[FakeVault, str]
) -> None:
    fake_vault, vault_url = vault
    env = {
        "TEST_WARDEN_TOKEN": GATEWAY_TOKEN,
        "TEST_AUDITOR_TOKEN": AUDITOR_TOKEN,
        "TEST_ADMIN_TOKEN": ADMIN_TOKEN,
        "TEST_ANTHROPIC_KEY": Credentials().anthropic_key,
        "VAULT_TOKEN": VAULT_TOKEN,
    }
    with warden_process(config(tmp_path, store_url, upstream, vault_url), env) as base:
        client = anthropic.Anthropic(base_url=base + "/claude", api_key=GATEWAY_TOKEN)
        client.messages.create(
            model="claude-x",
            max_tokens=50,
            messages=[{"role": "user", "content": f"deploy with {SECRET}"}],
        )
        session, raw_id, masked_id = raw_request_event(base)
        reveal = f"/admin/api/audit/sessions/{session}/events/{raw_id}/reveal"
        why = {"reason": "incident 4711"}

        # The recorded request is masked; only its raw twin holds the secret, sealed.
        _, shown = call(base, f"/admin/api/audit/sessions/{session}", AUDITOR_TOKEN)
        assert SECRET not in json.dumps(shown)

        status, denied = call(base, reveal, GATEWAY_TOKEN, why)  # not even an admin
        assert status == 403, denied
        status, denied = call(base, reveal, ADMIN_TOKEN, why)  # admins are not auditors
        assert (status, denied) == (403, {"error": "root is not in the 'auditor' group"})
        status, denied = call(base, reveal, AUDITOR_TOKEN, {"reason": ""})
        assert status == 400 and "reason" in denied["error"]
        masked = f"/admin/api/audit/sessions/{session}/events/{masked_id}/reveal"
        status, denied = call(base, masked, AUDITOR_TOKEN, why)
        assert status == 409 and "not a raw payload" in denied["error"]
        status, denied = call(base, reveal.replace(str(raw_id), "999999"), AUDITOR_TOKEN, why)
        assert status == 404

        status, revealed = call(base, reveal, AUDITOR_TOKEN, why)
        assert status == 200, revealed
        assert revealed["payload"]["body"]["messages"][0]["content"] == f"deploy with {SECRET}"
        assert revealed["revealed_by"] == "carol"

        status, report = call(base, "/admin/api/audit/verify", AUDITOR_TOKEN)
        assert status == 200 and report["ok"], report

    store = open_store_sync(store_url, state_dir=state_dir)
    try:
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT chain_id, payload FROM audit_events WHERE kind = 'admin'"
            ).all()
            wrapped = [
                bytes(w) for (w,) in conn.exec_driver_sql("SELECT wrapped FROM audit_data_keys")
            ]
    finally:
        store.close()
    reveals = [json.loads(p) for _, p in rows if json.loads(p)["action"] == "raw.reveal"]
    assert len(reveals) == 1  # refusals before the decryption are not reveals
    assert reveals[0]["actor"] == "carol"
    assert reveals[0]["details"]["reason"] == "incident 4711"
    assert reveals[0]["details"]["via"] == "admin-api"
    assert wrapped and all(w.startswith(b"vault:v1:") for w in wrapped)
    operations = {r.path.rsplit("/", 2)[1] for r in fake_vault.requests}
    assert operations == {"encrypt", "decrypt"}
