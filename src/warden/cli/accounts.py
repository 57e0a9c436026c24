"""``warden accounts add|passwd|list|disable|enable``: local accounts, on the gateway's host.

For the embedded quickstart and small teams without an IdP. It works on the
store named by the config (``-c``), so run it where the gateway runs.
Passwords are read from the terminal (twice) or, with ``--password-stdin``,
from one line of standard input; they are stored as argon2id hashes only.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from warden.access.accounts import AccountError, Accounts
from warden.access.store import open_access_store
from warden.cli.common import add_config_option, load_or_exit


def register(sub: Any) -> None:
    parser = sub.add_parser("accounts", help="manage local accounts (no IdP needed)")
    inner = parser.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    add = inner.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--group", action="append", default=[], help="a group (repeat for more)")
    add.add_argument("--name", help="display name")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(func=_add)
    passwd = inner.add_parser("passwd", help="set an account's password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(func=_passwd)
    listing = inner.add_parser("list", help="list accounts")
    listing.set_defaults(func=_list)
    for action in ("disable", "enable"):
        toggle = inner.add_parser(action, help=f"{action} an account")
        toggle.add_argument("username")
        toggle.set_defaults(func=_toggle, disabled=action == "disable")
    for each in inner.choices.values():
        add_config_option(each)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise AccountError("the passwords differ")
    return first


def _with_accounts(args: argparse.Namespace, work: Callable[[Accounts], int]) -> int:
    config = load_or_exit(args.config)
    store = open_access_store(config.store_url())
    try:
        return work(Accounts(store))
    except AccountError as exc:
        print(f"warden accounts: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _add(args: argparse.Namespace) -> int:
    def work(accounts: Accounts) -> int:
        accounts.add(args.username, _password(args), groups=args.group, display_name=args.name)
        print(f"account {args.username} created", file=sys.stderr)
        return 0

    return _with_accounts(args, work)


def _passwd(args: argparse.Namespace) -> int:
    def work(accounts: Accounts) -> int:
        accounts.set_password(args.username, _password(args))
        print(f"password of {args.username} changed", file=sys.stderr)
        return 0

    return _with_accounts(args, work)


def _toggle(args: argparse.Namespace) -> int:
    def work(accounts: Accounts) -> int:
        accounts.set_disabled(args.username, args.disabled)
        state = "disabled" if args.disabled else "enabled"
        print(f"account {args.username} {state}", file=sys.stderr)
        return 0

    return _with_accounts(args, work)


def _list(args: argparse.Namespace) -> int:
    def work(accounts: Accounts) -> int:
        for account in accounts.all():
            flag = " (disabled)" if account.disabled else ""
            groups = ", ".join(account.groups) or "-"
            print(f"{account.username}{flag}\tgroups: {groups}\t{account.display_name or ''}")
        return 0

    return _with_accounts(args, work)
