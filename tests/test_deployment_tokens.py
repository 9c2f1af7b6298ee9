"""Many new workers at once: each delivers, and with ``token_cache: airflow`` they share one token.

Workers are threads, each with its own hook and its own token directory ("its own disk", as one
pod per task has). Their waits are injected: each worker has its own clock, and the sandbox's clock
follows the furthest of them, so a 60 s token window passes in milliseconds yet in order. The same
crowd then runs as real processes in real time (slow), against both kinds of limiter: one that
counts only accepted token calls and one that counts refused calls too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fxiaoke_provider.airflow_support.token_store import TOKEN_VARIABLE_PREFIX
from fxiaoke_provider.gateway.retry import TOKEN_PATIENCE_S
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.sandbox import SandboxGateway
from tests.support import connection_dict, run_send_processes

#: Both kinds of limiter at the token endpoint: refused calls left out of the window, or counted.
LIMITERS = pytest.mark.parametrize("count_refused", [False, True], ids=["accepted-only", "refused-count"])
WORKERS = 12  # two more than the token endpoint's 10 calls a minute


class SharedTimeline:
    """Per-worker fake clocks; the sandbox is advanced to the latest of them.

    No clock moves before every worker of the crowd has made its first token call: they start at
    the same moment, so a worker whose thread happens to start late must not find a window that
    another worker's wait has already slid.
    """

    def __init__(self, gateway: SandboxGateway, crowd: int) -> None:
        self.gateway = gateway
        self.crowd = crowd
        self.sandbox_at = 0.0
        self._lock = threading.Lock()

    def _all_started(self) -> None:
        deadline = time.monotonic() + 30
        while self.gateway.stats()["token_calls"] < self.crowd and time.monotonic() < deadline:
            time.sleep(0.002)

    def worker(self) -> tuple[Callable[[], float], Callable[[float], None], list[float]]:
        local = [0.0]

        def sleep(seconds: float) -> None:
            self._all_started()
            local[0] += seconds
            with self._lock:
                if local[0] > self.sandbox_at:
                    self.gateway.advance_clock(local[0] - self.sandbox_at)
                    self.sandbox_at = local[0]
            time.sleep(0.001)

        return lambda: local[0], sleep, local


def start_workers(
    gateway, tmp_path: Path, monkeypatch, count: int, fake_time: bool = True, **extra
) -> tuple[list, list]:
    """``count`` workers sending one alert each at the same moment; returns (errors, elapsed clocks)."""
    timeline = SharedTimeline(gateway, count)
    hooks, clocks = [], []
    for n in range(count):
        conn = connection_dict(gateway, tmp_path, token_cache_dir=str(tmp_path / f"disk-{n}"), **extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_FX_W{n}", json.dumps(conn))
        clock, sleep, local = timeline.worker() if fake_time else (time.time, time.sleep, [0.0])
        hook = FxiaokeHook(f"fx_w{n}", sleep=sleep, clock=clock)
        _ = hook.config
        hooks.append(hook)
        clocks.append(local)
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def work(hook: FxiaokeHook, n: int) -> None:
        barrier.wait()
        try:
            hook.send_message([str(3000 + n)], f"alert {n}")
        except BaseException as error:  # collected: the assertion shows which and why
            errors.append(error)

    threads = [threading.Thread(target=work, args=(hook, n)) for n, hook in enumerate(hooks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors, [local[0] for local in clocks]


def assert_the_crowd_waited_out_the_window(stats: dict) -> None:
    """All delivered, and each of the 2 refused workers asked exactly once more.

    Under either limiter a retry before the window had room would have been refused again (and,
    counted, would have kept the window full), so one refusal per surplus worker is the proof that
    they waited the window out, whatever the machine's load did to the clock.
    """
    assert stats["messages_delivered"] == WORKERS
    assert stats["token_calls_ok"] == WORKERS
    assert stats["token_calls"] - stats["token_calls_ok"] == WORKERS - 10


@LIMITERS
def test_twelve_new_workers_with_their_own_disks_all_deliver(tmp_path, monkeypatch, count_refused):
    """10 token calls a minute, 12 workers: the 2 refused ones wait out the window, then deliver."""
    with SandboxGateway(port=0, token_delay_s=0.0, count_refused_token_calls=count_refused) as gateway:
        errors, elapsed = start_workers(gateway, tmp_path, monkeypatch, WORKERS)
        stats = gateway.stats()
    assert errors == []
    assert_the_crowd_waited_out_the_window(stats)
    assert max(elapsed) <= TOKEN_PATIENCE_S


@pytest.mark.slow
@LIMITERS
def test_twelve_new_worker_processes_all_deliver_within_90_seconds(tmp_path, count_refused):
    """The same crowd as real processes in real time: 12 at once, each with its own token directory."""
    with SandboxGateway(port=0, count_refused_token_calls=count_refused) as gateway:
        conns = [
            connection_dict(gateway, tmp_path, token_cache_dir=str(tmp_path / f"disk-{n}"))
            for n in range(WORKERS)
        ]
        results = run_send_processes(conns, tmp_path / "signals")
        stats = gateway.stats()
    slowest = max(result["elapsed_s"][0] for result in results)
    refused = stats["token_calls"] - stats["token_calls_ok"]
    print(
        f"\n[new-workers] {WORKERS} processes, own disks, token endpoint 10/min, "
        f"{'refused calls counted' if count_refused else 'accepted calls counted'}: "
        f"{stats['messages_delivered']}/{WORKERS} delivered; token calls {stats['token_calls']}, "
        f"refused {refused}; slowest {slowest:.1f}s"
    )
    assert_the_crowd_waited_out_the_window(stats)
    assert slowest <= 90.0


def test_eight_workers_with_token_cache_airflow_make_one_token_call(tmp_path, monkeypatch):
    """Own disks, one metadata DB: the token is fetched once and read from the Variable by the rest."""
    from fxiaoke_provider.airflow_support.token_store import AirflowVariables

    with SandboxGateway(port=0, token_delay_s=0.2) as gateway:
        try:
            errors, _elapsed = start_workers(
                gateway, tmp_path, monkeypatch, 8, fake_time=False, token_cache="airflow"
            )
            stats = gateway.stats()
        finally:
            for key in ("fx_w0",):
                hook = FxiaokeHook(key)
                AirflowVariables().delete(TOKEN_VARIABLE_PREFIX + hook.client.cache_key)
    assert errors == []
    assert stats["messages_delivered"] == 8
    assert stats["token_calls"] <= 2
    assert stats["token_concurrent_max"] == 1
