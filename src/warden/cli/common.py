"""Helpers the subcommands share: finding and loading the config."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from warden.config.loader import ConfigError, load_config
from warden.config.model import Config

DEFAULT_CANDIDATES = ("warden.yaml", "examples/quickstart.yaml")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="config file (default: $WARDEN_CONFIG, ./warden.yaml, examples/quickstart.yaml)",
    )


def config_path(value: str | None) -> Path:
    if value:
        return Path(value)
    env = os.environ.get("WARDEN_CONFIG")
    if env:
        return Path(env)
    for candidate in DEFAULT_CANDIDATES:
        if Path(candidate).exists():
            return Path(candidate)
    return Path(DEFAULT_CANDIDATES[0])


def load_or_exit(value: str | None) -> Config:
    path = config_path(value)
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"warden: {len(exc.problems)} problem(s) in {exc.file}:", file=sys.stderr)
        for problem in exc.problems:
            print("  " + problem.render(exc.file), file=sys.stderr)
        raise SystemExit(2) from None
