"""Round trips per operator run with a cached token, and fan-out scaling (requests, time, memory)."""

from __future__ import annotations

import math
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

from benchmarks.sandbox_proc import SandboxProcess
from fxiaoke_provider.protocol import MAX_RECIPIENTS_PER_REQUEST

FANOUT_SIZES = (1, 500, 5_000, 50_000)


class RecordingTI:
    """The part of a task instance ``execute`` touches: it records XCom pushes."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, Any]] = []

    def xcom_push(self, key: str, value: Any, **_kwargs: Any) -> None:
        self.pushed.append((key, value))


@dataclass(frozen=True)
class OperatorRuns:
    runs: int
    requests: int
    token_calls: int
    xcom_pushes: int


@dataclass(frozen=True)
class FanOut:
    recipients: int
    requests: int
    expected_requests: int
    wall_s: float
    peak_kib: float


def operator_runs(sandbox: SandboxProcess, runs: int) -> OperatorRuns:
    """Each run builds a new operator (as each task process does) after one token warm-up."""
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
    from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

    FxiaokeHook("fxiaoke_bench").get_token()  # fills the machine's token file
    before = sandbox.stats()
    pushes = 0
    for i in range(runs):
        operator = FxiaokeSendMessageOperator(
            task_id=f"notify_{i}", fxiaoke_conn_id="fxiaoke_bench", to_users=["1000"], message="Load done."
        )
        ti = RecordingTI()
        operator.execute({"ti": ti})
        pushes += len(ti.pushed)
    after = sandbox.stats()
    return OperatorRuns(
        runs=runs,
        requests=after["requests"] - before["requests"],
        token_calls=after["token_calls"] - before["token_calls"],
        xcom_pushes=pushes,
    )


def fan_out(sandbox: SandboxProcess, sizes: tuple[int, ...] = FANOUT_SIZES) -> list[FanOut]:
    """Time without tracing, then memory in a second send under ``tracemalloc`` (it slows Python down)."""
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    hook = FxiaokeHook("fxiaoke_bench")
    hook.send_message(["1000"], "warm-up")
    results = []
    for size in sizes:
        recipients = [str(1000 + i) for i in range(size)]
        before = sandbox.stats()["requests"]
        start = time.perf_counter()
        hook.send_message(recipients, "Quarterly results are out.")
        wall = time.perf_counter() - start
        requests = sandbox.stats()["requests"] - before
        tracemalloc.start()
        try:
            hook.send_message(recipients, "Quarterly results are out.")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        expected = math.ceil(size / MAX_RECIPIENTS_PER_REQUEST)
        results.append(FanOut(size, requests, expected, wall, peak / 1024))
    return results
