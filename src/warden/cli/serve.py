"""``warden serve``: run the gateway."""

from __future__ import annotations

import argparse
from typing import Any

from warden.cli.common import add_config_option, load_or_exit
from warden.server.assemble import run_gateway
from warden.server.logs import setup_logging


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("serve", help="run the gateway")
    add_config_option(parser)
    parser.add_argument("--listen", metavar="HOST:PORT", help="override the config's listen")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    config = load_or_exit(args.config)
    if args.listen:
        config.listen = args.listen
    setup_logging(config.log_level)
    run_gateway(config)
    return 0
