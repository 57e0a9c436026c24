"""Re-rendering a recorded session in the terminal, at its original pace.

:class:`Replayer` prints each event as the agent's user would have seen it:
new request messages, the response streaming in (one recorded event at a
time, waiting the recorded gap divided by ``speed``; ``speed=0`` never
waits), decisions, holds, approvals, errors and the outcome. Masking
placeholders are highlighted. :func:`show` prints the session summary and
its event table for ``warden sessions show``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from warden.audit import models, render

_FLOW_STYLES = {
    "block": "bold red",
    "deny": "red",
    "hold": "yellow",
    "rewrite": "cyan",
    "pass": "dim",
}
_STREAM_STYLES = {"text": "", "thinking": "dim italic", "tool": "magenta", "raw": "dim"}


class Replayer:
    def __init__(
        self,
        console: Console,
        *,
        speed: float = 1.0,
        max_wait: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed < 0:
            raise ValueError("speed must be 0 (no waiting) or positive")
        self.console = console
        self.speed = speed
        self.max_wait = max_wait
        self.sleep = sleep
        self._streaming = False
        self._seen_messages = 0

    def play(self, session: models.SessionInfo, events: Sequence[models.EventInfo]) -> None:
        self.console.print(
            Text.assemble(
                ("session ", "bold"),
                (session.id, "bold cyan"),
                f"  {session.subject or '?'} via {session.connection or '?'}",
                f"  {models.format_us(session.started_at)}",
            )
        )
        previous: int | None = None
        for event in events:
            if previous is not None and self.speed > 0:
                wait = max(0.0, (event.ts - previous) / 1_000_000) / self.speed
                if self.max_wait is not None:
                    wait = min(wait, self.max_wait)
                if wait > 0:
                    self.sleep(wait)
            previous = event.ts
            self.render(event)
        self._end_stream()
        outcome = session.outcome or "open"
        style = "green" if outcome == "ok" else "bold red" if outcome != "open" else "yellow"
        self.console.print(Text.assemble(("outcome ", "bold"), (outcome, style)))

    def _end_stream(self) -> None:
        if self._streaming:
            self.console.print()
            self._streaming = False

    def _line(self, text: Text | str) -> None:
        self._end_stream()
        self.console.print(text)

    def render(self, event: models.EventInfo) -> None:
        payload = event.payload if isinstance(event.payload, dict) else {"value": event.payload}
        kind = event.kind
        if kind == models.REQUEST:
            if "subject" in payload:  # the exchange's opening request
                self._line(Text(""))
                self.console.rule(
                    f"exchange {(event.exchange_id or '')[:12]} · {payload.get('subject')}"
                    f" · {payload.get('connection')} {payload.get('operation') or ''}".rstrip(),
                    style="dim",
                )
            self._request(payload)
        elif kind == "response.start":
            self._line(Text(f"← status {payload.get('status', '?')}", style="dim"))
        elif kind == "response.event":
            self._stream(payload)
        elif kind == "decision":
            flow = str(payload.get("flow", ""))
            self._line(Text("⚑ " + render.decision_line(payload), style=_FLOW_STYLES.get(flow, "")))
        elif kind == "hold":
            self._line(Text(f"⏸ held for review: {render.compact(payload)}", style="yellow"))
        elif kind == "approval":
            self._line(Text(f"✔ approval: {render.compact(payload)}", style="yellow"))
        elif kind == "error":
            self._line(Text(f"✖ error: {render.compact(payload)}", style="bold red"))
        elif kind == models.END:
            if "body" in payload:  # a whole response travels in its end
                self._line(Text("assistant:", style="bold green"))
                self._line(render.highlight(render.response_text(payload)))
            outcome = payload.get("outcome", "?")
            style = "green" if outcome == "ok" else "bold red"
            self._line(Text(f"■ {outcome} (status {payload.get('status', '?')})", style=style))
        elif kind == models.RAW:
            self._line(
                Text(
                    f"🔒 sealed raw {payload.get('of', '?')} payload: "
                    f"warden audit reveal {event.id} --reason …",
                    style="dim",
                )
            )
        else:
            self._line(Text(f"{kind}: {render.compact(payload)}", style="dim"))

    def _request(self, payload: dict[str, Any]) -> None:
        target = f"{payload.get('method', '')} {payload.get('path', '')}".strip()
        if target:
            self._line(Text(f"→ {target}", style="dim"))
        messages = render.request_messages(payload)
        # Agents resend the whole conversation: show only what is new.
        start = self._seen_messages if len(messages) >= self._seen_messages else 0
        for role, text in messages[start:]:
            self._line(Text.assemble((f"{role}: ", "bold blue"), render.highlight(text)))
        self._seen_messages = len(messages)

    def _stream(self, payload: dict[str, Any]) -> None:
        for piece in render.stream_pieces(payload):
            self._piece(*piece)

    def _piece(self, style: str, text: str) -> None:
        if style == "end":
            self._end_stream()
            return
        if style == "marker":
            self._end_stream()
            self.console.print(Text(f"assistant {text}".rstrip() + " ", style="bold green"), end="")
            self._streaming = True
            return
        if not self._streaming:
            self.console.print(Text("assistant: ", style="bold green"), end="")
            self._streaming = True
        self.console.print(render.highlight(text, _STREAM_STYLES.get(style, "")), end="")


def show(console: Console, session: models.SessionInfo, events: Sequence[models.EventInfo]) -> None:
    """The session's details and one row per event."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    duration = ""
    if session.ended_at is not None:
        duration = f" ({(session.ended_at - session.started_at) / 1_000_000:.1f}s)"
    for label, value in (
        ("session", session.id),
        ("subject", session.subject or ""),
        ("groups", ", ".join(session.groups)),
        ("auth", session.auth_method or ""),
        ("connection", f"{session.connection or ''} ({session.connection_type or ''})"),
        ("client", f"{session.client_address or ''}  {session.user_agent or ''}".strip()),
        ("started", models.format_us(session.started_at)),
        ("ended", models.format_us(session.ended_at) + duration),
        ("outcome", session.outcome or "open"),
        ("exchanges", str(session.exchanges)),
    ):
        head.add_row(label, value)
    if session.decisions:
        head.add_row(
            "decisions",
            ", ".join(f"{d['rule']} {d['action']} ({d['flow']})" for d in session.decisions),
        )
    console.print(head)
    table = Table(show_lines=False, header_style="bold")
    table.add_column("event", justify="right")
    table.add_column("+s", justify="right")
    table.add_column("exchange")
    table.add_column("kind")
    table.add_column("what", overflow="fold")
    for event in events:
        offset = (event.ts - session.started_at) / 1_000_000
        style = ""
        if event.kind == "decision" and isinstance(event.payload, dict):
            style = _FLOW_STYLES.get(str(event.payload.get("flow")), "")
        table.add_row(
            str(event.id),
            f"{offset:.3f}",
            (event.exchange_id or "")[:12],
            Text(event.kind, style=style),
            render.highlight(render.summary(event.kind, event.payload)),
        )
    console.print(table)
