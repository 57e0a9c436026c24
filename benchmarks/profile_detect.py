"""Where a detection scan spends its time, step by step (not a benchmark).

    .venv/bin/python benchmarks/profile_detect.py [--size 10000000] [--no-pii]

On ``bench_detect.py``'s corpus, with the rules on by default compiled (PII
included unless ``--no-pii``), prints best-of-3 milliseconds for the block
scan's steps (encoding, the hyperscan candidate pass, the confirm step per
rule family, overlap resolution), then, for the stream masker over the
same SSE-sized deltas as the benchmark, microseconds per delta for its
steps (the live-closure pass, the candidate pass, the whole hold) and which
rules the live pass reports at the end of most deltas.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from detect_inputs import build_text, sse_deltas, stream_text  # noqa: E402

from warden.detect import hold as hold_module  # noqa: E402
from warden.detect.catalogue import Catalogue  # noqa: E402
from warden.detect.engine import Engine  # noqa: E402
from warden.detect.mask import Masker  # noqa: E402
from warden.detect.stream import StreamMasker  # noqa: E402
from warden.detect.utf8 import encode  # noqa: E402
from warden.detect.vault import MemoryVault  # noqa: E402


def best_ms(fn: Callable[[], Any], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def block(engine: Engine, catalogue: Catalogue, text: str) -> None:
    data = encode(text)
    acts = engine.actions()
    engine.scan(text)  # warm: re2 programs compile on first use
    assert engine._pass is not None
    ends = engine._pass.ends(data, 0)
    hits = engine.hits(data, 0, acts, ends=ends)
    kind = "ASCII" if len(text) == len(data) else "not ASCII"
    print(f"block scan of {len(data) / 1e6:.1f} MB ({kind})")
    print(f"  whole scan      {best_ms(lambda: engine.scan(text)):7.1f} ms")
    print(f"  encode          {best_ms(lambda: encode(text)):7.1f} ms")
    print(f"  hyperscan pass  {best_ms(lambda: engine._pass.ends(data, 0)):7.1f} ms")  # type: ignore[union-attr]
    print(f"  confirm         {best_ms(lambda: engine.hits(data, 0, acts, ends=ends)):7.1f} ms")
    print(f"  resolve         {best_ms(lambda: engine.resolve(hits, acts)):7.1f} ms")
    ascii = data.isascii()
    spent: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for index, rule_ends in ends.items():
        rule = engine._rules[index]
        start = time.perf_counter()
        engine._confirm(rule, data, rule_ends, 0, [], ascii)
        spent[rule.rule.family] += (time.perf_counter() - start) * 1e3
        count[rule.rule.family] += len(rule_ends)
    total = sum(count.values())
    print(f"  confirm by family ({total} candidate ends over {len(ends)} rules):")
    for family, ms in spent.most_common():
        print(f"    {family:18s} {ms:6.1f} ms  {count[family]:6d} ends")


def stream(engine: Engine, catalogue: Catalogue, text: str, rnd: random.Random) -> None:
    deltas = sse_deltas(text, rnd)
    masker = Masker(hash_key=b"k" * 32, vault=MemoryVault())
    calls: list[tuple[bytes, int]] = []
    original = hold_module.StreamPass.hold

    def recording(self: Any, data: bytes, pos: int) -> int:
        calls.append((data, pos))
        return original(self, data, pos)

    def run() -> None:
        masker_stream = StreamMasker(engine, masker.render)
        for delta in deltas:
            masker_stream.feed(delta)
        masker_stream.flush()

    hold_module.StreamPass.hold = recording  # type: ignore[method-assign]
    try:
        run()
    finally:
        hold_module.StreamPass.hold = original  # type: ignore[method-assign]
    step = engine.stream_pass
    assert step is not None and step._live is not None and engine._pass is not None
    live, candidates = step._live, engine._pass
    n = len(calls)

    def per_delta(fn: Callable[[bytes, int], Any]) -> float:
        return best_ms(lambda: [fn(d, p) for d, p in calls]) * 1e3 / n

    print(f"stream masker, {len(deltas)} deltas of 3-50 characters")
    print(f"  whole feed      {best_ms(run) * 1e3 / len(deltas):6.1f} µs/delta")
    print(f"  hold            {per_delta(step.hold):6.1f} µs/delta")
    print(f"  live pass       {per_delta(live.ends):6.1f} µs/delta")
    print(f"  candidate pass  {per_delta(candidates.ends):6.1f} µs/delta")
    live_rules: Counter[str] = Counter()
    for data, pos in calls:
        for key in live.ends(data, pos):
            if key >= step._rules:
                live_rules[catalogue.rules[key - step._rules].id] += 1
    print("  rules of no simple shape reported live (deltas):")
    for rule_id, seen in live_rules.most_common(8):
        print(f"    {rule_id:32s} {seen:6d}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000_000, help="characters of corpus")
    parser.add_argument("--no-pii", action="store_true", help="leave the PII family out")
    args = parser.parse_args()
    rnd = random.Random(20261124)
    catalogue = Catalogue.default()
    active = {
        r.id for r in catalogue.rules if r.enabled and not (args.no_pii and r.family == "pii")
    }
    engine = Engine(catalogue, backend="hyperscan", active=active)
    examples = [(r.id, ex) for r in catalogue.rules if r.enabled for ex in r.examples]
    text, _ = build_text(args.size, rnd, examples)
    block(engine, catalogue, text)
    stream(engine, catalogue, stream_text(rnd, examples, 200_000), rnd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
