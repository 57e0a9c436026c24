"""Detection benchmark: Warden's engine side by side with the usual alternatives.

    .venv/bin/python benchmarks/bench_detect.py [--quick] [--out results.json]

Builds ~10 MB of realistic text (Python standard library sources from the
local install, interleaved with generated prose) with catalogue examples
planted at known offsets, then measures in one run:

* block throughput (MB/s on one core): the Warden engine with hyperscan, the
  Warden pure-Python fallback (re2 per rule), a plain ``re`` loop over every
  rule, and detect-secrets (its plugins, in-process, through ``scan_file``);
  the slow ones on a prefix of the corpus, scaled to MB/s;
* the stream masker over SSE-sized deltas (3-50 characters): microseconds
  per delta and the hold-back distribution;
* the request side: a 200 KB Claude Code conversation, cold and with 2 KB
  new (the verdict cache at work);
* precision / recall on ``../shared/corpus/secret-examples.jsonl`` for
  Warden and detect-secrets, and matches on the project's hard negatives;
* the engine's own cost, each in a fresh process: seconds to build it and
  the RSS it adds, compiling hyperscan and then loading the cached database.

Prints a markdown section on stdout (progress on stderr); ``--out`` (or
``--out-json``) also writes every number as JSON. Needs the ``bench`` extra
for detect-secrets (``pip install -e '.[bench]'``); without it that column
is reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from warden.detect.catalogue import Catalogue  # noqa: E402
from warden.detect.engine import Engine  # noqa: E402
from warden.detect.inspector import MaskingInspector  # noqa: E402
from warden.detect.mask import Masker  # noqa: E402
from warden.detect.stream import StreamMasker  # noqa: E402
from warden.detect.vault import MemoryVault  # noqa: E402
from warden.pipeline.request import JsonRequestView  # noqa: E402
from warden.pipeline.types import Exchange, Identity  # noqa: E402
from warden.protocols.anthropic import iter_slots  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detect_inputs import build_text, conversation, prose, sse_deltas, stream_text  # noqa: E402

CORPUS_DIR = Path(os.environ.get("WARDEN_CORPUS_DIR") or ROOT.parent / "shared" / "corpus")
CORPUS = CORPUS_DIR / "secret-examples.jsonl"
HARD_NEGATIVES = ROOT / "tests" / "detect" / "hard_negatives.txt"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def best_of(runs: int, fn: Any) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# -- block throughput -----------------------------------------------------------------


def bench_block(
    text: str,
    planted: list[tuple[int, int, str]],
    hs: Engine,
    py: Engine,
    quick: bool,
    hs_all: Engine,
    hs_no_pii: Engine,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    mb = len(text.encode()) / 1e6
    cold = best_of(1, lambda: hs.scan(text))  # first use: re2 builds its DFA states
    seconds = best_of(2 if quick else 3, lambda: hs.scan(text))
    findings = hs.scan(text)
    found = [(f.start, f.end) for f in findings]
    hit = sum(1 for s, e, _ in planted if any(a < e and s < b for a, b in found))
    out["warden-hyperscan"] = {
        "mb": mb,
        "seconds": seconds,
        "mb_per_s": mb / seconds,
        "cold_mb_per_s": mb / cold,
        "findings": len(findings),
        "planted": len(planted),
        "planted_found": hit,
    }
    log(f"  hyperscan: {mb / seconds:.1f} MB/s ({mb / cold:.1f} cold), {hit}/{len(planted)} found")
    hs_all.scan(text)  # warm, like the one above
    seconds = best_of(2 if quick else 3, lambda: hs_all.scan(text))
    same = hs_all.scan(text) == findings
    out["warden-hyperscan-all"] = {"mb": mb, "seconds": seconds, "mb_per_s": mb / seconds}
    log(f"  hyperscan, opt-in rules compiled too: {mb / seconds:.1f} MB/s, same findings: {same}")
    if not same:
        raise SystemExit("compiling the opt-in rules changed the findings")
    seconds = best_of(2 if quick else 3, lambda: hs_no_pii.scan(text))
    out["warden-hyperscan-no-pii"] = {"mb": mb, "seconds": seconds, "mb_per_s": mb / seconds}
    log(f"  hyperscan, PII rules off (the quickstart's policy): {mb / seconds:.1f} MB/s")

    sample = text[: (250_000 if quick else 1_000_000)]
    smb = len(sample.encode()) / 1e6
    seconds = best_of(1, lambda: py.scan(sample))
    out["warden-fallback"] = {"mb": smb, "seconds": seconds, "mb_per_s": smb / seconds}
    log(f"  fallback: {smb / seconds:.2f} MB/s")

    compiled = [(re.compile(r.pattern, re.ASCII), r.secret_group) for r in hs.rules if r.enabled]
    small = text[: (100_000 if quick else 250_000)]
    rmb = len(small.encode()) / 1e6

    def re_loop() -> int:
        n = 0
        for pattern, _group in compiled:
            n += sum(1 for _ in pattern.finditer(small))
        return n

    seconds = best_of(1, re_loop)
    out["re-loop"] = {"mb": rmb, "seconds": seconds, "mb_per_s": rmb / seconds}
    log(f"  re loop: {rmb / seconds:.3f} MB/s")

    ds = detect_secrets_scanner()
    if ds is None:
        out["detect-secrets"] = {"skipped": "detect-secrets is not installed (bench extra)"}
    else:
        dsample = text[: (100_000 if quick else 500_000)]
        dmb = len(dsample.encode()) / 1e6
        seconds = best_of(1, lambda: ds(dsample))
        out["detect-secrets"] = {"mb": dmb, "seconds": seconds, "mb_per_s": dmb / seconds}
        log(f"  detect-secrets: {dmb / seconds:.3f} MB/s")
    return out


def detect_secrets_scanner() -> Any:
    """A function text -> findings (line numbers) using detect-secrets' own file scan."""
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    workdir = Path(tempfile.mkdtemp(prefix="bench-detect-"))

    def scan(text: str) -> list[int]:
        path = workdir / "sample.txt"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        with default_settings():
            secrets = SecretsCollection()
            secrets.scan_file(str(path))
            return [s.line_number for s in secrets[str(path)]]

    return scan


# -- streaming ---------------------------------------------------------------------------


def bench_stream(text: str, engine: Engine, rnd: random.Random) -> dict[str, Any]:
    deltas = sse_deltas(text, rnd)
    masker = Masker(hash_key=b"k" * 32, vault=MemoryVault())
    whole = masker.apply(text, engine.scan(text))
    runs = []
    for _ in range(3):
        stream = StreamMasker(engine, masker.render)
        held: list[int] = []
        per: list[float] = []
        out: list[str] = []
        delayed = 0
        for delta in deltas:
            start = time.perf_counter()
            out.append(stream.feed(delta))
            per.append(time.perf_counter() - start)
            held.append(stream.held)
            delayed += min(stream.held, len(delta))
        out.append(stream.flush())
        runs.append((sum(per), per, held, delayed, "".join(out)))
    total, per, held, delayed, streamed = min(runs, key=lambda r: r[0])
    assert streamed == whole, "stream output differs from whole-text masking"
    per_us = sorted(p * 1e6 for p in per)
    held_sorted = sorted(held)
    return {
        "deltas": len(deltas),
        "chars": len(text),
        "us_per_delta_mean": total / len(deltas) * 1e6,
        "us_per_delta_p50": per_us[len(per_us) // 2],
        "us_per_delta_p99": per_us[len(per_us) * 99 // 100],
        "held_mean": statistics.fmean(held),
        "held_p50": held_sorted[len(held_sorted) // 2],
        "held_p99": held_sorted[len(held_sorted) * 99 // 100],
        "held_max": held_sorted[-1],
        "delayed_fraction": delayed / len(text),
        "equals_whole_text": True,
    }


# -- request side -----------------------------------------------------------------------


def bench_request(
    engine: Engine, rnd: random.Random, examples: list[tuple[str, str]]
) -> dict[str, Any]:
    body = conversation(rnd, 200_000, examples)
    exchange = Exchange("x", "session-1", "claude", "anthropic", Identity("dev"))

    def turn(doc: dict[str, Any], inspector: MaskingInspector) -> float:
        fresh = json.loads(json.dumps(doc))  # new strings, as a parsed request has
        view = JsonRequestView(fresh, "messages", iter_slots)
        start = time.perf_counter()
        inspector.inspect_request(exchange, view)
        return time.perf_counter() - start

    colds, incrementals = [], []
    for _ in range(5):
        inspector = MaskingInspector(engine, hash_key=b"k" * 32)
        colds.append(turn(body, inspector))
        grown = dict(body)
        grown["messages"] = [*body["messages"], {"role": "user", "content": prose(rnd, 2000)}]
        incrementals.append(turn(grown, inspector))
    return {
        "body_bytes": len(json.dumps(body)),
        "new_bytes": 2000,
        "cold_ms": min(colds) * 1e3,
        "incremental_ms": min(incrementals) * 1e3,
    }


# -- engine cost ---------------------------------------------------------------------------

_ENGINE_PROBE = """
import gc, json, sys, time
sys.path.insert(0, sys.argv[1])
from warden.detect import dbcache
def rss():
    gc.collect()
    dbcache.release_memory()
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
import warden.detect
before = rss()
start = time.perf_counter()
from warden.detect.catalogue import Catalogue
from warden.detect.engine import Engine
engine = Engine(Catalogue.default())
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_mb": rss() - before, "hyperscan_db_bytes":
    engine._pass.size if engine._pass else 0}))
"""


def bench_engine() -> dict[str, Any]:
    """Build time and resident memory of the default engine, in fresh processes."""
    if not Path("/proc/self/status").exists():
        return {"skipped": "needs /proc to read RSS"}
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-detect-cache-") as cache:
        env = {**os.environ, "WARDEN_CACHE_DIR": cache}
        for name in ("compiled", "cached"):
            done = subprocess.run(
                [sys.executable, "-c", _ENGINE_PROBE, str(ROOT / "src")],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            out[name] = json.loads(done.stdout)
            log(f"  {name}: {out[name]['seconds']:.1f} s, +{out[name]['rss_mb']:.0f} MB RSS")
    return out


# -- quality -----------------------------------------------------------------------------


def bench_quality(engine: Engine) -> dict[str, Any]:
    if not CORPUS.exists():
        return {"skipped": f"{CORPUS} not found"}
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    ds = detect_secrets_scanner()
    results: dict[str, Any] = {}
    for name in ("warden", "detect-secrets"):
        if name == "detect-secrets" and ds is None:
            results[name] = {"skipped": "not installed"}
            continue
        tp = fn = fp = tn = 0
        by_family: dict[str, Counter[str]] = defaultdict(Counter)
        by_source: dict[str, Counter[str]] = defaultdict(Counter)
        for row in rows:
            if name == "warden":
                findings = engine.scan(row["text"])
                hit = bool(findings)
                for family in {engine.catalogue.get(f.rule_id).family for f in findings}:  # type: ignore[union-attr]
                    by_family[family]["tp" if row["secret"] else "fp"] += 1
            else:
                hit = bool(ds(row["text"]))
            source = row["source"].split("@")[0]
            if row["secret"]:
                tp, fn = tp + hit, fn + (not hit)
                by_source[source]["found" if hit else "missed"] += 1
            else:
                fp, tn = fp + hit, tn + (not hit)
        negatives = []
        if HARD_NEGATIVES.exists():
            lines = [
                line
                for line in HARD_NEGATIVES.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")
            ]
            if name == "warden":
                negatives = [line for line in lines if engine.scan(line)]
            else:
                negatives = [line for line in lines if ds(line)]
        results[name] = {
            "positives": tp + fn,
            "negatives": fp + tn,
            "recall": tp / max(1, tp + fn),
            "lookalike_false_positive_rate": fp / max(1, fp + tn),
            "precision": tp / max(1, tp + fp),
            "hard_negative_lines": len(lines) if HARD_NEGATIVES.exists() else 0,
            "hard_negatives_matched": len(negatives),
            "by_family": {k: dict(v) for k, v in sorted(by_family.items())},
            "recall_by_source": {
                k: v["found"] / max(1, v["found"] + v["missed"]) for k, v in by_source.items()
            },
        }
        q = results[name]
        log(f"  {name}: recall {q['recall']:.3f}, precision {q['precision']:.3f}")
    return results


# -- report ------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    block, stream, request, quality, engine = (
        report["block"],
        report["stream"],
        report["request"],
        report["quality"],
        report["engine"],
    )
    lines = [
        "## Detection",
        "",
        f"{report['rules']} rules ({report['enabled']} on by default); corpus "
        f"{block['warden-hyperscan']['mb']:.1f} MB of stdlib sources + prose with "
        f"{block['warden-hyperscan']['planted']} planted examples. One core, best of runs. "
        "`warden-hyperscan` compiles the rules that are on by default, as a gateway does "
        "for a policy that turns no opt-in rule on (PII included here; the quickstart "
        "leaves PII off); `warden-hyperscan-all` compiles the opt-in rules too; "
        "`warden-hyperscan-no-pii` leaves the PII family out, as the quickstart's policy does.",
        "",
        "| scanner | sample MB | MB/s | target |",
        "|---|---|---|---|",
    ]
    for name, target in (
        ("warden-hyperscan", "≥ 100"),
        ("warden-hyperscan-all", "same findings"),
        ("warden-hyperscan-no-pii", "reference"),
        ("warden-fallback", "slower, same findings"),
        ("re-loop", "reference"),
        ("detect-secrets", "reference"),
    ):
        row = block[name]
        if "skipped" in row:
            lines.append(f"| {name} | - | skipped: {row['skipped']} | {target} |")
        else:
            lines.append(f"| {name} | {row['mb']:.2f} | {row['mb_per_s']:.2f} | {target} |")
    hs = block["warden-hyperscan"]
    lines += [
        "",
        f"Warden with hyperscan, first scan (re2 DFAs cold): {hs['cold_mb_per_s']:.1f} MB/s. "
        f"Planted examples found: {hs['planted_found']}/{hs['planted']}.",
        "",
        "| stream masker | value | target |",
        "|---|---|---|",
        f"| µs per delta, mean | {stream['us_per_delta_mean']:.1f} | ≤ 20 |",
        f"| µs per delta, p50 / p99 | {stream['us_per_delta_p50']:.1f} / "
        f"{stream['us_per_delta_p99']:.1f} | |",
        f"| held chars, mean / p50 / p99 / max | {stream['held_mean']:.1f} / "
        f"{stream['held_p50']} / {stream['held_p99']} / {stream['held_max']} | minimal |",
        f"| share of text delayed past its own delta | {stream['delayed_fraction']:.1%} | |",
        f"| output equals whole-text masking | {stream['equals_whole_text']} | yes |",
        "",
        "| request side (Claude Code conversation) | ms | target |",
        "|---|---|---|",
        f"| cold, {request['body_bytes'] / 1000:.0f} KB | {request['cold_ms']:.1f} | |",
        f"| incremental, {request['new_bytes'] / 1000:.0f} KB new | "
        f"{request['incremental_ms']:.2f} | ≤ 1 |",
    ]
    if "skipped" not in engine:
        lines += [
            "",
            "| engine (default catalogue, fresh process) | build s | RSS added, MB |",
            "|---|---|---|",
        ]
        for name, label in (("compiled", "compiling hyperscan"), ("cached", "database cached")):
            row = engine[name]
            lines.append(f"| {label} | {row['seconds']:.1f} | {row['rss_mb']:.0f} |")
    if "skipped" not in quality:
        lines += [
            "",
            "| corpus (secret-examples.jsonl) | recall | look-alike FP rate | precision "
            "| hard negatives matched | target |",
            "|---|---|---|---|---|---|",
        ]
        for name in ("warden", "detect-secrets"):
            q = quality[name]
            if "skipped" in q:
                lines.append(f"| {name} | skipped | | | | |")
                continue
            target = "recall ≥ 0.95, 0 hard negatives" if name == "warden" else ""
            lines.append(
                f"| {name} | {q['recall']:.3f} | {q['lookalike_false_positive_rate']:.3f} | "
                f"{q['precision']:.3f} | "
                f"{q['hard_negatives_matched']}/{q['hard_negative_lines']} | {target} |"
            )
        lines += [
            "",
            "Warden findings per family on the corpus (rows flagged: true / look-alike):",
            "",
        ]
        lines.append(
            ", ".join(
                f"{fam} {c.get('tp', 0)}/{c.get('fp', 0)}"
                for fam, c in quality["warden"]["by_family"].items()
            )
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller samples (about 30 s)")
    parser.add_argument("--size", type=int, default=None, help="characters of corpus")
    parser.add_argument("--out", "--out-json", dest="out", type=Path)
    args = parser.parse_args()
    rnd = random.Random(20261124)

    log("building engines")
    start = time.perf_counter()
    catalogue = Catalogue.default()
    default_on = {r.id for r in catalogue.rules if r.enabled}
    hs = Engine(catalogue, backend="hyperscan", active=default_on)
    build = time.perf_counter() - start
    hs_all = Engine(catalogue, backend="hyperscan")
    no_pii = {r.id for r in catalogue.rules if r.enabled and r.family != "pii"}
    hs_no_pii = Engine(catalogue, backend="hyperscan", active=no_pii, stream=False)
    py = Engine(catalogue, backend="python", stream=False)
    examples = [(r.id, ex) for r in catalogue.rules if r.enabled for ex in r.examples]

    size = args.size or (2_000_000 if args.quick else 10_000_000)
    log(f"building {size / 1e6:.0f} MB corpus")
    text, planted = build_text(size, rnd, examples)
    log("block throughput")
    block = bench_block(text, planted, hs, py, args.quick, hs_all, hs_no_pii)
    log("streaming")
    stream = bench_stream(stream_text(rnd, examples, 60_000 if args.quick else 200_000), hs, rnd)
    log(f"  {stream['us_per_delta_mean']:.1f} us/delta, held mean {stream['held_mean']:.1f}")
    log("request side")
    request = bench_request(hs, rnd, examples)
    log(f"  cold {request['cold_ms']:.1f} ms, incremental {request['incremental_ms']:.2f} ms")
    log("quality")
    quality = bench_quality(hs)
    log("engine cost")
    engine_cost = bench_engine()
    report = {
        "rules": len(catalogue),
        "enabled": sum(r.enabled for r in catalogue.rules),
        "engine_build_s": build,
        "block": block,
        "stream": stream,
        "request": request,
        "quality": quality,
        "engine": engine_cost,
        "cpu_count": os.cpu_count(),
    }
    print(markdown(report))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
