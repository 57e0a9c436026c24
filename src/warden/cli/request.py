"""``warden request`` and ``warden access``: just-in-time access from the terminal.

``warden request prod-db --for 1h --reason "incident 4711"`` asks for a
time-bound grant of a ``jit`` connection. Approvers list, approve, deny and
revoke with ``warden access list|approve|deny|revoke``; nobody approves their
own request, and every step is audited by the gateway.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from typing import Any

from warden.access import client
from warden.access.config import parse_duration
from warden.cli.login import gateway_option


def register(sub: Any) -> None:
    request = sub.add_parser("request", help="ask for just-in-time access to a connection")
    request.add_argument("connection", help="the connection, e.g. prod-db")
    request.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        help="how long, e.g. 30m, 1h (default: the connection's)",
    )
    request.add_argument("--reason", required=True, help="why; approvers see it")
    gateway_option(request)
    request.set_defaults(func=_request)

    access = sub.add_parser("access", help="list and decide just-in-time access requests")
    inner = access.add_subparsers(dest="access_command", required=True, metavar="ACTION")
    listing = inner.add_parser("list", help="requests you may decide (pending by default)")
    listing.add_argument("--all", action="store_true", help="every status, not only pending")
    listing.add_argument("--mine", action="store_true", help="your own requests instead")
    gateway_option(listing)
    listing.set_defaults(func=_list)
    for action, text in (
        ("approve", "approve a request"),
        ("deny", "deny a request"),
        ("revoke", "end a grant (or withdraw a request) now"),
    ):
        parser = inner.add_parser(action, help=text)
        parser.add_argument("id", help="the request id (req_...)")
        parser.add_argument("--comment", default="", help="a note for the audit log")
        gateway_option(parser)
        parser.set_defaults(func=_decide, action=action)


def _when(seconds: Any) -> str:
    if not isinstance(seconds, int):
        return "-"
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _describe(item: dict[str, Any]) -> str:
    approvals = f"{item.get('approvals', 0)}/{item.get('approvals_required', 1)}"
    line = (
        f"{item['id']}  {item['status']:<8} {item['connection']:<16} {item['subject']:<24} "
        f"{item['duration'] // 60}m  approvals {approvals}"
    )
    if item["status"] == "approved":
        line += f"  until {_when(item.get('expires_at'))}"
    return f"{line}\n    reason: {item.get('reason', '')}"


def _request(args: argparse.Namespace) -> int:
    gateway = client.gateway_url(args.gateway)
    body: dict[str, Any] = {"connection": args.connection, "reason": args.reason}
    if args.duration:
        try:
            body["duration"] = parse_duration(args.duration)
        except ValueError as exc:
            print(f"warden request: --for: {exc}", file=sys.stderr)
            return 2
    try:
        token = client.valid_token(gateway)
        answer = client.call(
            f"{gateway}/auth/access-requests", token=token, method="POST", body=body
        )
    except client.ClientError as exc:
        print(f"warden request: {exc}", file=sys.stderr)
        return 1
    if answer.status != 201:
        print(f"warden request: {answer.body.get('message', answer.status)}", file=sys.stderr)
        return 1
    print(_describe(answer.body))
    print(
        f"Waiting for {answer.body['approvals_required']} approver(s); "
        f"check with `warden access list --mine`.",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    gateway = client.gateway_url(args.gateway)
    path = "/auth/access-requests" if args.mine else "/admin/api/access-requests"
    query = "" if args.all else "?status=pending"
    try:
        token = client.valid_token(gateway)
        answer = client.call(f"{gateway}{path}{query}", token=token)
    except client.ClientError as exc:
        print(f"warden access: {exc}", file=sys.stderr)
        return 1
    if answer.status != 200:
        print(f"warden access: {answer.body.get('message', answer.status)}", file=sys.stderr)
        return 1
    requests = answer.body.get("requests", [])
    for item in requests:
        print(_describe(item))
    if not requests:
        print("no requests", file=sys.stderr)
    return 0


def _decide(args: argparse.Namespace) -> int:
    gateway = client.gateway_url(args.gateway)
    try:
        token = client.valid_token(gateway)
        answer = client.call(
            f"{gateway}/admin/api/access-requests/{args.id}/{args.action}",
            token=token,
            method="POST",
            body={"comment": args.comment},
        )
    except client.ClientError as exc:
        print(f"warden access: {exc}", file=sys.stderr)
        return 1
    if answer.status != 200:
        print(f"warden access: {answer.body.get('message', answer.status)}", file=sys.stderr)
        return 1
    print(_describe(answer.body))
    if answer.body.get("granted"):
        print(f"Granted until {_when(answer.body.get('expires_at'))}.", file=sys.stderr)
    return 0
