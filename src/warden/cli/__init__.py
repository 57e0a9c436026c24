"""The ``warden`` command line.

Each subcommand group lives in its own module under ``warden.cli`` and exposes
``register(subparsers)``; the module list below is the one place that says
which exist, in the order ``--help`` shows them. A command's handler returns
its exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

MODULES = (
    "serve",
    "config",
    "scan",
    "rules",
    "approvals",
    "sessions",
    "audit",
    "login",
    "request",
    "accounts",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warden",
        description="Identity-aware layer-7 gateway for AI agents.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in MODULES:
        module = importlib.import_module(f"warden.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
