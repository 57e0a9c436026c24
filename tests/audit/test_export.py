from __future__ import annotations

import csv
import io
import json

from tests.audit.helpers import conversation, exchange
from warden.audit import export, queries
from warden.audit.models import SessionFilter
from warden.audit.recorder import Recorder
from warden.audit.store import Store


async def test_jsonl_and_csv_hold_every_event(store: Store) -> None:
    async with Recorder(store, instance_id="gw-1") as recorder:
        await conversation(recorder, exchange("e1", "s1"))
        await conversation(recorder, exchange("e2", "s2", subject="bob"))
        await recorder.admin_event("config.reload", "ops", {"version": 2})
    out = io.StringIO()
    count = export.write(queries.iter_export(store, SessionFilter(user="bob")), "jsonl", out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert count == len(lines) == 7
    assert {line["subject"] for line in lines} == {"bob"}
    assert lines[0]["payload"]["path"] == "/v1/messages"
    assert lines[0]["ts"].endswith("Z")

    out = io.StringIO()
    rows = queries.iter_export(store, SessionFilter(), include_admin=True)
    count = export.write(rows, "csv", out)
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == len(table) == 15
    assert tuple(table[0]) == export.CSV_COLUMNS
    decision = next(r for r in table if r["kind"] == "decision")
    assert (decision["rule"], decision["action"], decision["flow"]) == (
        "aws-access-key",
        "mask",
        "rewrite",
    )
    assert next(r for r in table if r["kind"] == "end")["outcome"] == "ok"
    assert table[-1]["kind"] == "admin" and table[-1]["subject"] == "ops"


async def test_export_by_session_id(store: Store) -> None:
    async with Recorder(store, instance_id="gw-1") as recorder:
        await conversation(recorder, exchange("e1", "s1"))
        await conversation(recorder, exchange("e2", "s2"))
    rows = list(queries.iter_export(store, SessionFilter(), session_ids=["s2"]))
    assert {event.session_id for event, _, _ in rows} == {"s2"}


def test_csv_cells_cannot_become_formulas() -> None:
    from warden.audit.models import EventInfo

    event = EventInfo(1, "c", 1, 0, "decision", "s", "x", '{"rule":"=cmd()"}', "", "")
    row = export.csv_row(event, "@evil", "-conn")
    values = dict(zip(export.CSV_COLUMNS, row, strict=True))
    assert values["subject"] == "'@evil"
    assert values["connection"] == "'-conn"
    assert values["rule"] == "'=cmd()"
