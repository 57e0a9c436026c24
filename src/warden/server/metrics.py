"""Counters exposed at ``/metrics`` in the Prometheus text format.

Labels are connection names, status codes, outcomes, rule ids and actions:
never a subject's token, a credential or content.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from warden.pipeline.types import Exchange


class Metrics:
    def __init__(self) -> None:
        self.exchanges: Counter[tuple[str, int, str]] = Counter()
        self.decisions: Counter[tuple[str, str, str]] = Counter()
        self.held_max = 0
        self.held_total = 0
        self.held_samples = 0
        self.gauges: dict[str, Callable[[], float]] = {}

    def observe(self, connection: str, status: int, outcome: str, exchange: Exchange) -> None:
        self.exchanges[(connection, status, outcome)] += 1
        for decision in exchange.decisions:
            self.decisions[(decision.rule, decision.action, decision.flow.value)] += 1
        held = exchange.state.get("held_max")
        if isinstance(held, int):
            self.held_max = max(self.held_max, held)
            self.held_total += held
            self.held_samples += 1

    def render(self) -> str:
        lines = [
            "# HELP warden_exchanges_total Exchanges by connection, status and outcome.",
            "# TYPE warden_exchanges_total counter",
        ]
        for (conn, status, outcome), n in sorted(self.exchanges.items()):
            lines.append(
                f'warden_exchanges_total{{connection="{conn}",status="{status}",'
                f'outcome="{outcome}"}} {n}'
            )
        lines += [
            "# HELP warden_decisions_total Inspector decisions by rule, action and flow.",
            "# TYPE warden_decisions_total counter",
        ]
        for (rule, action, flow), n in sorted(self.decisions.items()):
            lines.append(
                f'warden_decisions_total{{rule="{rule}",action="{action}",flow="{flow}"}} {n}'
            )
        lines += [
            "# HELP warden_stream_holdback_chars_max Largest hold-back seen on a channel.",
            "# TYPE warden_stream_holdback_chars_max gauge",
            f"warden_stream_holdback_chars_max {self.held_max}",
            "# HELP warden_stream_holdback_chars_sum Sum of per-exchange maximum hold-back.",
            "# TYPE warden_stream_holdback_chars_sum counter",
            f"warden_stream_holdback_chars_sum {self.held_total}",
            f"warden_stream_holdback_exchanges_total {self.held_samples}",
        ]
        for name, read in sorted(self.gauges.items()):
            lines.append(f"{name} {read()}")
        return "\n".join(lines) + "\n"
