"""``warden login``, ``warden token``, ``warden logout``: a person's or a job's gateway token.

``warden login`` signs in with the device flow: it shows a code and opens
the gateway's sign-in page, where the person signs in with the company IdP.
``warden token`` prints a gateway token with at least a minute left,
refreshing it when needed; that makes it a credential helper for agents:

* Claude Code: ``"apiKeyHelper": "warden token"`` in ``settings.json``;
* Codex: a provider whose ``env_key`` is filled by ``$(warden token)``.

In CI, ``warden token`` exchanges the job's own OIDC token instead
(``--github-actions AUDIENCE``, ``--subject-token-file`` for Kubernetes,
``--subject-token-env`` for GitLab's ``id_tokens``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from warden.access import client

sleep = time.sleep
"""How ``warden login`` waits between polls (tests replace it)."""


def register(sub: Any) -> None:
    login = sub.add_parser("login", help="sign in to a gateway (device flow, in your browser)")
    gateway_option(login)
    login.add_argument("--no-browser", action="store_true", help="only print the sign-in address")
    login.set_defaults(func=_login)

    token = sub.add_parser(
        "token", help="print a valid gateway token (for apiKeyHelper, Codex, scripts)"
    )
    gateway_option(token)
    source = token.add_mutually_exclusive_group()
    source.add_argument(
        "--github-actions",
        metavar="AUDIENCE",
        help="exchange this GitHub Actions job's OIDC token, requested for AUDIENCE",
    )
    source.add_argument(
        "--subject-token-file",
        metavar="PATH",
        help="exchange the OIDC token in PATH (e.g. a projected Kubernetes service-account token)",
    )
    source.add_argument(
        "--subject-token-env",
        metavar="VAR",
        help="exchange the OIDC token in environment variable VAR (e.g. GitLab id_tokens)",
    )
    token.set_defaults(func=_token)

    logout = sub.add_parser("logout", help="end the sign-in and forget the stored token")
    gateway_option(logout)
    logout.set_defaults(func=_logout)


def gateway_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gateway",
        metavar="URL",
        help=f"the gateway (default: $WARDEN_GATEWAY, the last one used, {client.DEFAULT_GATEWAY})",
    )


def _login(args: argparse.Namespace) -> int:
    gateway = client.gateway_url(args.gateway)
    opener = None if args.no_browser else webbrowser.open
    try:
        entry = client.device_login(
            gateway,
            show=lambda text: print(text, file=sys.stderr),
            open_browser=opener,
            sleep=sleep,
        )
    except client.ClientError as exc:
        print(f"warden login: {exc}", file=sys.stderr)
        return 1
    who = _whoami(gateway, str(entry["access_token"]))
    print(f"Signed in to {gateway} as {who}.", file=sys.stderr)
    return 0


def _whoami(gateway: str, token: str) -> str:
    try:
        answer = client.call(f"{gateway}/auth/whoami", token=token)
    except client.ClientError:
        return "(unknown)"
    subject = answer.body.get("subject", "(unknown)")
    groups = answer.body.get("groups") or []
    return f"{subject} (groups: {', '.join(groups) or 'none'})"


def subject_token_source(args: argparse.Namespace) -> tuple[Callable[[], str] | None, str]:
    """How to get this job's own OIDC token, and a name for it (to cache per source)."""
    if getattr(args, "github_actions", None):
        audience = str(args.github_actions)
        return (lambda: client.github_actions_token(audience)), f"github:{audience}"
    if getattr(args, "subject_token_file", None):
        path = Path(args.subject_token_file)

        def read_file() -> str:
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise client.ClientError(f"cannot read {path}: {exc.strerror}") from None

        return read_file, f"file:{path}"
    if getattr(args, "subject_token_env", None):
        name = str(args.subject_token_env)

        def read_env() -> str:
            value = os.environ.get(name, "").strip()
            if not value:
                raise client.ClientError(f"environment variable {name} is empty or unset")
            return value

        return read_env, f"env:{name}"
    return None, ""


def _token(args: argparse.Namespace) -> int:
    gateway = client.gateway_url(args.gateway)
    source, name = subject_token_source(args)
    try:
        token = client.valid_token(gateway, subject_token=source, source=name)
    except client.ClientError as exc:
        print(f"warden token: {exc}", file=sys.stderr)
        return 1
    print(token)
    return 0


def _logout(args: argparse.Namespace) -> int:
    gateway = client.gateway_url(args.gateway)
    if client.logout(gateway):
        print(f"Signed out of {gateway}.", file=sys.stderr)
    else:
        print(f"Not signed in to {gateway}.", file=sys.stderr)
    return 0
