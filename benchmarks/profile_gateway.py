"""Where Warden spends its CPU under the benchmark's load: py-spy on `warden serve`.

    .venv/bin/pip install py-spy    # once; not a project dependency
    .venv/bin/python benchmarks/profile_gateway.py [--api openai|anthropic] [--stream]
                                                   [--seconds 15] [--top 30]

Starts the fake upstream and Warden exactly as bench_gateway.py does, drives
them at concurrency 32 with the load generator, samples Warden with py-spy
(non-blocking) meanwhile, and prints the functions with the largest share of
the samples, inclusive and self. The raw collapsed stacks stay in
benchmarks/.work/profile/ (feed them to a flame-graph tool if you like).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench_gateway import HERE, QUICK, WORK, fleet_of, raise_fd_limit, target

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def short(frame: str) -> str:
    """`func (path/to/module.py:123)` -> `func (to/module.py)`."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    parts = Path(match["file"]).parts
    return f"{match['func']} ({'/'.join(parts[-2:])})"


def summarize(collapsed: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short(f) for f in stack.split(";") if f and not f.startswith("process ")]
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return "no samples (is py-spy allowed to ptrace here?)"
    lines = [f"{total} samples (busy only)", "", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", choices=("openai", "anthropic"), default="openai")
    parser.add_argument("--stream", action="store_true", help="streamed requests")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=QUICK.concurrency)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--contender",
        choices=("warden", "warden-norec"),
        default="warden",
        help="warden-norec: the quickstart with recording off",
    )
    args = parser.parse_args()
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    raise_fd_limit()
    workdir = WORK / "profile"
    name = args.contender
    with fleet_of(["direct", name], workdir) as fleet:
        warden = fleet.servers.get(name)
        if warden is None:
            raise SystemExit(f"{name} did not start: {fleet.skipped.get(name)}")
        job = target(fleet, name, args.api, stream=args.stream)
        assert job is not None
        collapsed = workdir / f"{name}-{args.api}{'-stream' if args.stream else ''}.txt"
        spy = subprocess.Popen(
            [
                pyspy,
                "record",
                "--pid",
                str(warden.pid),
                "--duration",
                str(int(args.seconds)),
                "--rate",
                str(args.rate),
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(collapsed),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        load = subprocess.run(
            [sys.executable, str(HERE / "loadgen.py")],
            input=json.dumps(
                {
                    "kind": "throughput",
                    "target": job,
                    "concurrency": args.concurrency,
                    "warmup_s": 0.5,
                    "duration_s": args.seconds + 1,
                    "watch_pids": [warden.pid],
                    "stream": args.stream,
                }
            ).encode(),
            capture_output=True,
            check=True,
        )
        _, err = spy.communicate(timeout=args.seconds + 60)
        if spy.returncode != 0:
            raise SystemExit(f"py-spy failed: {err.decode()[-1000:]}")
    result = json.loads(load.stdout)
    cpu = result["cpu_s"][str(warden.pid)]
    print(
        f"{name}/{args.api}{' (stream)' if args.stream else ''}: {result['rps']:.0f} req/s, "
        f"{cpu * 1000 / max(1, result['requests']):.3f} CPU ms/request, "
        f"{result['errors']} errors"
    )
    print(summarize(collapsed, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
