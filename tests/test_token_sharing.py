"""Every process on a machine with the same credentials shares one access token.

The token endpoint allows 10 calls a minute and no concurrent calls, while a DAG may start 20 task
processes in the same second. These tests start real processes together against the sandbox (whose
token call takes 0.2 s, so overlapping calls would show in ``token_concurrent_max``).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway.tokens import AccessToken, FileTokenStore, MemoryTokenStore, cache_key
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.sandbox import DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, SandboxGateway
from tests.support import connection_dict

PROCESSES = 6
SENDS_PER_PROCESS = 5
PROC_SEND = Path(__file__).resolve().parent / "proc_send.py"


def _wait_for_files(signal_dir: Path, prefix: str, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 180
    while len(list(signal_dir.glob(f"{prefix}*"))) < len(procs):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            return  # a process died or hangs: its exit code and stderr tell why below
        time.sleep(0.005)


@pytest.fixture(scope="module")
def fan_out(tmp_path_factory):
    """PROCESSES real task processes; phase 0 sends with the file cache, phase 1 with ``memory``.

    The same processes run both phases (Airflow's import is the slow part); each phase has its own
    sandbox whose token call takes 0.2 s, so overlapping token calls would be counted.
    """
    tmp_path = tmp_path_factory.mktemp("fan-out")
    signal_dir = tmp_path / "signals"
    signal_dir.mkdir()
    with (
        SandboxGateway(port=0, token_delay_s=0.2) as file_gw,
        SandboxGateway(port=0, token_delay_s=0.2) as memory_gw,
    ):
        env = {
            **os.environ,
            "AIRFLOW_CONN_FX_FILE": json.dumps(connection_dict(file_gw, tmp_path)),
            "AIRFLOW_CONN_FX_MEMORY": json.dumps(connection_dict(memory_gw, tmp_path, token_cache="memory")),
        }
        args = [str(signal_dir), str(SENDS_PER_PROCESS)]
        procs = [
            subprocess.Popen(
                [sys.executable, str(PROC_SEND), *args, f"p{n}", "fx_file", "fx_memory"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(PROCESSES)
        ]
        try:
            _wait_for_files(signal_dir, "ready-", procs)
            (signal_dir / "go-0").touch()  # every process is imported and configured: all send now
            _wait_for_files(signal_dir, "done-0-", procs)
            (signal_dir / "go-1").touch()
            outputs = [p.communicate(timeout=180) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        for p, (_out, err) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, err[-3000:]
        results = [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]
        yield {
            "file": (file_gw.stats(), file_gw.messages()),
            "memory": (memory_gw.stats(), memory_gw.messages()),
            "results": results,
            "cache_dir": tmp_path / "token-cache",
        }


@pytest.mark.slow
def test_parallel_processes_share_one_token_from_the_file_cache(fan_out):
    stats, messages = fan_out["file"]
    assert stats["token_calls"] == 1
    assert stats["token_concurrent_max"] == 1
    assert stats["messages_delivered"] == PROCESSES * SENDS_PER_PROCESS
    assert len({m["message"]["content"] for m in messages}) == PROCESSES * SENDS_PER_PROCESS
    assert len(list(fan_out["cache_dir"].glob("*.json"))) == 1


@pytest.mark.slow
def test_memory_cache_fetches_one_token_per_process(fan_out):
    """The contrast: without the shared file, every process asks the token endpoint itself."""
    stats, messages = fan_out["memory"]
    assert stats["token_calls"] == PROCESSES
    assert stats["messages_delivered"] == PROCESSES * SENDS_PER_PROCESS
    assert len({m["message"]["content"] for m in messages}) == PROCESSES * SENDS_PER_PROCESS


def test_default_cache_file_lives_under_airflow_home_with_private_modes(
    sandbox, use_connection, monkeypatch, tmp_path
):
    home = tmp_path / "airflow-home"
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    use_connection(sandbox, token_cache_dir=None)
    FxiaokeHook().send_message(["1000"], "hello")
    directory = home / "fxiaoke" / "token-cache"
    files = [p for p in directory.iterdir() if p.suffix == ".json"]
    assert len(files) == 1
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    content = files[0].read_text()
    assert DEFAULT_APP_SECRET not in content and DEFAULT_PERMANENT_CODE not in content
    assert DEFAULT_PERMANENT_CODE not in files[0].name


def test_second_hook_reuses_the_cached_token(sandbox, use_connection):
    use_connection(sandbox)
    FxiaokeHook().send_message(["1000"], "first")
    FxiaokeHook().send_message(["1000"], "second")  # a new process would look like this
    assert sandbox.stats()["token_calls"] == 1


def test_cache_key_separates_host_app_and_permanent_code():
    base = cache_key("https://open.fxiaoke.com", "FSAID_a", "code-1", "header")
    assert base != cache_key("https://open-ale.fxiaoke.com", "FSAID_a", "code-1", "header")
    assert base != cache_key("https://open.fxiaoke.com", "FSAID_b", "code-1", "header")
    assert base != cache_key("https://open.fxiaoke.com", "FSAID_a", "code-2", "header")
    assert base == cache_key("https://open.fxiaoke.com", "FSAID_a", "code-1", "header")


@pytest.mark.parametrize("garbage", ["", "{not json", '{"value": "x"}', "[]", '{"value": 1, "tenant": null}'])
def test_corrupt_cache_file_is_ignored_and_replaced(sandbox, use_connection, tmp_path, garbage):
    use_connection(sandbox)
    hook = FxiaokeHook()
    store = hook.client.token_store
    assert isinstance(store, FileTokenStore)
    os.makedirs(store.directory, mode=0o700, exist_ok=True)
    Path(store.path).write_text(garbage)
    hook.send_message(["1000"], "despite a broken cache")
    assert sandbox.stats()["token_calls"] == 1
    assert sandbox.stats()["messages_delivered"] == 1
    replaced = AccessToken.from_json(Path(store.path).read_text())
    assert replaced.tenant


def test_memory_mode_writes_no_file(sandbox, use_connection, tmp_path):
    use_connection(sandbox, token_cache="memory")
    hook = FxiaokeHook()
    hook.send_message(["1000"], "one")
    hook.send_message(["1000"], "two")
    assert type(hook.client.token_store) is MemoryTokenStore
    assert sandbox.stats()["token_calls"] == 1
    assert not (tmp_path / "token-cache").exists()


def test_hook_argument_token_cache_overrides_the_extra(sandbox, use_connection, tmp_path):
    use_connection(sandbox, token_cache="file")
    hook = FxiaokeHook(token_cache="memory")
    hook.send_message(["1000"], "one")
    assert type(hook.client.token_store) is MemoryTokenStore


def test_expired_shared_token_is_renewed_once_and_the_file_updated(sandbox, use_connection):
    use_connection(sandbox)
    first = FxiaokeHook()
    first.send_message(["1000"], "before")
    old = first.get_token().value
    sandbox.expire_tokens()
    second = FxiaokeHook()  # reads the now-rejected token from the file
    second.send_message(["1000"], "after")
    new = AccessToken.from_json(Path(second.client.token_store.path).read_text()).value
    assert new != old
    assert sandbox.stats()["token_calls"] == 2
    first.send_message(["1000"], "first hook again")  # its memory copy is rejected: renews from the file
    assert sandbox.stats()["token_calls"] == 2
    assert sandbox.stats()["messages_delivered"] == 3


def test_file_lock_serialises_fetches_across_independent_stores(tmp_path):
    """Separate store objects (as in separate processes) on one file: one fetch, never two at once."""
    calls, in_flight, peak = [], [0], [0]
    guard = threading.Lock()

    def fetch() -> AccessToken:
        with guard:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.05)
        calls.append(1)
        with guard:
            in_flight[0] -= 1
        return AccessToken("tok", "ea", time.time(), protocol.TOKEN_LIFETIME_S)

    stores = [FileTokenStore(str(tmp_path), "k") for _ in range(8)]
    threads = [threading.Thread(target=s.get, args=(fetch,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert peak[0] == 1


def test_token_is_renewed_after_6650_seconds_not_before(tmp_path):
    now = [1000.0]
    fetched: list[float] = []

    def fetch() -> AccessToken:
        fetched.append(now[0])
        return AccessToken(f"tok{len(fetched)}", "ea", now[0], protocol.TOKEN_LIFETIME_S)

    store = FileTokenStore(str(tmp_path), "k", clock=lambda: now[0])
    assert store.get(fetch).value == "tok1"
    now[0] += protocol.TOKEN_REISSUE_AFTER_S["header"] - 1
    assert store.get(fetch).value == "tok1"
    now[0] += 2
    assert store.get(fetch).value == "tok2"
    assert len(fetched) == 2


def test_existing_cache_dir_with_loose_permissions_is_tightened(sandbox, use_connection, tmp_path):
    directory = tmp_path / "shared-cache"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    use_connection(sandbox, token_cache_dir=str(directory))
    FxiaokeHook().send_message(["1000"], "hello")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
