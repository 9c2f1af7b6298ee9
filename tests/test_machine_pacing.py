"""Machine-wide pacing: processes sharing credentials share one window per endpoint (clock injected)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway.pacing import IN_FLIGHT_POLL_S, MachinePacer
from fxiaoke_provider.messaging import wire

SEND = wire.SERVICE_MESSAGE_SEND_PATH


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pacers(directory: Path, time_: FakeTime, count: int, calls: int = 5, window_s: float = 10.0, **kw):
    """``count`` pacers on one directory and key: what separate processes on one machine hold."""
    args = (str(directory), "key", calls, window_s, time_.clock, time_.sleep)
    return [MachinePacer(*args, **kw) for _ in range(count)]


def test_two_processes_share_one_window(tmp_path):
    time_ = FakeTime()
    first, second = pacers(tmp_path, time_, 2)
    started = []
    for pacer in (first, second, first, second, first, second, first):
        with pacer.slot(SEND):
            started.append(time_.now)
            time_.now += 0.1
    # five requests fit the window; the sixth waits until the first answer (at 1000.1) is 10 s old
    assert started[:5] == pytest.approx([1_000.0 + 0.1 * i for i in range(5)])
    assert started[5] == pytest.approx(1_010.1)
    assert started[6] == pytest.approx(1_010.2)


def test_separate_keys_and_endpoints_do_not_share(tmp_path):
    time_ = FakeTime()
    mine = MachinePacer(str(tmp_path), "a", 1, 10.0, time_.clock, time_.sleep)
    theirs = MachinePacer(str(tmp_path), "b", 1, 10.0, time_.clock, time_.sleep)
    for pacer, path in ((mine, SEND), (theirs, SEND), (mine, protocol.TOKEN_PATH)):
        with pacer.slot(path):
            pass
    assert time_.sleeps == []


def test_request_in_flight_elsewhere_holds_its_slot(tmp_path):
    time_ = FakeTime()
    first, second = pacers(tmp_path, time_, 2, calls=1)
    with first.slot(SEND):
        waits: list[float] = []

        def refuse(seconds: float) -> None:
            waits.append(seconds)
            raise TimeoutError("would wait")

        second.before_wait = refuse
        with pytest.raises(TimeoutError), second.slot(SEND):
            pass
    assert waits == [IN_FLIGHT_POLL_S]


def test_entry_of_a_killed_process_is_released(tmp_path):
    time_ = FakeTime()
    (dead,) = pacers(tmp_path, time_, 1, calls=1)
    state_path = Path(dead.path_for(SEND))
    state_path.write_text(json.dumps([{"id": "x", "pid": 999_999_999, "done": None}]))
    (alive,) = pacers(tmp_path, time_, 1, calls=1, pid_alive=lambda pid: pid == os.getpid())
    with alive.slot(SEND):
        pass
    # counted as finished when found: one window's wait, not an endless poll for its answer
    assert time_.sleeps == [pytest.approx(10.0)]


def test_before_wait_refuses_a_wait_past_the_deadline(tmp_path):
    time_ = FakeTime()
    refused: list[float] = []

    def before_wait(seconds: float) -> None:
        refused.append(seconds)
        raise RuntimeError("deadline")

    (pacer,) = pacers(tmp_path, time_, 1, calls=2, before_wait=before_wait)
    for _ in range(2):
        with pacer.slot(SEND):
            pass
    with pytest.raises(RuntimeError, match="deadline"), pacer.slot(SEND):
        pytest.fail("must not be reached")
    assert refused == [pytest.approx(10.0)] and time_.sleeps == []


@pytest.mark.parametrize("garbage", ["", "not json", '{"a": 1}', '[1, {"id": 2}]'])
def test_broken_state_file_is_an_empty_window(tmp_path, garbage):
    time_ = FakeTime()
    (pacer,) = pacers(tmp_path, time_, 1, calls=1)
    Path(pacer.path_for(SEND)).write_text(garbage)
    with pacer.slot(SEND):
        pass
    assert time_.sleeps == []
    assert len(json.loads(Path(pacer.path_for(SEND)).read_text())) == 1


def test_unusable_directory_falls_back_to_this_process(tmp_path, caplog):
    time_ = FakeTime()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    pacer = MachinePacer(str(blocker), "key", 2, 10.0, time_.clock, time_.sleep)
    for _ in range(3):
        with pacer.slot(SEND):
            time_.now += 0.1
    assert "pacing this process alone" in caplog.text
    assert time_.sleeps == [pytest.approx(9.9)]  # still paced, within the process


def test_disabled_pacer_touches_no_file(tmp_path):
    (pacer,) = pacers(tmp_path, FakeTime(), 1, calls=0)
    with pacer.slot(SEND):
        pass
    assert list(tmp_path.iterdir()) == []


# --- real processes -------------------------------------------------------------------------------
PROC_SEND = Path(__file__).resolve().parent / "proc_send.py"


@pytest.mark.slow
def test_three_processes_on_one_machine_share_the_gateway_window(tmp_path):
    """3 task processes x 20 sends against 20 requests per 2 s: paced together, (almost) never refused."""
    import subprocess
    import sys
    import time

    from fxiaoke_provider.sandbox import SandboxGateway
    from tests.support import connection_dict

    signal_dir = tmp_path / "signals"
    signal_dir.mkdir()
    with SandboxGateway(port=0, token_delay_s=0, rate_limit_calls=20, rate_limit_window_s=2) as gateway:
        conn = connection_dict(gateway, tmp_path, rate_limit_calls=20, rate_limit_window=2)
        env = {**os.environ, "AIRFLOW_CONN_FX_PACED": json.dumps(conn)}
        procs = [
            subprocess.Popen(
                [sys.executable, str(PROC_SEND), str(signal_dir), "20", f"p{n}", "fx_paced"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(3)
        ]
        try:
            deadline = time.monotonic() + 180
            while len(list(signal_dir.glob("ready-*"))) < 3 and time.monotonic() < deadline:
                if any(p.poll() is not None for p in procs):
                    break
                time.sleep(0.01)
            (signal_dir / "go-0").touch()
            outputs = [p.communicate(timeout=180) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        stats = gateway.stats()
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-3000:]
    assert stats["messages_delivered"] == 60
    assert stats["error_codes"].get(str(protocol.RATE_LIMITED), 0) <= 3
