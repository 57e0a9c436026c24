"""Gateway overhead: direct vs a bare aiohttp proxy vs Warden vs LiteLLM, in one run.

    .venv/bin/python benchmarks/bench_gateway.py [--quick] [--only direct,bare,warden,litellm]
                                                 [--out-json PATH]

Every contender sits in front of the same fake upstream (tests.fakes.provider,
one process) and gets the same requests:

- direct: the fake itself, the baseline every "added" figure subtracts;
- bare: benchmarks/bare_proxy.py, ~30 lines of aiohttp pass-through on uvloop,
  the floor for this stack;
- warden: ``warden serve -c examples/quickstart.yaml`` (its default policy),
  pointed at the fake through the quickstart's own environment variables;
- litellm: ``litellm --config ... --num_workers 1``, no database, a master
  key, installed on first run into its own virtual environment under
  benchmarks/.work/litellm-venv (never into the project's).

Measured: added latency p50/p99 of small non-streamed requests at low load
(sequential, interleaved across contenders; LiteLLM's in a block of its own
after the others, see run_sequential), the overhead on the time to the
first content event of streams, requests/s at concurrency 32 with the CPU the
proxy used, and the peak resident memory while 1,000 streams are open at once.
The load generator (benchmarks/loadgen.py) runs in its own process.

Markdown goes to stdout, progress to stderr, everything to --out-json. The
numbers are compared to the targets; the benchmark never fails on them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
LITELLM_VENV = WORK / "litellm-venv"
QUICKSTART = ROOT / "examples" / "quickstart.yaml"

# The fake's REAL upstream keys (tests.fakes.provider.Credentials defaults).
ANTHROPIC_KEY = "sk-ant-api03-fake-real-anthropic-key-0000"
OPENAI_KEY = "sk-proj-fake-real-openai-key-0000"
WARDEN_TOKEN = "wdn-bench-gateway-token-0000000001"
LITELLM_MASTER_KEY = "sk-bench-litellm-master-key-0000000001"

CONTENDERS = ("direct", "bare", "warden", "warden-norec", "litellm")
PROMPT = "Say hello to the benchmark, briefly."
EXPECT = "ok: " + PROMPT[:20]
PACED_TEXT = ("The quick brown fox jumps over the lazy dog. " * 20)[:600]  # 200 deltas

TARGETS = {
    "added_p50_ms": 1.0,
    "added_p99_ms": 5.0,
    "rps_vs_bare": 0.60,
    "rps_vs_litellm": 20.0,
    "ttfb_added_p50_ms": 1.0,
    "streams_peak_mb": 200.0,
}


@dataclass(frozen=True)
class Params:
    latency_warmup: int
    latency_requests: int
    ttfb_warmup: int
    ttfb_requests: int
    rounds: int
    warmup_s: float
    duration_s: float
    concurrency: int
    streams: int
    open_parallel: int
    hold_s: float
    open_deadline_s: float
    paced_delay_s: float


# Five throughput rounds: one round's recording-on/off ratio alone moved
# from 0.78 to 0.97 on one machine, so three left the median to chance.
FULL = Params(50, 500, 20, 200, 5, 1.0, 4.0, 32, 1000, 50, 3.0, 120.0, 1.0)
QUICK = Params(10, 50, 5, 30, 1, 0.5, 1.5, 32, 100, 50, 1.0, 30.0, 1.0)


def log(message: str) -> None:
    print(f"[bench_gateway] {message}", file=sys.stderr, flush=True)


# --- processes ---


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Fleet:
    workdir: Path
    servers: dict[str, Server] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # contender -> reason

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            stop_process(server.process)


def stop_process(process: subprocess.Popen[bytes], grace: float = 40.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(server: Server, path: str, timeout: float) -> str | None:
    """None when ready, otherwise why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"exited with {server.process.returncode}; log: {tail(server.log_path)}"
        try:
            with urllib.request.urlopen(server.url + path, timeout=2) as response:
                if response.status == 200:
                    return None
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return f"not ready after {timeout:.0f} s; log: {tail(server.log_path)}"


def tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:])[-800:]


def spawn(name: str, command: list[str], workdir: Path, env: dict[str, str], url: str) -> Server:
    log_path = workdir / f"{name}.log"
    with open(log_path, "ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name, process, url, log_path)


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env.pop(proxy, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def restart(fleet: Fleet, contender: str) -> None:
    server = fleet.servers.pop(contender)
    stop_process(server.process)
    STARTERS[contender](fleet, fleet.servers["fake"].url)


def start_fake(fleet: Fleet) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "tests.fakes.provider", "--port", str(port)]
    server = spawn("fake", command, fleet.workdir, base_env(), f"http://127.0.0.1:{port}")
    problem = wait_ready(server, "/_fake/health", 30)
    if problem:
        stop_process(server.process)
        raise SystemExit(f"the fake provider did not start: {problem}")
    fleet.servers["fake"] = server
    return server


def start_bare(fleet: Fleet, upstream: str) -> None:
    port = free_port()
    command = [
        sys.executable,
        str(HERE / "bare_proxy.py"),
        "--upstream",
        upstream,
        "--port",
        str(port),
    ]
    server = spawn("bare", command, fleet.workdir, base_env(), f"http://127.0.0.1:{port}")
    # The bare proxy forwards every path, /_fake/health included.
    problem = wait_ready(server, "/_fake/health", 30)
    if problem:
        stop_process(server.process)
        fleet.skipped["bare"] = problem
        return
    fleet.servers["bare"] = server


def warden_command() -> list[str]:
    script = Path(sys.executable).parent / "warden"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "warden"]


def start_warden_norec(fleet: Fleet, upstream: str) -> None:
    """The quickstart with recording off: the same run shows what recording costs."""
    config = fleet.workdir / "quickstart-norec.yaml"
    text = QUICKSTART.read_text()
    if "recording: best-effort" not in text:
        fleet.skipped["warden-norec"] = "the quickstart no longer says 'recording: best-effort'"
        return
    config.write_text(text.replace("recording: best-effort", 'recording: "off"'))
    start_warden(fleet, upstream, name="warden-norec", config=config)


def start_warden(
    fleet: Fleet, upstream: str, *, name: str = "warden", config: Path = QUICKSTART
) -> None:
    port = free_port()
    state = fleet.workdir / f"{name}-state"
    state.mkdir(exist_ok=True)
    env = base_env()
    env.update(
        WARDEN_LISTEN=f"127.0.0.1:{port}",
        WARDEN_STATE_DIR=str(state),
        WARDEN_TOKEN=WARDEN_TOKEN,
        ANTHROPIC_UPSTREAM=upstream,
        OPENAI_UPSTREAM=upstream,
        ANTHROPIC_API_KEY=ANTHROPIC_KEY,
        OPENAI_API_KEY=OPENAI_KEY,
    )
    command = [*warden_command(), "serve", "-c", str(config)]
    server = spawn(name, command, fleet.workdir, env, f"http://127.0.0.1:{port}")
    problem = wait_ready(server, "/readyz", 60)
    if problem:
        stop_process(server.process)
        fleet.skipped[name] = problem
        return
    fleet.servers[name] = server


def ensure_litellm() -> Path | str:
    """The litellm executable in its own venv, installed on first use; or why not."""
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    log(f"installing litellm[proxy] into {LITELLM_VENV} (first run only)")
    WORK.mkdir(parents=True, exist_ok=True)
    install_log = WORK / "litellm-install.log"
    steps = [
        [sys.executable, "-m", "venv", str(LITELLM_VENV)],
        [str(LITELLM_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "-U", "pip"],
        [str(LITELLM_VENV / "bin" / "python"), "-m", "pip", "install", "litellm[proxy]"],
    ]
    with open(install_log, "wb") as out:
        for step in steps:
            try:
                done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=900)
            except subprocess.TimeoutExpired:
                return f"`{' '.join(step[-2:])}` timed out; see {install_log}"
            if done.returncode != 0:
                return f"`{' '.join(step[-2:])}` failed; see {install_log}: {tail(install_log)}"
    return exe if exe.exists() else f"no litellm executable after install; see {install_log}"


def start_litellm(fleet: Fleet, upstream: str) -> None:
    exe = ensure_litellm()
    if isinstance(exe, str):
        fleet.skipped["litellm"] = exe
        return
    port = free_port()
    config = fleet.workdir / "litellm.yaml"
    models = []
    for name in ("gpt-4o", "gpt-4o-paced"):
        models.append(
            {
                "model_name": name,
                "litellm_params": {
                    "model": f"openai/{name}",
                    "api_base": upstream + "/v1",
                    "api_key": OPENAI_KEY,
                },
            }
        )
    config.write_text(
        json.dumps(
            {
                "model_list": models,
                "litellm_settings": {"telemetry": False, "drop_params": True},
                "general_settings": {"master_key": LITELLM_MASTER_KEY},
            },
            indent=2,
        )
    )
    env = base_env()
    env.update(
        LITELLM_MASTER_KEY=LITELLM_MASTER_KEY,
        LITELLM_TELEMETRY="False",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOG="ERROR",
        DISABLE_ADMIN_UI="True",
        LITELLM_DONT_SHOW_FEEDBACK_BOX="True",
        # Its upstream pool allows 500 connections per host by default: too few
        # for the 1,000-streams test; raised as anyone running that load would.
        AIOHTTP_CONNECTOR_LIMIT="4000",
        AIOHTTP_CONNECTOR_LIMIT_PER_HOST="4000",
    )
    for name in ("DATABASE_URL", "REDIS_HOST", "REDIS_URL"):
        env.pop(name, None)
    command = [
        str(exe),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    server = spawn("litellm", command, fleet.workdir, env, f"http://127.0.0.1:{port}")
    problem = wait_ready(server, "/health/liveliness", 180)
    if problem:
        stop_process(server.process)
        fleet.skipped["litellm"] = problem
        return
    fleet.servers["litellm"] = server


STARTERS = {
    "bare": start_bare,
    "warden": start_warden,
    "warden-norec": start_warden_norec,
    "litellm": start_litellm,
}


# --- targets ---


def body_for(api: str, *, stream: bool, paced: bool = False) -> dict[str, Any]:
    if api == "anthropic":
        model = "claude-sonnet-4-6-paced" if paced else "claude-sonnet-4-6"
        body: dict[str, Any] = {"model": model, "max_tokens": 256}
    else:
        body = {"model": "gpt-4o-paced" if paced else "gpt-4o"}
    body["messages"] = [{"role": "user", "content": PROMPT}]
    if stream:
        body["stream"] = True
    return body


def target(
    fleet: Fleet, contender: str, api: str, *, stream: bool = False, paced: bool = False
) -> dict[str, Any] | None:
    server = fleet.servers.get("fake" if contender == "direct" else contender)
    if server is None or (contender == "litellm" and api != "openai"):
        return None
    base = server.url
    path = "/v1/messages" if api == "anthropic" else "/v1/chat/completions"
    if contender.startswith("warden"):
        path = ("/claude" if api == "anthropic" else "/openai") + path
    if contender.startswith("warden"):
        secret = WARDEN_TOKEN
    elif contender == "litellm":
        secret = LITELLM_MASTER_KEY
    else:
        secret = ANTHROPIC_KEY if api == "anthropic" else OPENAI_KEY
    if api == "anthropic":
        headers = {"x-api-key": secret, "anthropic-version": "2023-06-01"}
    else:
        headers = {"authorization": f"Bearer {secret}"}
    return {
        "name": f"{contender}/{api}",
        "api": api,
        "url": base + path,
        "headers": headers,
        "body": body_for(api, stream=stream, paced=paced),
        "expect": EXPECT,
    }


def all_targets(fleet: Fleet, contenders: list[str], **kw: bool) -> list[dict[str, Any]]:
    out = []
    for api in ("openai", "anthropic"):
        for contender in contenders:
            t = target(fleet, contender, api, **kw)
            if t is not None:
                out.append(t)
    return out


# --- phases ---


def run_loadgen(job: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py")],
        input=json.dumps(job).encode(),
        capture_output=True,
        timeout=900,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_sequential(
    kind: str, targets: list[dict[str, Any]], warmup: int, requests: int
) -> dict[str, Any]:
    """Sequential requests, interleaved across the targets; LiteLLM's in a block of its own.

    LiteLLM keeps working for a few milliseconds after its answer has gone
    (about 0.3-0.5 ms of CPU, read from its threads' schedstat) and takes
    ~20 ms of CPU per request, most of the caches with it. Interleaved,
    that lands inside the next contender's request: with LiteLLM in the
    rotation the bare proxy's own added TTFB went from 0.46 to 0.65-0.72 ms
    (same run, same servers). Its block runs after the others, in the same
    run, against the same fake."""
    quiet = [t for t in targets if not t["name"].startswith("litellm/")]
    alone = [t for t in targets if t["name"].startswith("litellm/")]
    merged: dict[str, Any] = {"samples": {}, "errors": {}, "first_error": {}}
    for group in (quiet, alone):
        if not group:
            continue
        raw = run_loadgen({"kind": kind, "targets": group, "warmup": warmup, "requests": requests})
        for key in merged:
            merged[key].update(raw[key])
    return merged


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def fake_control(fleet: Fleet, method: str, path: str, body: Any = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        fleet.servers["fake"].url + "/_fake/" + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()


def warden_recorder(fleet: Fleet) -> dict[str, float] | None:
    """Warden's recorder counters from /metrics (events written, dropped), if it runs."""
    server = fleet.servers.get("warden")
    if server is None:
        return None
    try:
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name.startswith("warden_recorder_"):
            with contextlib.suppress(ValueError):
                out[name.removeprefix("warden_recorder_").removesuffix("_total")] = float(value)
    return out


def recorder_delta(
    before: dict[str, float] | None, after: dict[str, float] | None
) -> dict[str, float] | None:
    if before is None or after is None:
        return None
    return {k: v - before.get(k, 0.0) for k, v in after.items()}


def phase_latency(fleet: Fleet, contenders: list[str], p: Params) -> dict[str, Any]:
    targets = all_targets(fleet, contenders)
    log(f"latency: {p.latency_requests} sequential requests to each of {len(targets)} targets")
    raw = run_sequential("latency", targets, p.latency_warmup, p.latency_requests)
    fake_control(fleet, "DELETE", "requests")
    out: dict[str, Any] = {}
    for name, samples in raw["samples"].items():
        out[name] = {
            "n": len(samples),
            "errors": raw["errors"][name],
            "p50_ms": percentile(samples, 50),
            "p99_ms": percentile(samples, 99),
            "mean_ms": statistics.fmean(samples) if samples else float("nan"),
            "first_error": raw["first_error"].get(name),
        }
    add_deltas(out, "p50_ms", "p99_ms")
    return out


def phase_ttfb(fleet: Fleet, contenders: list[str], p: Params) -> dict[str, Any]:
    targets = all_targets(fleet, contenders, stream=True)
    log(f"ttfb: {p.ttfb_requests} sequential streams to each of {len(targets)} targets")
    raw = run_sequential("ttfb", targets, p.ttfb_warmup, p.ttfb_requests)
    fake_control(fleet, "DELETE", "requests")
    out: dict[str, Any] = {}
    for name, samples in raw["samples"].items():
        headers = [s[0] for s in samples]
        content = [s[1] for s in samples]
        total = [s[2] for s in samples]
        out[name] = {
            "n": len(samples),
            "errors": raw["errors"][name],
            "headers_p50_ms": percentile(headers, 50),
            "p50_ms": percentile(content, 50),
            "p99_ms": percentile(content, 99),
            "total_p50_ms": percentile(total, 50),
            "first_error": raw["first_error"].get(name),
        }
    add_deltas(out, "p50_ms", "p99_ms", "total_p50_ms")
    return out


def add_deltas(results: dict[str, Any], *keys: str) -> None:
    for name, row in results.items():
        api = name.split("/")[1]
        direct = results.get(f"direct/{api}")
        for key in keys:
            added = "added_" + key
            row[added] = row[key] - direct[key] if direct and direct["n"] else None


def phase_throughput(fleet: Fleet, contenders: list[str], p: Params) -> dict[str, Any]:
    targets = all_targets(fleet, contenders)
    runs: dict[str, list[dict[str, Any]]] = {t["name"]: [] for t in targets}
    fake_pid = fleet.servers["fake"].pid
    for round_no in range(p.rounds):
        shift = round_no % len(targets)
        for t in targets[shift:] + targets[:shift]:
            contender = t["name"].split("/")[0]
            watch = [fake_pid]
            if contender != "direct":
                watch.insert(0, fleet.servers[contender].pid)
            log(f"throughput: {t['name']} round {round_no + 1}/{p.rounds}")
            result = run_loadgen(
                {
                    "kind": "throughput",
                    "target": t,
                    "concurrency": p.concurrency,
                    "warmup_s": p.warmup_s,
                    "duration_s": p.duration_s,
                    "watch_pids": watch,
                }
            )
            cpu = result.pop("cpu_s")
            result["fake_cpu_s"] = cpu[str(fake_pid)]
            result["proxy_cpu_s"] = None if contender == "direct" else cpu[str(watch[0])]
            runs[t["name"]].append(result)
            fake_control(fleet, "DELETE", "requests")
    out: dict[str, Any] = {}
    for name, rs in runs.items():
        requests = sum(r["requests"] for r in rs)
        elapsed = sum(r["elapsed_s"] for r in rs)
        proxy_cpu = None if rs[0]["proxy_cpu_s"] is None else sum(r["proxy_cpu_s"] for r in rs)
        out[name] = {
            "rps": statistics.median(r["rps"] for r in rs),
            "rps_runs": [r["rps"] for r in rs],
            "requests": requests,
            "errors": sum(r["errors"] for r in rs),
            "proxy_cpu_s": proxy_cpu,
            "proxy_cores": None if proxy_cpu is None else proxy_cpu / elapsed,
            "proxy_cpu_ms_per_request": (
                None if proxy_cpu is None or not requests else proxy_cpu * 1000 / requests
            ),
            "fake_cpu_s": sum(r["fake_cpu_s"] for r in rs),
            "loadgen_cpu_s": sum(r["loadgen_cpu_s"] for r in rs),
            "first_error": next((r["first_error"] for r in rs if r["first_error"]), None),
        }
    for name, row in out.items():
        api = name.split("/")[1]
        bare = out.get(f"bare/{api}")
        litellm = out.get("litellm/openai")
        row["vs_bare"] = row["rps"] / bare["rps"] if bare and bare["rps"] else None
        row["vs_litellm"] = (
            row["rps"] / litellm["rps"] if litellm and litellm["rps"] and api == "openai" else None
        )
        norec = out.get(f"warden-norec/{api}")
        row["vs_no_recording"] = (
            row["rps"] / norec["rps"]
            if norec and norec["rps"] and name.startswith("warden/")
            else None
        )
        # The same ratio round by round (both ran in each round, close together).
        row["vs_no_recording_rounds"] = (
            [
                on / off if off else None
                for on, off in zip(row["rps_runs"], norec["rps_runs"], strict=True)
            ]
            if row["vs_no_recording"] is not None and norec
            else None
        )
    return out


def phase_streams(fleet: Fleet, contenders: list[str], p: Params) -> dict[str, Any]:
    """Each proxy restarted first, so that every route starts from a fresh process."""
    out: dict[str, Any] = {}
    for first in all_targets(fleet, [c for c in contenders if c != "direct"], paced=True):
        contender = first["name"].split("/")[0]
        log(f"streams: restarting {contender}")
        restart(fleet, contender)
        t = target(fleet, contender, first["api"], stream=True, paced=True)
        if t is None:
            log(f"streams: {contender} did not come back: {fleet.skipped.get(contender)}")
            continue
        dialect = "anthropic" if t["api"] == "anthropic" else "openai-chat"
        reply = {
            "blocks": [{"type": "text", "text": PACED_TEXT}],
            "failure": None,
            "match": {"dialect": dialect, "model_contains": "paced", "has_tools": None},
            "delay": p.paced_delay_s,
        }
        fake_control(fleet, "DELETE", "script")
        fake_control(fleet, "POST", "script", {"replies": [reply] * p.streams})
        log(f"streams: {p.streams} open streams through {t['name']}")
        result = run_loadgen(
            {
                "kind": "streams",
                "target": t,
                "count": p.streams,
                "open_parallel": p.open_parallel,
                "hold_s": p.hold_s,
                "deadline_s": p.open_deadline_s,
                "watch_pid": fleet.servers[contender].pid,
            }
        )
        fake_control(fleet, "DELETE", "script")
        time.sleep(2)  # let the proxy and the fake notice the dropped streams
        fake_control(fleet, "DELETE", "requests")
        if contender == "warden":
            result["warden_recorder"] = warden_recorder(fleet)
        result["peak_rss_mb"] = result["peak_rss_kb"] / 1024
        result["idle_rss_mb"] = result["idle_rss_kb"] / 1024
        opened = max(1, result["open_at_peak_rss"])
        result["kb_per_stream"] = (result["peak_rss_kb"] - result["idle_rss_kb"]) / opened
        out[t["name"]] = result
    return out


# --- report ---


DASH = "\u2013"  # an en dash: "nothing measured"
TIMES = "\u00d7"


def fmt(value: Any, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return DASH
    if isinstance(value, float):
        if value != value:  # NaN
            return DASH
        return f"{value:.{digits}f}{suffix}"
    return f"{value}{suffix}"


def check(ok: bool | None) -> str:
    return DASH if ok is None else ("✅" if ok else "❌")


def evaluate(results: dict[str, Any], p: Params) -> list[dict[str, Any]]:
    """Warden's numbers against the targets (the memory one holds only if all streams opened)."""
    rows = []
    latency = results.get("latency", {})
    ttfb = results.get("ttfb", {})
    tput = results.get("throughput", {})
    streams = results.get("streams", {})
    for api in ("openai", "anthropic"):
        name = f"warden/{api}"

        def get(table: dict[str, Any], key: str, name: str = name) -> Any:
            row = table.get(name)
            return None if row is None else row.get(key)

        checks = [
            ("added latency p50 (ms)", "≤ 1", get(latency, "added_p50_ms"), "le", 1.0),
            ("added latency p99 (ms)", "≤ 5", get(latency, "added_p99_ms"), "le", 5.0),
            ("stream TTFB overhead p50 (ms)", "≤ 1", get(ttfb, "added_p50_ms"), "le", 1.0),
            ("req/s vs bare proxy", f"≥ 0.60{TIMES}", get(tput, "vs_bare"), "ge", 0.60),
            ("req/s vs LiteLLM", f"≥ 20{TIMES}", get(tput, "vs_litellm"), "ge", 20.0),
            (
                "req/s with recording vs without",
                f"≥ 0.90{TIMES}",
                get(tput, "vs_no_recording"),
                "ge",
                0.90,
            ),
            (
                f"{p.streams:,} open streams, peak RSS (MB)",
                "≤ 200",
                get(streams, "peak_rss_mb"),
                "le",
                200,
            ),
        ]
        for metric, text, value, op, bound in checks:
            ok = None if value is None else (value <= bound if op == "le" else value >= bound)
            if ok and "open streams" in metric and not get(streams, "all_open"):
                ok = False
            rows.append(
                {"route": name, "metric": metric, "target": text, "value": value, "met": ok}
            )
    return rows


def markdown(report: dict[str, Any]) -> str:
    p = report["params"]
    r = report["results"]
    lines = ["## Gateway overhead (`benchmarks/bench_gateway.py`)", ""]
    lines.append(
        "Same fake upstream (`tests.fakes.provider`, one process) and the same requests for "
        "every contender: **direct** to the fake, **bare** (`benchmarks/bare_proxy.py`, an "
        "aiohttp pass-through on uvloop: the floor for this stack), **warden** "
        "(`warden serve -c examples/quickstart.yaml`, default policy) and **litellm** "
        f"(LiteLLM {report['litellm_version'] or '?'} proxy, one worker, no database; "
        "OpenAI route only). The load generator is its own process. "
        "All processes share the machine's cores, so absolute numbers move with load on "
        "the machine; the contenders are interleaved so they share the noise. In the "
        "sequential phases LiteLLM runs in a block of its own after the others: it keeps "
        "working for a few milliseconds after each answer, and interleaved, that work landed "
        "inside the next contender's request (the bare proxy's own added TTFB rose from "
        "0.46 to 0.65-0.72 ms with LiteLLM in the rotation)."
    )
    if report["quick"]:
        lines += ["", "**Quick run (`--quick`): small counts, indicative only.**"]
    for contender, reason in report["skipped"].items():
        lines += ["", f"- **{contender}: not run**: {reason}"]
    lines += [
        "",
        "### Targets (Warden)",
        "",
        "| route | metric | target | measured | met |",
        "|---|---|---|---|---|",
    ]
    for row in report["targets"]:
        lines.append(
            f"| {row['route']} | {row['metric']} | {row['target']} | {fmt(row['value'])} "
            f"| {check(row['met'])} |"
        )
    if "latency" in r:
        lines += [
            "",
            f"### Non-streamed latency at low load ({p['latency_requests']} sequential requests "
            f"each after {p['latency_warmup']} warm-up, interleaved; LiteLLM in its own block)",
            "",
            "| contender | p50 ms | p99 ms | added p50 ms | added p99 ms | errors |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in r["latency"].items():
            lines.append(
                f"| {name} | {fmt(row['p50_ms'])} | {fmt(row['p99_ms'])} "
                f"| {fmt(row['added_p50_ms'])} | {fmt(row['added_p99_ms'])} | {row['errors']} |"
            )
    if "ttfb" in r:
        lines += [
            "",
            f"### Streams: time to first content event ({p['ttfb_requests']} sequential streams "
            "each, interleaved; LiteLLM in its own block)",
            "",
            "| contender | headers p50 ms | first content p50 ms | p99 ms | added p50 ms "
            "| added p99 ms | whole stream p50 ms | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, row in r["ttfb"].items():
            lines.append(
                f"| {name} | {fmt(row['headers_p50_ms'])} | {fmt(row['p50_ms'])} "
                f"| {fmt(row['p99_ms'])} | {fmt(row['added_p50_ms'])} "
                f"| {fmt(row['added_p99_ms'])} | {fmt(row['total_p50_ms'])} | {row['errors']} |"
            )
    if "throughput" in r:
        lines += [
            "",
            f"### Throughput at concurrency {p['concurrency']} ({p['rounds']} {TIMES} "
            f"{p['duration_s']:g} s per contender after {p['warmup_s']:g} s warm-up, "
            "median of rounds)",
            "",
            "| contender | req/s | vs bare | vs LiteLLM | proxy CPU s | proxy cores busy "
            "| proxy CPU ms/req | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, row in r["throughput"].items():
            lines.append(
                f"| {name} | {fmt(row['rps'], 0)} | {fmt(row['vs_bare'], 2, TIMES)} "
                f"| {fmt(row['vs_litellm'], 1, TIMES)} | {fmt(row['proxy_cpu_s'])} "
                f"| {fmt(row['proxy_cores'])} | {fmt(row['proxy_cpu_ms_per_request'], 3)} "
                f"| {row['errors']} |"
            )
        for name, row in r["throughput"].items():
            if row.get("vs_no_recording_rounds"):
                rounds = ", ".join(fmt(x, 2) for x in row["vs_no_recording_rounds"])
                lines += [
                    "",
                    f"{name}, recording on vs off round by round: {rounds}.",
                ]
    if "streams" in r:
        lines += [
            "",
            f"### {p['streams']:,} concurrent open streams (paced upstream, one event per "
            f"{p['paced_delay_s']:g} s)",
            "",
            "| contender | open at peak | seconds to open all | idle RSS MB | peak RSS MB "
            "| KB per stream | errors |",
            "|---|---|---|---|---|---|---|",
        ]
        short = [n for n, row in r["streams"].items() if not row["all_open"]]
        for name, row in r["streams"].items():
            lines.append(
                f"| {name} | {row['open_at_peak_rss']}/{row['requested']} "
                f"| {fmt(row['seconds_to_open'], 1)} | {fmt(row['idle_rss_mb'], 1)} "
                f"| {fmt(row['peak_rss_mb'], 1)} | {fmt(row['kb_per_stream'], 1)} "
                f"| {row['errors']} |"
            )
        if short:
            lines += [
                "",
                f"Not every stream was open at once within {p['open_deadline_s']:g} s for: "
                f"{', '.join(short)}; their peak is for the streams shown open (the proxy "
                "could not keep up with opening streams while relaying the open ones).",
            ]
    notes = [
        f"- {phase} {name}: {row['errors']} errors, the first: `{row['first_error']}`"
        for phase, table in r.items()
        for name, row in table.items()
        if row.get("errors") and row.get("first_error")
    ]
    if notes:
        lines += ["", "Errors:", "", *notes]
    counts = dict(report.get("warden_recorder") or {})
    for name, row in r.get("streams", {}).items():
        if row.get("warden_recorder"):
            counts[f"streams {name}"] = row["warden_recorder"]
    counts = {k: v for k, v in counts.items() if v}
    if counts:
        lines += [
            "",
            "Warden's recorder (audit events written and dropped, from its `/metrics`): "
            + "; ".join(
                f"{phase}: {v.get('written', 0):,.0f} written, {v.get('dropped', 0):,.0f} dropped"
                for phase, v in counts.items()
            )
            + ".",
        ]
    lines.append("")
    return "\n".join(lines)


# --- main ---


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < 4096:
        log(f"warning: the file-descriptor limit is {wanted}; 1,000 streams need ~3,000")


def litellm_version() -> str | None:
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        return None
    done = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


@contextlib.contextmanager
def fleet_of(contenders: list[str], workdir: Path) -> Iterator[Fleet]:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    fleet = Fleet(workdir)
    try:
        fake = start_fake(fleet)
        for contender in contenders:
            if contender in STARTERS:
                log(f"starting {contender}")
                STARTERS[contender](fleet, fake.url)
                if contender in fleet.skipped:
                    log(f"{contender} not run: {fleet.skipped[contender]}")
        yield fleet
    finally:
        log("stopping servers")
        fleet.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--only",
        default=",".join(CONTENDERS),
        help=f"comma-separated contenders (default: {','.join(CONTENDERS)})",
    )
    parser.add_argument(
        "--phases",
        default="latency,ttfb,throughput,streams",
        help="comma-separated phases (default: all)",
    )
    parser.add_argument("--out-json", type=Path, help="write every number here")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=WORK / "gateway",
        help="servers' configs and logs; emptied first, kept after (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    contenders = [c for c in CONTENDERS if c in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    if "direct" not in contenders:
        contenders.insert(0, "direct")  # every "added" figure needs it
    phases = args.phases.split(",")
    params = QUICK if args.quick else FULL
    raise_fd_limit()
    started = time.time()
    results: dict[str, Any] = {}
    with fleet_of(contenders, args.workdir) as fleet:
        runners = {
            "latency": phase_latency,
            "ttfb": phase_ttfb,
            "throughput": phase_throughput,
            "streams": phase_streams,
        }
        recorder: dict[str, Any] = {}
        for phase in phases:
            before = warden_recorder(fleet)
            results[phase] = runners[phase](fleet, contenders, params)
            if phase != "streams":  # the streams phase restarts Warden: it reports its own
                recorder[phase] = recorder_delta(before, warden_recorder(fleet))
        skipped = dict(fleet.skipped)
    report: dict[str, Any] = {
        "benchmark": "gateway",
        "quick": args.quick,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "litellm_version": litellm_version() if "litellm" in contenders else None,
        "contenders": contenders,
        "skipped": skipped,
        "params": asdict(params),
        "results": results,
        "warden_recorder": recorder,
    }
    report["targets"] = evaluate(results, params)
    if args.out_json:
        args.out_json.parent.mkdir(parents=True, exist_ok=True)
        args.out_json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
