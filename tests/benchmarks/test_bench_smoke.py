"""The gateway benchmark runs end to end and reports what it promises.

No timing assertions here: the benchmark reports its numbers against the
targets; it never fails on them. This only checks that the harness works and
that every request through Warden succeeded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def quick_run(script: str, tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    """``benchmarks/<script> --quick``: its JSON report and its markdown."""
    out = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / script),
            "--quick",
            *args,
            "--out-json",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_quick_gateway_benchmark_runs(tmp_path: Path) -> None:
    report, markdown = quick_run("bench_gateway.py", tmp_path, "--only", "direct,warden")
    assert report["skipped"] == {}
    results = report["results"]
    assert set(results) == {"latency", "ttfb", "throughput", "streams"}
    routes = {"direct/openai", "direct/anthropic", "warden/openai", "warden/anthropic"}
    for phase in ("latency", "ttfb", "throughput"):
        assert set(results[phase]) == routes, phase
        for name, row in results[phase].items():
            assert row["errors"] == 0, (phase, name, row.get("first_error"))
    for name in ("warden/openai", "warden/anthropic"):
        assert results["latency"][name]["n"] == report["params"]["latency_requests"]
        assert results["throughput"][name]["requests"] > 0
        assert results["throughput"][name]["proxy_cpu_s"] is not None
        streams = results["streams"][name]
        assert streams["errors"] == 0, streams.get("first_error")
        assert streams["all_open"], streams
        assert streams["peak_rss_kb"] > 0
    assert {row["route"] for row in report["targets"]} == {"warden/openai", "warden/anthropic"}
    assert "## Gateway overhead" in markdown
    assert "| warden/openai |" in markdown


def test_run_all_writes_a_header_even_with_no_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run_all.py"),
            "--only",
            "bench_nothing",
            "--out",
            str(out),
            "--json-dir",
            str(tmp_path / "json"),
        ],
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    text = out.read_text()
    assert text.startswith("# Benchmarks")
    assert "make bench" in text
    assert "machine:" in text


def test_quick_download_benchmark_runs(tmp_path: Path) -> None:
    """Text through Warden is masked (no planted example reaches the agent);
    a binary file arrives unchanged (the benchmark stops if it does not)."""
    report, markdown = quick_run("bench_downloads.py", tmp_path)
    results = report["results"]
    assert set(results) == {"direct/text", "warden/text", "direct/binary", "warden/binary"}
    assert results["direct/text"]["planted_received"] > 0
    assert results["warden/text"]["planted_received"] == 0
    assert "## File downloads" in markdown
