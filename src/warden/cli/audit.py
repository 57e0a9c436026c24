"""``warden audit``: verify the record, reveal raw payloads, purge, export anchors.

Every command finds the store from ``--store URL``, else ``$WARDEN_STORE``,
else ``sqlite:///var/warden.db`` (relative to the current directory, where
``make run`` keeps it), and the local state (signing key) from
``--state-dir``, else ``$WARDEN_STATE_DIR``, else ``var``.

``reveal`` is for auditors: the local CLI acts as the auditor named by
``--as NAME`` (anyone who can run it holds the store and the key-encryption
key anyway); the reveal is recorded in the ``admin`` chain with that name,
the operating-system user and the reason *before* anything is decrypted.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, TypeAlias

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from warden.audit import crypto, schema
from warden.audit.appender import LockedAppender
from warden.audit.checkpoints import (
    Checkpoint,
    SigningKeyError,
    load_or_create_signer,
    load_trusted_keys,
)
from warden.audit.retention import RetentionPolicy, purge
from warden.audit.reveal import AUDITOR_GROUP, RevealError, reveal
from warden.audit.store import Store, open_store_sync, resolve_state_dir, resolve_store_url
from warden.audit.verify import VerifyReport, load_anchors, verify
from warden.pipeline.types import Identity

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 1."""


def store_options() -> argparse.ArgumentParser:
    """``--store`` and ``--state-dir``, shared by ``warden audit`` and ``warden sessions``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--store",
        metavar="URL",
        help="audit store URL (default: $WARDEN_STORE, else sqlite:///var/warden.db)",
    )
    parent.add_argument(
        "--state-dir",
        metavar="DIR",
        help="local state with the signing key (default: $WARDEN_STATE_DIR, else var)",
    )
    return parent


def open_store_from(args: argparse.Namespace) -> Store:
    url = resolve_store_url(args.store)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise CliError(f"not a store URL: {url!r}") from exc
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if database and not Path(database).exists():
        raise CliError(
            f"no audit store at {database}: start the gateway first, "
            "or pass --store URL (or set WARDEN_STORE)"
        )
    try:
        return open_store_sync(url, state_dir=resolve_state_dir(args.state_dir))
    except ValueError as exc:
        raise CliError(str(exc)) from exc


def run(args: argparse.Namespace, handler: Any) -> int:
    """Open the store, run ``handler(store, args)``, report user errors plainly."""
    try:
        store = open_store_from(args)
        try:
            code: int = handler(store, args)
            return code
        finally:
            store.close()
    except (CliError, RevealError, SigningKeyError, crypto.KeyProviderError) as exc:
        print(f"warden: {exc}", file=sys.stderr)
        return 1


def register(subparsers: SubParsers) -> None:
    common = store_options()
    parser = subparsers.add_parser(
        "audit",
        help="verify the tamper-evident record, reveal raw payloads, purge",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "verify",
        parents=[common],
        help="check every chain, checkpoint and purge record; name the first tampered event",
    )
    p.add_argument(
        "--anchors", metavar="FILE", help="exported checkpoints (JSONL) to check against"
    )
    p.add_argument(
        "--trust-key",
        metavar="PEM",
        action="append",
        default=[],
        help="accept only checkpoints signed by these public keys (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=lambda args: run(args, cmd_verify))

    p = commands.add_parser(
        "reveal", parents=[common], help="decrypt one raw payload (auditors only, audited)"
    )
    p.add_argument("event_id", type=int, metavar="EVENT_ID", help="the id of a raw event")
    p.add_argument("--reason", required=True, help="why (recorded with the reveal)")
    p.add_argument(
        "--as",
        dest="actor",
        metavar="NAME",
        required=True,
        help=f"the auditor revealing (acts as a member of the {AUDITOR_GROUP!r} group)",
    )
    p.add_argument(
        "--key",
        metavar="SPEC",
        help="key-encryption key: file:PATH, env:VAR or vault-transit:URL "
        f"(default: ${crypto.KEK_FILE_ENV} or ${crypto.KEK_ENV})",
    )
    p.add_argument("--json", action="store_true", help="print the payload as JSON only")
    p.set_defaults(func=lambda args: run(args, cmd_reveal))

    p = commands.add_parser(
        "purge", parents=[common], help="delete expired events, leaving signed tombstones"
    )
    p.add_argument("--days", type=float, help="keep events this many days (default: forever)")
    p.add_argument(
        "--connection",
        action="append",
        default=[],
        metavar="NAME=DAYS",
        help="per-connection retention (repeatable)",
    )
    p.add_argument("--admin-days", type=float, help="keep admin events this many days")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: run(args, cmd_purge))

    p = commands.add_parser(
        "checkpoints", parents=[common], help="export the signed checkpoints as JSONL anchors"
    )
    p.add_argument("--output", "-o", metavar="FILE", help="append to FILE instead of stdout")
    p.set_defaults(func=lambda args: run(args, cmd_checkpoints))

    p = commands.add_parser(
        "keygen", help="write a new key-encryption key for raw recording (mode 0600)"
    )
    p.add_argument("output", metavar="FILE")
    p.set_defaults(func=cmd_keygen)


def cmd_verify(store: Store, args: argparse.Namespace) -> int:
    trusted = None
    if args.trust_key:
        trusted = {}
        for path in args.trust_key:
            trusted.update(load_trusted_keys(path))
    anchors = []
    if args.anchors:
        try:
            anchors = load_anchors(args.anchors)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read anchors: {exc}") from exc
    report = verify(store, trusted_keys=trusted, anchors=anchors)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(Console(), report)
    return 0 if report.ok else 1


def print_report(console: Console, report: VerifyReport) -> None:
    table = Table(header_style="bold")
    for column in ("chain", "events", "purged", "head", "checkpoints", "status"):
        table.add_column(column, justify="right" if column != "chain" else "left")
    for chain in report.chains:
        status = "[green]ok[/]" if chain.ok else f"[bold red]{len(chain.problems)} problem(s)[/]"
        table.add_row(
            chain.chain_id,
            str(chain.events),
            str(chain.purged),
            str(chain.head_seq),
            str(chain.checkpoints),
            status,
        )
    console.print(table)
    problems = report.all_problems
    if not problems:
        console.print(
            f"[green]verified[/] {report.events} events in {len(report.chains)} chain(s), "
            f"{report.checkpoints} checkpoint(s), {report.anchors} anchor(s) "
            f"in {report.seconds:.2f}s"
        )
        return
    first = problems[0]
    console.print(f"[bold red]TAMPERED[/] first problem: {first.describe()}", highlight=False)
    for problem in problems[1:]:
        console.print(f"  also: {problem.describe()}", highlight=False)


def cmd_reveal(store: Store, args: argparse.Namespace) -> int:
    keys = crypto.load_key_provider(args.key)
    if keys is None:
        raise CliError(f"no key-encryption key: pass --key file:PATH or set ${crypto.KEK_FILE_ENV}")
    actor = Identity(args.actor, frozenset({AUDITOR_GROUP}), f"local-cli:{_os_user()}")
    signer = load_or_create_signer(store.state_dir)
    appender = LockedAppender(store, signer=signer)
    revealed = reveal(
        store, args.event_id, actor=actor, reason=args.reason, keys=keys, appender=appender
    )
    if args.json:
        print(json.dumps(revealed.payload, ensure_ascii=False, indent=2))
        return 0
    console = Console()
    console.print(
        f"[bold]event {revealed.event_id}[/] raw {revealed.kind} of session "
        f"{revealed.session_id}, exchange {revealed.exchange_id} "
        "[dim](this reveal is recorded)[/]"
    )
    console.print_json(json.dumps(revealed.payload, ensure_ascii=False))
    return 0


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def cmd_purge(store: Store, args: argparse.Namespace) -> int:
    connections: dict[str, float | None] = {}
    for item in args.connection:
        name, _, days = item.partition("=")
        try:
            connections[name] = float(days)
        except ValueError:
            raise CliError(f"--connection {item!r}: expected NAME=DAYS") from None
    policy = RetentionPolicy(
        default_days=args.days, connections=connections, admin_days=args.admin_days
    )
    if not policy.all_days():
        raise CliError("nothing to purge: give --days, --connection NAME=DAYS or --admin-days")
    signer = load_or_create_signer(store.state_dir)
    result = purge(store, policy, signer=signer, actor=f"cli:{_os_user()}")
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(
            f"purged {result.events} events and {result.sessions} sessions "
            f"({len(result.tombstones)} tombstones)"
        )
    return 0


def cmd_checkpoints(store: Store, args: argparse.Namespace) -> int:
    table = schema.checkpoints
    with store.engine.connect() as conn:
        keys = {row.key_id: row.public_key for row in conn.execute(select(schema.signing_keys))}
        rows = list(conn.execute(select(table).order_by(table.c.id)))
    lines = [
        json.dumps(
            Checkpoint(r.chain_id, r.seq, r.hash, r.ts, r.key_id, r.signature).as_record(
                keys.get(r.key_id)
            ),
            sort_keys=True,
            separators=(",", ":"),
        )
        + "\n"
        for r in rows
    ]
    if args.output:
        with open(args.output, "a", encoding="utf-8") as handle:
            handle.writelines(lines)
    else:
        sys.stdout.writelines(lines)
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    path = Path(args.output)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"warden: {path} exists; not overwriting a key", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(crypto.generate_kek_text())
    print(f"wrote {path}; use it with WARDEN_AUDIT_KEK_FILE={path}")
    return 0
