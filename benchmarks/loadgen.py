"""The load generator of bench_gateway.py, run in its own process.

Reads one job (JSON) on stdin, prints its result (JSON) on stdout. Running in
a process of its own keeps its CPU out of the accounting of the servers it
measures. Jobs:

- ``latency``: sequential requests, round-robin over all targets (one request
  to each in turn, the order rotating every round), so that noise on the
  machine hits every contender alike. Returns every latency in ms.
- ``ttfb``: the same for streamed requests: time to the response headers, to
  the first content event, and to the end of the stream.
- ``throughput``: ``concurrency`` workers against one target (streamed
  requests when ``stream`` is set) for a fixed time after a warm-up; requests
  done, errors, and the CPU seconds the watched processes (and their
  children) used in that window.
- ``streams``: opens ``count`` streams that the fake upstream paces slowly,
  keeps them all open, samples the resident memory of the watched process
  tree meanwhile, then drops them.

Only loopback targets are accepted, and every job has a bound on its requests
and its duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import uvloop

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
FIRST_ERROR: dict[str, str] = {}  # target name -> the first failure seen, to explain errors


def failed(target: Target, reason: str) -> None:
    FIRST_ERROR.setdefault(target.name, reason[:300])


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    api: str  # "openai" | "anthropic"
    url: str
    headers: dict[str, str]
    body: bytes
    expect: bytes  # must appear in a non-streamed answer

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Target:
        host = urlsplit(raw["url"]).hostname or ""
        if host not in LOOPBACK:
            raise SystemExit(f"loadgen: refusing a non-loopback target {raw['url']!r}")
        return cls(
            name=raw["name"],
            api=raw["api"],
            url=raw["url"],
            headers={"content-type": "application/json", **raw["headers"]},
            body=json.dumps(raw["body"], separators=(",", ":")).encode(),
            expect=raw.get("expect", "").encode(),
        )


# --- /proc accounting (Linux) ---


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of each process in the trees rooted at ``pids``."""
    total = 0
    for root in pids:
        for pid in process_tree(root):
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pids: list[int]) -> int:
    return sum(status_kb(p, "VmRSS") for root in pids for p in process_tree(root))


# --- requests ---


def has_content(frame: bytes, api: str) -> bool:
    """Whether one SSE frame carries model text (not just the envelope)."""
    if api == "anthropic":
        return b"content_block_delta" in frame
    for line in frame.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            return False
        try:
            chunk = json.loads(payload)
        except ValueError:
            return False
        for choice in chunk.get("choices") or ():
            if (choice.get("delta") or {}).get("content"):
                return True
    return False


class FirstContent:
    """Finds the first content event in a stream, across chunk boundaries."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.buffer = b""
        self.found = False

    def feed(self, chunk: bytes) -> bool:
        if self.found:
            return True
        self.buffer += chunk.replace(b"\r\n", b"\n")
        while b"\n\n" in self.buffer:
            frame, self.buffer = self.buffer.split(b"\n\n", 1)
            if has_content(frame, self.api):
                self.found = True
                self.buffer = b""
                return True
        return False


async def one_plain(session: aiohttp.ClientSession, target: Target) -> float | None:
    """One non-streamed request; its latency in ms, or None when it failed."""
    start = time.perf_counter()
    try:
        async with session.post(target.url, data=target.body, headers=target.headers) as r:
            body = await r.read()
            ok = r.status == 200 and target.expect in body
    except (aiohttp.ClientError, TimeoutError) as exc:
        failed(target, f"{type(exc).__name__}: {exc}")
        return None
    elapsed = (time.perf_counter() - start) * 1000
    if not ok:
        failed(target, f"status {r.status}: {body[:200]!r}")
        return None
    return elapsed


async def one_stream(
    session: aiohttp.ClientSession, target: Target
) -> tuple[float, float, float] | None:
    """One streamed request: ms to headers, to the first content event, to the end."""
    start = time.perf_counter()
    first = FirstContent(target.api)
    content_at = None
    try:
        async with session.post(target.url, data=target.body, headers=target.headers) as r:
            headers_at = time.perf_counter()
            if r.status != 200:
                failed(target, f"status {r.status}: {(await r.read())[:200]!r}")
                return None
            async for chunk in r.content.iter_any():
                if content_at is None and first.feed(chunk):
                    content_at = time.perf_counter()
    except (aiohttp.ClientError, TimeoutError) as exc:
        failed(target, f"{type(exc).__name__}: {exc}")
        return None
    end = time.perf_counter()
    if content_at is None:
        failed(target, "the stream carried no content event")
        return None
    return (
        (headers_at - start) * 1000,
        (content_at - start) * 1000,
        (end - start) * 1000,
    )


def new_session(limit: int, timeout: float = 60.0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, force_close=False)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        trust_env=False,
    )


async def round_robin(
    targets: list[Target],
    warmup: int,
    count: int,
    measure: Callable[[aiohttp.ClientSession, Target], Awaitable[Any]],
) -> dict[str, Any]:
    sessions = {t.name: new_session(1) for t in targets}
    results: dict[str, list[Any]] = {t.name: [] for t in targets}
    errors = {t.name: 0 for t in targets}
    try:
        for _ in range(warmup):
            for t in targets:
                await measure(sessions[t.name], t)
        for i in range(count):
            shift = i % len(targets)
            for t in targets[shift:] + targets[:shift]:
                result = await measure(sessions[t.name], t)
                if result is None:
                    errors[t.name] += 1
                else:
                    results[t.name].append(result)
    finally:
        for s in sessions.values():
            await s.close()
    return {"samples": results, "errors": errors, "first_error": FIRST_ERROR}


async def latency(job: dict[str, Any]) -> dict[str, Any]:
    targets = [Target.parse(t) for t in job["targets"]]
    return await round_robin(targets, job["warmup"], job["requests"], one_plain)


async def ttfb(job: dict[str, Any]) -> dict[str, Any]:
    targets = [Target.parse(t) for t in job["targets"]]
    return await round_robin(targets, job["warmup"], job["requests"], one_stream)


async def throughput(job: dict[str, Any]) -> dict[str, Any]:
    target = Target.parse(job["target"])
    concurrency: int = job["concurrency"]
    watch: list[int] = job.get("watch_pids", [])
    measure = one_stream if job.get("stream") else one_plain
    counting = False
    stop = False
    done = 0
    errors = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done, errors
        while not stop:
            result = await measure(session, target)
            if counting:
                if result is None:
                    errors += 1
                else:
                    done += 1

    session = new_session(concurrency)
    workers = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
    try:
        await asyncio.sleep(job["warmup_s"])
        cpu_before = {str(p): cpu_seconds([p]) for p in watch}
        self_before = os.times()
        counting = True
        started = time.perf_counter()
        await asyncio.sleep(job["duration_s"])
        counting = False
        elapsed = time.perf_counter() - started
        cpu_after = {str(p): cpu_seconds([p]) for p in watch}
        self_after = os.times()
        stop = True
        await asyncio.wait(workers, timeout=30)
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await session.close()
    return {
        "requests": done,
        "errors": errors,
        "elapsed_s": elapsed,
        "rps": done / elapsed,
        "cpu_s": {p: cpu_after[p] - cpu_before[p] for p in cpu_before},
        "loadgen_cpu_s": (self_after.user + self_after.system)
        - (self_before.user + self_before.system),
        "first_error": FIRST_ERROR.get(target.name),
    }


async def streams(job: dict[str, Any]) -> dict[str, Any]:
    target = Target.parse(job["target"])
    count: int = job["count"]
    pid: int = job["watch_pid"]
    opening = asyncio.Semaphore(job["open_parallel"])
    all_open = asyncio.Event()
    open_now = 0
    max_open = 0
    finished_early = 0
    errors = 0

    async def hold(session: aiohttp.ClientSession) -> None:
        nonlocal open_now, max_open, finished_early, errors
        counted = False
        try:
            async with opening:
                response = await session.post(target.url, data=target.body, headers=target.headers)
                if response.status != 200:
                    errors += 1
                    failed(target, f"status {response.status}")
                    response.release()
                    return
                first = FirstContent(target.api)
                while not first.found:
                    chunk = await response.content.readany()
                    if not chunk:
                        break
                    first.feed(chunk)
            if not first.found:
                errors += 1
                failed(target, "the stream carried no content event")
                return
            open_now += 1
            counted = True
            max_open = max(max_open, open_now)
            if open_now >= count:
                all_open.set()
            async with response:
                while await response.content.readany():
                    pass
            finished_early += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors += 1
            failed(target, f"{type(exc).__name__}: {exc}")
        finally:
            if counted:
                open_now -= 1

    idle_kb = rss_kb([pid])
    samples: list[tuple[float, int, int]] = []  # (t, open streams, rss kB)
    session = new_session(0, timeout=job["deadline_s"] + 60)
    began = time.perf_counter()
    tasks = [asyncio.create_task(hold(session)) for _ in range(count)]

    async def sample_until(deadline: float) -> None:
        while time.perf_counter() < deadline:
            samples.append((time.perf_counter() - began, open_now, rss_kb([pid])))
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample_until(began + job["deadline_s"]))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_open.wait(), timeout=job["deadline_s"])
    opened_in = time.perf_counter() - began
    sampler.cancel()
    await asyncio.gather(sampler, return_exceptions=True)
    await sample_until(time.perf_counter() + job["hold_s"])
    open_at_peak = open_now
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await session.close()
    peak = max(samples, key=lambda s: s[2])
    return {
        "requested": count,
        "max_open": max_open,
        "open_at_end_of_hold": open_at_peak,
        "all_open": all_open.is_set(),
        "seconds_to_open": opened_in,
        "finished_early": finished_early,
        "errors": errors,
        "idle_rss_kb": idle_kb,
        "peak_rss_kb": peak[2],
        "open_at_peak_rss": peak[1],
        "hwm_kb": status_kb(pid, "VmHWM"),
        "first_error": FIRST_ERROR.get(target.name),
    }


JOBS: dict[str, Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]] = {
    "latency": latency,
    "ttfb": ttfb,
    "throughput": throughput,
    "streams": streams,
}


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    job = json.load(sys.stdin)
    result = uvloop.run(JOBS[job["kind"]](job))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
