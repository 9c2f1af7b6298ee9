"""``bash scripts/bench.sh``: what the provider costs, as ratios against a baseline measured in the same run.

Behaviour is asserted by the tests; this only measures. Every figure is compared with something the
same machine did in the same minute (a bare ``requests.Session`` posting the same bodies, the
gateway's own rate limit, one token per process, Airflow's base import), so the ratios travel
between machines even where the absolute numbers do not. The sandbox gateway runs in its own
process, so its work never counts as the client's CPU. Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support import ROOT, TEXT, USER_ID, conn_env, connection_dict

BENCH_CONN_ID = "fxiaoke_bench"
READY_TIMEOUT_S = 120.0
PROC_SEND = ROOT / "tests" / "proc_send.py"


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the sandbox in its own process -------------------------------------------------------------
@dataclass(frozen=True)
class Sandbox:
    url: str

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/__sandbox__/stats", timeout=30) as answer:  # loopback
            return json.load(answer)


@contextlib.contextmanager
def sandbox_process(*args: str) -> Iterator[Sandbox]:
    """``python -m fxiaoke_provider.sandbox`` on a free loopback port, stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="fxiaoke-bench-") as tmp:
        ready = Path(tmp) / "ready"
        command = [sys.executable, "-m", "fxiaoke_provider.sandbox", "--port", "0", "--quiet"]
        process = subprocess.Popen([*command, "--ready-file", str(ready), *args], stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start")
                time.sleep(0.05)
            yield Sandbox(ready.read_text().strip())
        finally:
            process.terminate()
            process.wait(timeout=10)


@contextlib.contextmanager
def bench_connection(sandbox: Sandbox, tmp: Path, **extra: object) -> Iterator[None]:
    """``AIRFLOW_CONN_FXIAOKE_BENCH`` for hooks in this process; client pacing off unless given."""
    env = conn_env(BENCH_CONN_ID, connection_dict(sandbox, tmp, **{"rate_limit_calls": 0, **extra}))
    os.environ.update(env)
    try:
        yield
    finally:
        for key in env:
            os.environ.pop(key, None)


def new_hook():
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    return FxiaokeHook(BENCH_CONN_ID)


def bare_poster(sandbox: Sandbox, hook) -> Callable[[dict], None]:
    """What a hand-written client minimally does per request, on the hook's own token and body shape."""
    import requests

    from fxiaoke_provider.gateway import protocol
    from fxiaoke_provider.messaging import wire

    token = hook.get_token()
    session = requests.Session()
    url = sandbox.url + wire.SERVICE_MESSAGE_SEND_PATH
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        protocol.HEADER_AUTHORIZATION: protocol.BEARER_PREFIX + token.value,
        protocol.HEADER_EA: token.tenant,
        protocol.HEADER_USER_ID: USER_ID,
    }

    def post(body: dict) -> None:
        answer = session.post(
            url,
            params={protocol.TRACE_QUERY_PARAM: str(uuid.uuid4())},
            data=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            headers=headers,
            timeout=30,
            allow_redirects=False,
        )
        if answer.json()["errorCode"] != protocol.SUCCESS:
            raise RuntimeError(f"bare send refused: {answer.text[:200]}")

    return post


def bodies_for(recipients: list[str]) -> list[dict]:
    from fxiaoke_provider.messaging import bodies, wire
    from tests.support import SERVICE_ID

    fields = bodies.build_message_fields("text", TEXT)
    return [
        {wire.TO_USER_FIELD: chunk, **fields, wire.SERVICE_ID_FIELD: SERVICE_ID}
        for chunk in bodies.batches(recipients)
    ]


# --- measurements -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    measure: str
    provider: str
    baseline: str
    ratio: float
    reads: str  # how to read the ratio


def timed(action: Callable[[], None], repeat: int = 1) -> tuple[float, float]:
    """Wall and CPU seconds of ``repeat`` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        action()
    return time.perf_counter() - wall, time.process_time() - cpu


def throughput(sandbox: Sandbox, rounds: int, per_round: int) -> list[Row]:
    """Hook and bare client alternate (neither always first); medians of the per-round figures."""
    hook = new_hook()
    post = bare_poster(sandbox, hook)
    body = bodies_for([USER_ID])[0]
    sides = {"hook": lambda: hook.send_message([USER_ID], TEXT), "bare": lambda: post(body)}
    for action in sides.values():
        timed(action, 20)  # connections open, caches warm
    figures: dict[str, list[tuple[float, float]]] = {"hook": [], "bare": []}
    for index in range(rounds):
        for name in sorted(sides, reverse=bool(index % 2)):
            wall, cpu = timed(sides[name], per_round)
            figures[name].append((per_round / wall, cpu / per_round * 1e6))
    rate = {name: statistics.median(f[0] for f in rows) for name, rows in figures.items()}
    cpu = {name: statistics.median(f[1] for f in rows) for name, rows in figures.items()}
    return [
        Row(
            "send throughput, 1 recipient",
            f"{rate['hook']:.0f} msg/s",
            f"{rate['bare']:.0f} msg/s",
            rate["hook"] / rate["bare"],
            "1.0 = as fast as bare requests",
        ),
        Row(
            "client CPU per message",
            f"{cpu['hook']:.0f} us",
            f"{cpu['bare']:.0f} us",
            cpu["hook"] / cpu["bare"],
            "1.0 = no CPU beyond bare requests",
        ),
    ]


def fan_out(sandbox: Sandbox, recipients: int) -> list[Row]:
    """One send to ``recipients`` people vs the bare client posting the same 500-id bodies.

    Time is measured without tracing; peak memory in a second send under ``tracemalloc``.
    """
    hook = new_hook()
    post = bare_poster(sandbox, hook)
    ids = [str(100_000 + i) for i in range(recipients)]
    sides = {
        "hook": lambda: hook.send_message(ids, TEXT),
        "bare": lambda: [post(body) for body in bodies_for(ids)],
    }
    wall, peak = {}, {}
    for name, action in sides.items():
        action()  # warm
        wall[name] = statistics.median(timed(action)[0] for _ in range(3))
        tracemalloc.start()
        try:
            action()
            peak[name] = tracemalloc.get_traced_memory()[1] / 1024
        finally:
            tracemalloc.stop()
    label = f"fan-out to {recipients:,} ({math.ceil(recipients / 500)} requests)"
    return [
        Row(
            f"{label}: time",
            f"{wall['hook'] * 1e3:.0f} ms",
            f"{wall['bare'] * 1e3:.0f} ms",
            wall["hook"] / wall["bare"],
            "1.0 = as fast as bare requests",
        ),
        Row(
            f"{label}: peak memory",
            f"{peak['hook']:.0f} KiB",
            f"{peak['bare']:.0f} KiB",
            peak["hook"] / peak["bare"],
            "1.0 = no memory beyond bare requests",
        ),
    ]


def paced_delivery(requests_n: int, calls: int, window_s: float, tmp: Path) -> list[Row]:
    """N requests through one hook against a gateway enforcing ``calls`` per ``window_s`` (the real one:
    100 per 20 s, scaled down so it runs in seconds). The floor: request ``k*calls + 1`` cannot start
    before ``k`` windows have passed."""
    limit = ("--rate-limit-calls", str(calls), "--rate-limit-window", str(window_s), "--token-delay", "0")
    paced = {"rate_limit_calls": calls, "rate_limit_window": window_s}
    with sandbox_process(*limit) as sandbox, bench_connection(sandbox, tmp, **paced):
        hook = new_hook()
        hook.get_token()
        wall, _ = timed(lambda: [hook.send_message([USER_ID], TEXT) for _ in range(requests_n)])
        refused = sandbox.stats()["error_codes"].get("30004", 0)
    floor = (requests_n - 1) // calls * window_s
    return [
        Row(
            f"{requests_n} requests under {calls} per {window_s:g} s ({refused} x 30004)",
            f"{wall:.2f} s",
            f"limit allows {floor:.2f} s",
            floor / wall,
            "1.0 = as fast as the limit allows",
        ),
    ]


def token_calls(processes: int, sends: int, tmp: Path) -> list[Row]:
    """P task processes (``tests/proc_send.py``) send M messages each, starting together."""
    with sandbox_process() as sandbox:  # the default token delay: overlapping fetches would show
        signal_dir = tmp / "signals"
        signal_dir.mkdir(parents=True)
        env = {**os.environ, **conn_env(BENCH_CONN_ID, connection_dict(sandbox, tmp, rate_limit_calls=0))}
        command = [sys.executable, str(PROC_SEND), str(signal_dir), str(sends)]
        workers = [
            subprocess.Popen([*command, f"p{n}", BENCH_CONN_ID], env=env, stdout=subprocess.DEVNULL)
            for n in range(processes)
        ]
        try:
            deadline = time.monotonic() + 300
            while len(list(signal_dir.glob("ready-*"))) < processes:
                if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                    raise RuntimeError("token benchmark workers did not get ready")
                time.sleep(0.05)
            (signal_dir / "go-0").touch()
            codes = [w.wait(timeout=300) for w in workers]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
        if any(codes):
            raise RuntimeError(f"token benchmark workers failed: exit codes {codes}")
        calls = sandbox.stats()["token_calls"]
    return [
        Row(
            f"token calls for {processes} x {sends} sends",
            str(calls),
            f"{processes} (one per process)",
            calls / processes,
            "lower is better; 1/P = one per machine",
        ),
    ]


IMPORT_CHILD = """
import json, time
w0 = time.perf_counter()
from airflow.sdk import BaseOperator, BaseNotifier
w1 = time.perf_counter()
import fxiaoke_provider.operators.fxiaoke, fxiaoke_provider.notifications.fxiaoke
w2 = time.perf_counter()
print(json.dumps({"base": w1 - w0, "total": w2 - w0}))
"""


def import_cost(runs: int) -> list[Row]:
    """Fresh interpreters (as the DAG processor uses), bytecode cached in a private directory."""
    with tempfile.TemporaryDirectory(prefix="fxiaoke-bench-pyc-") as pyc:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPYCACHEPREFIX=pyc, PYTHONWARNINGS="ignore")
        samples = []
        for index in range(runs + 1):
            out = subprocess.run(
                [sys.executable, "-c", IMPORT_CHILD], env=env, check=True, capture_output=True, text=True
            ).stdout
            if index:  # the first run only compiles bytecode
                samples.append(json.loads(out.strip().splitlines()[-1]))
    base = statistics.median(s["base"] for s in samples)
    total = statistics.median(s["total"] for s in samples)
    ratio = statistics.median(s["total"] / s["base"] for s in samples)
    return [
        Row(
            "import operator + notifier",
            f"{total * 1e3:.0f} ms",
            f"Airflow base {base * 1e3:.0f} ms",
            ratio,
            "1.0 = free at DAG-parse time",
        ),
    ]


# --- the table ----------------------------------------------------------------------------------
def render(rows: list[Row]) -> str:
    import airflow

    cells = [("Measure", "Provider", "Baseline (same run)", "Ratio", "Reads")]
    cells += [(r.measure, r.provider, r.baseline, f"{r.ratio:.3f}", r.reads) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [
        f"{os.cpu_count()} cores, load {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
        f"Python {platform.python_version()}, Airflow {airflow.__version__}",
        rule,
    ]
    for index, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append(rule)
    lines.append(rule)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating hook / bare rounds")
    parser.add_argument("--per-round", type=int, default=200, help="messages per client per round")
    parser.add_argument("--recipients", type=int, default=5_000, help="fan-out size")
    parser.add_argument("--paced", type=int, default=61, help="requests against the scaled limit")
    parser.add_argument("--limit", type=int, default=20, help="calls per window of the scaled limit")
    parser.add_argument("--window", type=float, default=1.0, help="seconds of the scaled limit's window")
    parser.add_argument("--processes", type=int, default=4, help="task processes sharing one token")
    parser.add_argument("--sends", type=int, default=10, help="messages per process")
    parser.add_argument("--import-runs", type=int, default=10, help="fresh interpreters")
    args = parser.parse_args(argv)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="fxiaoke-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        fast = ("--rate-limit-calls", "0", "--token-delay", "0")
        with sandbox_process(*fast) as sandbox, bench_connection(sandbox, tmp / "fast"):
            progress(f"throughput: {args.rounds} rounds x {args.per_round} messages per client")
            rows += throughput(sandbox, args.rounds, args.per_round)
            progress(f"fan-out to {args.recipients} recipients")
            rows += fan_out(sandbox, args.recipients)
        progress(f"{args.paced} requests against {args.limit} per {args.window:g} s")
        rows += paced_delivery(args.paced, args.limit, args.window, tmp / "paced")
        progress(f"token calls: {args.processes} processes x {args.sends} sends")
        rows += token_calls(args.processes, args.sends, tmp / "tokens")
        progress(f"import cost: {args.import_runs} fresh interpreters")
        rows += import_cost(args.import_runs)
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
