"""``token_cache: airflow``: one token per deployment in an Airflow Variable, fetches coordinated."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

import pytest

from fxiaoke_provider.airflow_support.token_store import (
    LEASE_S,
    AirflowVariables,
    AirflowVariableTokenStore,
    VariableStoreError,
)
from fxiaoke_provider.exceptions import FxiaokeAuthError, FxiaokeTransientError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway.retry import (
    TOKEN_JITTER_S,
    TOKEN_PATIENCE_S,
    TOKEN_REFUSALS_WAITED,
    TOKEN_WINDOW_S,
    patient_fetch,
)
from fxiaoke_provider.gateway.tokens import AccessToken, FileTokenStore
from fxiaoke_provider.messaging import wire
from tests.support import FakeClock


class CountingFetch:
    """A token endpoint stand-in that counts calls and how many overlap."""

    def __init__(self, delay_s: float = 0.05) -> None:
        self.delay_s = delay_s
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self) -> AccessToken:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        time.sleep(self.delay_s)
        with self._lock:
            self.in_flight -= 1
        return AccessToken("tok-shared", "ea", time.time(), protocol.TOKEN_LIFETIME_S)


class DictVariables:
    """Variables in a dict, with a switch that makes every access fail like an unreachable DB."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.broken = False
        self._lock = threading.Lock()

    def _check(self) -> None:
        if self.broken:
            raise VariableStoreError("database unreachable")

    def get(self, key: str) -> str | None:
        self._check()
        with self._lock:
            return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        self._check()
        with self._lock:
            self.data[key] = value

    def delete(self, key: str) -> None:
        self._check()
        with self._lock:
            self.data.pop(key, None)


def worker_store(tmp_path: Path, n: int, variables, **kw) -> AirflowVariableTokenStore:
    """A store as worker ``n`` holds it: its own disk (token directory), the deployment's Variables."""
    return AirflowVariableTokenStore(
        "key", FileTokenStore(str(tmp_path / f"disk-{n}"), "key"), variables, **kw
    )


def run_workers(stores, fetch) -> list[AccessToken]:
    barrier = threading.Barrier(len(stores))
    tokens: list[AccessToken] = []

    def work(store) -> None:
        barrier.wait()
        tokens.append(store.get(fetch))

    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return tokens


def test_eight_workers_on_airflow_variables_fetch_once(tmp_path):
    """Real Airflow Variables (the metadata DB): eight workers with their own disks, one fetch."""
    fetch = CountingFetch()
    variables = AirflowVariables()
    stores = [worker_store(tmp_path, n, variables) for n in range(8)]
    try:
        tokens = run_workers(stores, fetch)
        assert [t.value for t in tokens] == ["tok-shared"] * 8
        assert fetch.calls <= 2 and fetch.max_in_flight == 1
        stored = json.loads(variables.get(stores[0].token_key) or "{}")
        assert stored["value"] == "tok-shared"
        assert variables.get(stores[0].lease_key) is None  # the lease is released
        assert not [p for n in range(8) for p in (tmp_path / f"disk-{n}").glob("fxiaoke-token-*.json")]
    finally:
        variables.delete(stores[0].token_key)


def test_each_worker_fetches_without_a_shared_variable(tmp_path):
    """The contrast: own disks and no shared store mean one fetch per worker."""
    fetch = CountingFetch()
    stores = [FileTokenStore(str(tmp_path / f"disk-{n}"), "key") for n in range(8)]
    run_workers(stores, fetch)
    assert fetch.calls == 8


def test_token_variable_key_is_one_airflow_masks():
    try:
        from airflow.sdk._shared.secrets_masker.secrets_masker import should_hide_value_for_key
    except ImportError:  # Airflow 2.11
        from airflow.utils.log.secrets_masker import should_hide_value_for_key
    store = AirflowVariableTokenStore("k", FileTokenStore("/nonexistent", "k"), DictVariables())
    assert should_hide_value_for_key(store.token_key)
    assert should_hide_value_for_key(store.lease_key)


def test_abandoned_lease_is_taken_over_after_it_expires(tmp_path):
    now = [1_000.0]
    variables = DictVariables()
    variables.data["fxiaoke_access_token_lease_key"] = json.dumps(
        {"owner": "dead", "until": 1_000.0 + LEASE_S}
    )
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    store = worker_store(tmp_path, 0, variables, clock=lambda: now[0], sleep=sleep, rng=random.Random(1))
    fetch = CountingFetch(0)
    token = store.get(
        lambda: AccessToken("tok", "ea", now[0], protocol.TOKEN_LIFETIME_S) if fetch() else None
    )
    assert token.value == "tok" and fetch.calls == 1
    assert LEASE_S <= sum(sleeps) < LEASE_S + 5  # it waited for the holder, then took over


def test_unusable_variables_fall_back_to_the_file_cache_with_a_warning(tmp_path, caplog):
    variables = DictVariables()
    variables.broken = True
    store = worker_store(tmp_path, 0, variables)
    fetch = CountingFetch(0)
    assert store.get(fetch).value == "tok-shared"
    assert "using the machine's token file" in caplog.text
    assert list((tmp_path / "disk-0").glob("fxiaoke-token-*.json"))
    again = worker_store(tmp_path, 0, variables)
    again.get(fetch)
    assert fetch.calls == 1  # the second process found the file


def test_rejected_token_is_removed_from_the_variable(tmp_path):
    variables = DictVariables()
    store = worker_store(tmp_path, 0, variables)
    token = store.get(CountingFetch(0))
    store.invalidate(token)
    assert store.token_key not in variables.data
    other = AccessToken("tok-other", "ea", time.time(), protocol.TOKEN_LIFETIME_S)
    variables.data[store.token_key] = other.to_json()
    store.invalidate(token)  # someone already replaced it: kept
    assert store.token_key in variables.data


# --- patience at the token endpoint ------------------------------------------------------------
def refusing(times: int, error=None):
    calls = {"n": 0}

    def fetch() -> AccessToken:
        calls["n"] += 1
        if calls["n"] <= times:
            raise error or FxiaokeTransientError("refused", error_code=14001, path=protocol.TOKEN_PATH)
        return AccessToken("tok", "ea", 0.0, protocol.TOKEN_LIFETIME_S)

    return fetch, calls


def test_refusals_are_retried_past_the_sixty_second_window():
    """The endpoint refuses until its window slides 60 s after the burst: one wait of a whole window
    (plus jitter) later the fetch is there, without a retry in between that a limiter counting
    refused calls would add to the window."""
    now = [0.0]
    calls = []

    def fetch() -> AccessToken:
        calls.append(now[0])
        if now[0] < 60.0:
            raise FxiaokeTransientError("refused", error_code=14001, path=protocol.TOKEN_PATH)
        return AccessToken("tok", "ea", now[0], protocol.TOKEN_LIFETIME_S)

    for seed in range(20):  # whatever the jitter
        now[0], calls[:] = 0.0, []
        token = patient_fetch(
            fetch,
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
            rng=random.Random(seed),
        )
        assert token.value == "tok" and len(calls) == 2
        assert TOKEN_WINDOW_S <= calls[1] <= TOKEN_WINDOW_S + TOKEN_JITTER_S


def test_workers_refused_together_return_apart():
    """The jitter spreads a crowd's second attempts over the 10 s after the window."""
    returns = []
    for seed in range(12):
        clock = FakeClock(0.0)
        fetch, _calls = refusing(1)
        patient_fetch(fetch, clock=clock, sleep=clock.advance, rng=random.Random(seed))
        returns.append(clock.now)
    assert min(returns) >= TOKEN_WINDOW_S and max(returns) <= TOKEN_WINDOW_S + TOKEN_JITTER_S
    assert max(returns) - min(returns) > TOKEN_JITTER_S / 2


def test_patience_is_bounded_and_shared_by_calls_with_one_start():
    now = [0.0]
    fetch, calls = refusing(1000)
    with pytest.raises(FxiaokeTransientError):
        patient_fetch(fetch, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert now[0] <= TOKEN_PATIENCE_S and calls["n"] == TOKEN_REFUSALS_WAITED + 1
    calls["n"], now[0] = 0, TOKEN_PATIENCE_S
    with pytest.raises(FxiaokeTransientError):  # same budget, already spent: one attempt, no wait
        patient_fetch(fetch, started=0.0, clock=lambda: now[0], sleep=lambda s: pytest.fail("no wait"))
    assert calls["n"] == 1


def test_other_errors_and_refused_waits_end_at_once():
    for error in (
        FxiaokeAuthError("credentials rejected", path=protocol.TOKEN_PATH),
        FxiaokeTransientError("could not connect", path=protocol.TOKEN_PATH),  # the caller's policy
        FxiaokeTransientError("busy", error_code=protocol.RATE_LIMITED, path=wire.SERVICE_MESSAGE_SEND_PATH),
    ):
        fetch, calls = refusing(5, error)
        with pytest.raises(type(error)):
            patient_fetch(fetch, sleep=lambda s: pytest.fail("must not wait"))
        assert calls["n"] == 1

    def refuse(seconds: float) -> None:
        raise TimeoutError("deadline")

    fetch, calls = refusing(5)
    with pytest.raises(TimeoutError):
        patient_fetch(fetch, before_wait=refuse, sleep=lambda s: pytest.fail("must not wait"))
    assert calls["n"] == 1
