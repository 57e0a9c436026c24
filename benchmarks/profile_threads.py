"""What recording costs, thread by thread: Warden against Warden with recording off.

    .venv/bin/python benchmarks/profile_threads.py [--api anthropic|openai]
                                                   [--rounds 4] [--seconds 4]

Starts the fake upstream, `warden` (the quickstart) and `warden-norec` (the
quickstart with `recording: "off"`) as bench_gateway.py does, then drives
each in turn at concurrency 32, round after round. For every run it reads
each of the gateway's threads in /proc: CPU (user + system) per request and
context switches per request (voluntary ones are waits, mostly for the
interpreter lock), and the recorder's batches from `/metrics`. The event
loop is the busiest thread; with recording on, the audit writer is the
second. Each run also shows how busy the event loop was (in cores) and how
much CPU the whole machine left idle per request: a loop near 1.0 with
little idle is the bottleneck, and every microsecond added to it per
request comes off the throughput. Not run by `make bench`; the figures are
/proc's 10 ms ticks.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any

from bench_gateway import HERE, QUICK, WORK, Server, fleet_of, raise_fd_limit, target

Ticks = dict[str, tuple[int, int, int]]
"""thread id -> (CPU ticks, voluntary switches, involuntary switches)."""


def threads(pid: int) -> Ticks:
    out: Ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # the thread ended between listing and reading
        fields = stat[stat.rindex(")") + 2 :].split()
        out[tid] = (
            int(fields[11]) + int(fields[12]),
            int(status["voluntary_ctxt_switches"]),
            int(status["nonvoluntary_ctxt_switches"]),
        )
    return out


def machine_idle() -> int:
    """The whole machine's idle and I/O-wait ticks so far (``/proc/stat``)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[4]) + int(fields[5])


def recorder_batches(server: Server) -> float | None:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("warden_recorder_batches_total "):
                return float(line.split()[1])
    return None


def one_run(fleet: Any, name: str, api: str, seconds: float) -> dict[str, Any]:
    server = fleet.servers[name]
    job = target(fleet, name, api)
    assert job is not None
    warmup = 1.0
    load = subprocess.Popen(
        [sys.executable, str(HERE / "loadgen.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert load.stdin is not None and load.stdout is not None
    load.stdin.write(
        json.dumps(
            {
                "kind": "throughput",
                "target": job,
                "concurrency": QUICK.concurrency,
                "warmup_s": warmup,
                "duration_s": seconds,
                "watch_pids": [server.pid],
            }
        ).encode()
    )
    load.stdin.close()
    time.sleep(warmup + 0.2)
    batches = recorder_batches(server)
    idle0, before, started = machine_idle(), threads(server.pid), time.monotonic()
    time.sleep(seconds - 0.4)
    after, elapsed = threads(server.pid), time.monotonic() - started
    idle = machine_idle() - idle0
    batches_after = recorder_batches(server)
    result = json.loads(load.stdout.read())
    load.wait()
    requests = result["rps"] * elapsed
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    per_thread = []
    for tid, (cpu, vol, invol) in after.items():
        cpu0, vol0, invol0 = before.get(tid, (0, 0, 0))
        us = (cpu - cpu0) * tick_us / requests
        if us >= 0.5:
            per_thread.append((us, (vol - vol0) / requests, (invol - invol0) / requests))
    per_thread.sort(reverse=True)
    return {
        "rps": result["rps"],
        "threads": per_thread,
        "loop_cores": per_thread[0][0] * requests / 1e6 / elapsed if per_thread else 0.0,
        "idle_us": idle * tick_us / requests,
        "batches_per_s": (
            (batches_after - batches) / elapsed
            if batches is not None and batches_after is not None
            else None
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", choices=("openai", "anthropic"), default="anthropic")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    raise_fd_limit()
    ratios = []
    with fleet_of(["direct", "warden", "warden-norec"], WORK / "threads") as fleet:
        for round_no in range(1, args.rounds + 1):
            rps = {}
            for name in ("warden", "warden-norec"):
                run = one_run(fleet, name, args.api, args.seconds)
                rps[name] = run["rps"]
                shown = " ".join(
                    f"{us:.0f} µs ({vol:.2f}/{invol:.2f})" for us, vol, invol in run["threads"]
                )
                batches = run["batches_per_s"]
                print(
                    f"round {round_no} {name}/{args.api}: {run['rps']:.0f} req/s; per request, "
                    f"each thread's CPU (voluntary/involuntary switches): {shown}"
                    + (f"; {batches:.1f} batches/s" if batches else "")
                    + f"; loop busy {run['loop_cores']:.2f} cores, machine idle "
                    f"{run['idle_us']:.0f} µs/request",
                    flush=True,
                )
            ratios.append(rps["warden"] / rps["warden-norec"])
    print(
        f"recording on vs off: median {statistics.median(ratios):.3f}, rounds "
        + ", ".join(f"{r:.2f}" for r in ratios)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
