"""``warden sessions``: list, show, replay and export recorded sessions.

A session groups the exchanges of one agent conversation (Claude Code's
session id, an explicit ``X-Warden-Session`` header, else one exchange).
Times for ``--since``/``--until`` are ISO 8601 (UTC unless a zone is given)
or an age such as ``90m``, ``2h`` or ``7d``. ``--decision`` matches a rule
id, an action (``mask``, ``block``...) or a flow (``block``, ``deny``,
``hold``). The store is found as for ``warden audit`` (``--store``, else
``$WARDEN_STORE``, else ``sqlite:///var/warden.db``).
"""

from __future__ import annotations

import argparse
import json
import sys

from rich import box
from rich.console import Console
from rich.table import Table

from warden.audit import export, models, queries
from warden.audit.replay import Replayer, show
from warden.audit.store import Store
from warden.cli.audit import CliError, SubParsers, run, store_options


def _filters() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--user", metavar="SUBJECT", help="only sessions of this identity")
    parent.add_argument("--connection", metavar="NAME", help="only sessions on this connection")
    parent.add_argument("--since", metavar="TIME", help="active at or after TIME (or age: 2h, 7d)")
    parent.add_argument("--until", metavar="TIME", help="started at or before TIME")
    parent.add_argument(
        "--decision", metavar="RULE_OR_ACTION", help="only sessions where this rule/action fired"
    )
    return parent


def _session_filter(args: argparse.Namespace, limit: int | None) -> models.SessionFilter:
    try:
        since = models.parse_time(args.since) if args.since else None
        until = models.parse_time(args.until) if args.until else None
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return models.SessionFilter(
        user=args.user,
        connection=args.connection,
        since=since,
        until=until,
        decision=args.decision,
        limit=limit,
    )


def register(subparsers: SubParsers) -> None:
    common = store_options()
    filters = _filters()
    parser = subparsers.add_parser(
        "sessions",
        help="list, show, replay and export recorded sessions",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="sessions_command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "list", parents=[common, filters], help="recorded sessions, newest first"
    )
    p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=lambda args: run(args, cmd_list))

    p = commands.add_parser("show", parents=[common], help="one session and its events")
    p.add_argument("session_id", metavar="ID")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda args: run(args, cmd_show))

    p = commands.add_parser(
        "replay", parents=[common], help="re-render a session at its original pace"
    )
    p.add_argument("session_id", metavar="ID")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="pace multiplier: 2 = twice as fast, 0 = no waiting (default 1)",
    )
    p.add_argument("--max-wait", type=float, metavar="SECONDS", help="cap any single pause")
    p.set_defaults(func=lambda args: run(args, cmd_replay))

    p = commands.add_parser(
        "export", parents=[common, filters], help="events for SIEMs, as JSON Lines or CSV"
    )
    p.add_argument("session_ids", nargs="*", metavar="ID", help="only these sessions")
    p.add_argument("--format", choices=export.FORMATS, default="jsonl")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--admin", action="store_true", help="also export admin events")
    p.set_defaults(func=lambda args: run(args, cmd_export))


def _duration(session: models.SessionInfo) -> str:
    if session.ended_at is None:
        return ""
    return f"{(session.ended_at - session.started_at) / 1_000_000:.1f}s"


def cmd_list(store: Store, args: argparse.Namespace) -> int:
    sessions = queries.list_sessions(store, _session_filter(args, args.limit))
    if args.json:
        for session in sessions:
            print(json.dumps(session.as_dict()))
        return 0
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("session", overflow="fold")
    table.add_column("subject", overflow="fold")
    table.add_column("connection", overflow="fold")
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("exch", justify="right", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    for s in sessions:
        outcome = s.outcome or "open"
        style = "green" if outcome == "ok" else "yellow" if outcome == "open" else "red"
        table.add_row(
            s.id,
            s.subject or "",
            s.connection or "",
            models.format_us(s.started_at)[:19].replace("T", " "),
            _duration(s),
            str(s.exchanges),
            f"[{style}]{outcome}[/]",
        )
    Console().print(table)
    return 0


def _load(store: Store, session_id: str) -> tuple[models.SessionInfo, list[models.EventInfo]]:
    session = queries.get_session(store, session_id)
    if session is None:
        raise CliError(f"no session {session_id!r}")
    return session, queries.session_events(store, session_id)


def cmd_show(store: Store, args: argparse.Namespace) -> int:
    session, events = _load(store, args.session_id)
    if args.json:
        document = {"session": session.as_dict(), "events": [e.as_dict() for e in events]}
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return 0
    show(Console(), session, events)
    return 0


def cmd_replay(store: Store, args: argparse.Namespace) -> int:
    if args.speed < 0:
        raise CliError("--speed must be 0 (no waiting) or positive")
    session, events = _load(store, args.session_id)
    try:
        Replayer(Console(), speed=args.speed, max_wait=args.max_wait).play(session, events)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 0


def cmd_export(store: Store, args: argparse.Namespace) -> int:
    rows = queries.iter_export(
        store,
        _session_filter(args, None),
        session_ids=args.session_ids,
        include_admin=args.admin,
    )
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            count = export.write(rows, args.format, handle)
        print(f"exported {count} events to {args.output}", file=sys.stderr)
    else:
        export.write(rows, args.format, sys.stdout)
    return 0
