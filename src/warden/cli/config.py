"""``warden config check FILE``: validate a config and say where it is wrong."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from warden.cli.common import config_path
from warden.config.loader import ConfigError, load_config


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("config", help="work with config files")
    inner = parser.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = inner.add_parser("check", help="validate a config file; exit 1 on any problem")
    check.add_argument("file", nargs="?", help="the config file (default: as for serve)")
    check.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    path = config_path(args.file)
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"{exc.file}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(problem.render(exc.file), file=sys.stderr)
        return 1
    names = ", ".join(f"{n} ({c.type.value})" for n, c in config.connections.items())
    print(f"{path}: ok: {len(config.connections)} connection(s): {names}")
    print(f"  listen {config.listen}; {len(config.token_hashes)} static token(s) usable")
    return 0
