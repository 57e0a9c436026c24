"""Recording and audit: a bounded queue, one writer, batched commits,
hash-chained events, signed checkpoints, replay and export.

The gateway wires it like this::

    store = await open_store(url, state_dir=state_dir)
    recorder = Recorder(store, mode="best-effort", instance_id=instance_id_for(state_dir))
    await recorder.start()
    ...  # the pipeline calls recorder.record(...) / recorder.settle(...)
    await recorder.stop()
    store.close()

The module docstrings document the chain (``chain``), checkpoints, retention and the CLI.
"""

from warden.audit.appender import ADMIN_CHAIN, LockedAppender
from warden.audit.checkpoints import Checkpoint, Signer, load_or_create_signer
from warden.audit.crypto import KeyProvider, KeyProviderError, LocalKeyProvider, load_key_provider
from warden.audit.models import EventInfo, SessionFilter, SessionInfo
from warden.audit.recorder import AuditLog, Recorder
from warden.audit.retention import PurgeResult, RetentionPolicy, purge
from warden.audit.reveal import AUDITOR_GROUP, RevealDenied, RevealError, reveal, reveal_async
from warden.audit.sinks import JsonlFileSink, Sink
from warden.audit.store import (
    Store,
    instance_id_for,
    open_store,
    open_store_sync,
    resolve_state_dir,
    resolve_store_url,
)
from warden.audit.verify import VerifyReport, verify
from warden.audit.webhook import WebhookSink

__all__ = [
    "ADMIN_CHAIN",
    "AUDITOR_GROUP",
    "AuditLog",
    "Checkpoint",
    "EventInfo",
    "JsonlFileSink",
    "KeyProvider",
    "KeyProviderError",
    "LocalKeyProvider",
    "LockedAppender",
    "PurgeResult",
    "Recorder",
    "RetentionPolicy",
    "RevealDenied",
    "RevealError",
    "SessionFilter",
    "SessionInfo",
    "Signer",
    "Sink",
    "Store",
    "VerifyReport",
    "WebhookSink",
    "instance_id_for",
    "load_key_provider",
    "load_or_create_signer",
    "open_store",
    "open_store_sync",
    "purge",
    "resolve_state_dir",
    "resolve_store_url",
    "reveal",
    "reveal_async",
    "verify",
]
