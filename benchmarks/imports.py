"""DAG-parse cost: what importing a provider's operator and notifier adds to Airflow's own base classes.

Every run is a fresh interpreter (the DAG processor re-imports DAG files in new processes). The
child times, with its own clocks, first the Airflow base import and then the provider import on top,
so interpreter start-up is excluded and each run yields its own ratio; scenarios are interleaved
and the median of the per-run ratios is reported, which cancels drift in the machine's load.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass

BASE = "from airflow.sdk import BaseOperator, BaseHook"
HEAVY = ("requests", "urllib3", "tenacity", "httpx", "aiohttp", "slack_sdk", "fxiaoke_provider.hooks.fxiaoke")
SCENARIOS = {
    "fxiaoke": "import fxiaoke_provider.operators.fxiaoke, fxiaoke_provider.notifications.fxiaoke",
    "dingding": "import airflow.providers.dingding.operators.dingding",
    "slack": "import airflow.providers.slack.operators.slack, airflow.providers.slack.notifications.slack",
}
CHILD = """
import json, sys, time
w0, c0 = time.perf_counter(), time.process_time()
{base}
w1, c1 = time.perf_counter(), time.process_time()
before = set(sys.modules)
{provider}
w2, c2 = time.perf_counter(), time.process_time()
heavy = {heavy!r}
print(json.dumps({{"base_wall": w1 - w0, "base_cpu": c1 - c0, "wall": w2 - w0, "cpu": c2 - c0,
    "new_heavy": [m for m in heavy if m in sys.modules and m not in before]}}))
"""


@dataclass(frozen=True)
class ImportCost:
    name: str
    base_ms: float  # median wall time of the base import alone
    total_ms: float  # median wall time of base + provider
    ratio_wall: float  # median of per-run (base + provider) / base, wall clock
    ratio_cpu: float  # the same with the child's CPU time
    new_heavy: tuple[str, ...]
    runs: int


def child_env(cache_dir: str) -> dict[str, str]:
    """Bytecode cached (as in a deployed DAG processor) in a private directory, never the venv."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache_dir
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_once(name: str, env: dict[str, str]) -> dict:
    code = CHILD.format(base=BASE, provider=SCENARIOS[name], heavy=HEAVY)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(runs: int, cache_dir: str | None = None) -> list[ImportCost]:
    with tempfile.TemporaryDirectory(prefix="fxiaoke-bench-pyc-") as tmp:
        env = child_env(cache_dir or tmp)
        for name in SCENARIOS:  # warm-up: compile bytecode, fill the OS page cache
            run_once(name, env)
        samples: dict[str, list[dict]] = {name: [] for name in SCENARIOS}
        order = list(SCENARIOS)
        for _ in range(runs):
            random.shuffle(order)
            for name in order:
                samples[name].append(run_once(name, env))
    results = []
    for name, rows in samples.items():
        results.append(
            ImportCost(
                name=name,
                base_ms=statistics.median(r["base_wall"] for r in rows) * 1e3,
                total_ms=statistics.median(r["wall"] for r in rows) * 1e3,
                ratio_wall=statistics.median(r["wall"] / r["base_wall"] for r in rows),
                ratio_cpu=statistics.median(r["cpu"] / r["base_cpu"] for r in rows),
                new_heavy=tuple(sorted({m for r in rows for m in r["new_heavy"]})),
                runs=len(rows),
            )
        )
    return results
