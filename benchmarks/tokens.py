"""Token fetches when P task processes on one machine send M messages each, sharing the file cache."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from benchmarks.sandbox_proc import sandbox_process

WORKER_TIMEOUT_S = 300


def _wait_until_ready(directory: str, processes: int, workers: list[subprocess.Popen]) -> None:
    """Barrier: every process has imported the hook before any of them sends."""
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    while sum(".ready." in name for name in os.listdir(directory)) < processes:
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise RuntimeError("token benchmark workers did not get ready")
        time.sleep(0.05)


@dataclass(frozen=True)
class TokenSharing:
    processes: int
    sends: int
    token_calls: int
    token_concurrent_max: int
    messages_delivered: int


def measure(processes: int, sends: int) -> TokenSharing:
    """Own sandbox with its default token delay, so concurrent fetches would overlap and be counted."""
    with sandbox_process() as sandbox, tempfile.TemporaryDirectory(prefix="fxiaoke-bench-tok-") as tmp:
        env = dict(os.environ, AIRFLOW_CONN_FXIAOKE_BENCH=sandbox.connection_json(os.path.join(tmp, "cache")))
        go_file = os.path.join(tmp, "go")
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.token_worker", go_file, str(sends)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(processes)
        ]
        try:
            _wait_until_ready(tmp, processes, workers)
            open(go_file, "w").close()
            codes = [worker.wait(timeout=WORKER_TIMEOUT_S) for worker in workers]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
        if any(codes):
            raise RuntimeError(f"token benchmark workers failed: exit codes {codes}")
        stats = sandbox.stats()
    return TokenSharing(
        processes=processes,
        sends=sends,
        token_calls=stats["token_calls"],
        token_concurrent_max=stats["token_concurrent_max"],
        messages_delivered=stats["messages_delivered"],
    )
