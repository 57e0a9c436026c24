"""``warden approvals list|show|approve|deny``: answer review holds.

Works on the store directly (``--store``, else ``$WARDEN_STORE``, else
``sqlite:///var/warden.db``), so it reaches holds on every replica that
shares it; a decision wakes the held stream wherever it is. The approver is
``--as NAME`` (default ``$USER``); nobody may approve their own request.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from warden.approvals.store import ApprovalRequest, ApprovalStore, DecisionError
from warden.audit.store import resolve_store_url


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("approvals", help="answer review holds")
    parser.add_argument("--store", help="store URL (default: $WARDEN_STORE or var/warden.db)")
    inner = parser.add_subparsers(dest="approvals_command", required=True, metavar="ACTION")
    listing = inner.add_parser("list", help="list approval requests (pending by default)")
    listing.add_argument(
        "--status", default="pending", help="pending, approved, denied, ... or all"
    )
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_list)
    show = inner.add_parser("show", help="show one request with its masked context")
    show.add_argument("id")
    show.set_defaults(func=_show)
    for name, approve in (("approve", True), ("deny", False)):
        action = inner.add_parser(name, help=f"{name} a pending request")
        action.add_argument("id")
        action.add_argument("--note", default="", help="why (shown to the agent on deny)")
        action.add_argument("--as", dest="approver", help="who decides (default: $USER)")
        action.set_defaults(func=_decide, approve=approve)


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[ApprovalStore]:
    store = ApprovalStore(create_engine(resolve_store_url(args.store), poolclass=NullPool))
    try:
        store.migrate()
        yield store
    finally:
        store.engine.dispose()


def _when(us: int | None) -> str:
    if us is None:
        return ""
    moment = datetime.datetime.fromtimestamp(us / 1e6, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        rows = store.list(None if args.status == "all" else args.status)
    if args.json:
        for row in rows:
            print(json.dumps(row.as_dict()))
        return 0
    table = Table("id", "status", "created (UTC)", "subject", "connection", "rule")
    for row in rows:
        table.add_row(
            row.id, row.status, _when(row.created_at), row.subject, row.connection, row.rule
        )
    Console().print(table)
    return 0


def _print(request: ApprovalRequest) -> None:
    console = Console()
    console.print(f"[bold]{request.id}[/bold]  {request.status}")
    for label, value in (
        ("subject", f"{request.subject} ({', '.join(request.groups)})"),
        ("connection", request.connection),
        ("session", request.session_id),
        ("rule", f"{request.rule}: {request.reason}"),
        ("channel", request.channel),
        ("created", _when(request.created_at)),
        ("expires", _when(request.expires_at)),
        (
            "decided",
            f"{_when(request.decided_at)} by {request.decided_by}" if request.decided_at else "",
        ),
        ("note", request.note or ""),
    ):
        if value:
            console.print(f"  {label:<11}{value}", highlight=False)
    console.print("  context (masked):")
    console.print(request.context, markup=False, highlight=False)


def _show(args: argparse.Namespace) -> int:
    with _store(args) as store:
        request = store.get(args.id)
    if request is None:
        print(f"warden: no approval request {args.id}")
        return 1
    _print(request)
    return 0


def _decide(args: argparse.Namespace) -> int:
    approver = args.approver or os.environ.get("USER") or getpass.getuser()
    try:
        with _store(args) as store:
            decided = store.decide(args.id, approver=approver, approve=args.approve, note=args.note)
    except DecisionError as exc:
        print(f"warden: {exc}")
        return 1
    print(f"{decided.id}: {decided.status} by {decided.decided_by}")
    return 0
