"""Send throughput of ``FxiaokeHook.send_message`` against a bare ``requests`` loop and the sandbox ceiling.

Hook and bare loop alternate in rounds over the same keep-alive setup; each round yields its own
ratio and the median is reported. The ceiling comes from raw ``http.client`` clients (one in this
process, then several in their own processes), so a low ratio cannot hide behind a slow sandbox.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from dataclasses import dataclass

from benchmarks import clients
from benchmarks.sandbox_proc import USER_ID, SandboxProcess


@dataclass(frozen=True)
class Throughput:
    hook: clients.Rate
    bare: clients.Rate
    ratio: float  # median of per-round hook / bare
    raw_single: float
    raw_concurrent: float
    concurrent_clients: int
    rounds: int
    per_round: int


def _median_rate(rates: list[clients.Rate]) -> clients.Rate:
    return clients.Rate(statistics.median(r.per_s for r in rates), statistics.median(r.cpu_us for r in rates))


def concurrent_ceiling(
    sandbox: SandboxProcess, headers: dict, body: dict, workers: int, seconds: float
) -> float:
    """Messages/s the sandbox answers with ``workers`` raw clients in separate processes."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        start = time.time() + 1.0  # every worker is up before the common start
        args = [(sandbox.url, headers, body, start, seconds)] * workers
        return sum(pool.map(clients.raw_worker, args)) / seconds


def measure(sandbox: SandboxProcess, rounds: int, per_round: int, workers: int = 2) -> Throughput:
    import requests

    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    hook = FxiaokeHook("fxiaoke_bench")
    token = hook.get_token()
    headers = clients.auth_headers(token.value, token.tenant, USER_ID)
    body = clients.text_body(USER_ID)
    session = requests.Session()
    send_hook = clients.hook_sender(hook, USER_ID)
    send_bare = clients.bare_sender(session, sandbox.url, headers, body)
    for send in (send_hook, send_bare):  # connections open, caches warm
        clients.timed(send, 20)
    hook_rates, bare_rates, raw_rates, ratios = [], [], [], []
    for index in range(rounds):
        pair = [("hook", send_hook), ("bare", send_bare)]
        if index % 2:
            pair.reverse()  # neither side always runs first
        rates = {name: clients.timed(send, per_round) for name, send in pair}
        hook_rates.append(rates["hook"])
        bare_rates.append(rates["bare"])
        ratios.append(rates["hook"].per_s / rates["bare"].per_s)
        raw_rates.append(clients.raw_rate(sandbox.url, headers, body, per_round))
    return Throughput(
        hook=_median_rate(hook_rates),
        bare=_median_rate(bare_rates),
        ratio=statistics.median(ratios),
        raw_single=_median_rate(raw_rates).per_s,
        raw_concurrent=concurrent_ceiling(sandbox, headers, body, workers, 2.0),
        concurrent_clients=workers,
        rounds=rounds,
        per_round=per_round,
    )
