"""The reliability figures at full size, each from a real run against the sandbox on loopback.

Run by ``scripts/reliability_figures.sh`` (project venv, project-local AIRFLOW_HOME); takes a few
minutes because the gateway's real windows apply (20 s for sends, 60 s for the token endpoint).

    reliability_figures.py [timeout|fan-out|resume|new-workers|airflow-cache|pacing ...]
"""

from __future__ import annotations

import atexit
import collections
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fxiaoke_provider.airflow_support.version_compat import metadata_db_variable  # noqa: E402
from fxiaoke_provider.gateway import protocol  # noqa: E402
from fxiaoke_provider.messaging import wire  # noqa: E402
from fxiaoke_provider.sandbox import SandboxGateway, connection_for  # noqa: E402
from tests.support import run_send_processes  # noqa: E402

DAG_FILE = ROOT / "tests" / "dags" / "fxiaoke_it_exactly_once.py"
SEND = wire.SERVICE_MESSAGE_SEND_PATH
WORK = Path(tempfile.mkdtemp(prefix="fxiaoke-figures-"))  # token directories and start files
atexit.register(shutil.rmtree, WORK, ignore_errors=True)


def connection(gateway: SandboxGateway, token_dir: Path, **extra: object) -> str:
    return json.dumps(connection_for(gateway.url, **{"token_cache_dir": str(token_dir), **extra}))


def per_recipient(gateway: SandboxGateway) -> collections.Counter:
    return collections.Counter(user for message in gateway.messages() for user in message["toUser"])


def run_send_dag(
    gateway: SandboxGateway,
    recipients: int,
    timeout_s: float | None,
    retries: int,
    retry_delay_s: float = 0,
    **extra: object,
):
    os.environ["AIRFLOW_CONN_FXIAOKE_DEFAULT"] = connection(gateway, WORK / f"tokens-{time.time()}", **extra)
    os.environ["FXIAOKE_IT_RECIPIENTS"] = str(recipients)
    os.environ["FXIAOKE_IT_TIMEOUT_S"] = str(timeout_s or 0)
    os.environ["FXIAOKE_IT_RETRIES"] = str(retries)
    os.environ["FXIAOKE_IT_RETRY_DELAY_S"] = str(retry_delay_s)
    spec = importlib.util.spec_from_file_location(f"figures_dag_{time.time_ns()}", DAG_FILE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag_run = module.dag.test()
    (ti,) = dag_run.get_task_instances()
    return str(getattr(ti.state, "value", ti.state)), ti.try_number


def summary(got: collections.Counter, recipients: int) -> str:
    twice = sum(1 for n in got.values() if n > 1)
    once = sum(1 for n in got.values() if n == 1)
    return f"exactly once: {once}/{recipients}, twice or more: {twice}, never: {recipients - len(got)}"


def figure_timeout() -> None:
    with SandboxGateway(port=0, token_delay_s=0) as gateway:
        gateway.add_fault(SEND, "delay", count=3, seconds=3, deliver=True)
        state, tries = run_send_dag(gateway, 1, timeout_s=1, retries=2)
        print(
            f"[timeout] delivered send answered after 3 s, execution_timeout=1s, retries=2: "
            f"task {state} after {tries} try; deliveries: {gateway.stats()['messages_delivered']}"
        )


def figure_fan_out() -> None:
    with SandboxGateway(port=0, token_delay_s=0) as gateway:
        started = time.monotonic()
        # a retry_delay of 10 s (Airflow's default is 300 s): the retry meets a window with room
        state, tries = run_send_dag(gateway, 60_000, timeout_s=12, retries=2, retry_delay_s=10)
        got = per_recipient(gateway)
        refused = gateway.stats()["error_codes"].get(str(protocol.RATE_LIMITED), 0)
        print(
            "[fan-out] 60,000 recipients, execution_timeout=12s, retries=2 (retry_delay 10s), "
            "gateway 100/20s: "
            f"task {state} after {tries} tries in {time.monotonic() - started:.0f}s; "
            f"{summary(got, 60_000)}; 30004 refusals: {refused}"
        )


def figure_resume() -> None:
    with SandboxGateway(port=0, token_delay_s=0) as gateway:
        gateway.add_fault(SEND, "delay", count=1, seconds=0, deliver=True)
        gateway.add_fault(SEND, "error", count=7, code=protocol.SYSTEM_BUSY)  # past the 7-attempt budget
        state, tries = run_send_dag(gateway, 1_201, timeout_s=None, retries=1, retry_max_wait=0.5)
        print(
            f"[resume] 1,201 recipients, batch 2 answers -1 past the retry budget, retries=1: "
            f"task {state} after {tries} tries; {summary(per_recipient(gateway), 1_201)}"
        )


SEND_ONE = """
import json, sys, time
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
hook = FxiaokeHook(sys.argv[1]); _ = hook.config
go = sys.argv[2]
while not __import__("os").path.exists(go):
    time.sleep(0.005)
started = time.monotonic()
try:
    for i in range(int(sys.argv[3])):
        hook.send_message([sys.argv[4]], f"alert {i}")
    print(json.dumps({"ok": True, "s": time.monotonic() - started}))
except Exception as error:
    print(json.dumps({"ok": False, "error": type(error).__name__, "s": time.monotonic() - started}))
"""


def run_processes(gateway: SandboxGateway, count: int, sends: int, shared_disk: bool, **extra) -> list[dict]:
    go = WORK / f"go-{time.time_ns()}"
    procs = []
    for n in range(count):
        disk = WORK / ("shared" if shared_disk else f"disk-{time.time_ns()}-{n}")
        env = {**os.environ, f"AIRFLOW_CONN_FX_P{n}": connection(gateway, disk, **extra)}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", SEND_ONE, f"fx_p{n}", str(go), str(sends), str(4000 + n)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )
    time.sleep(8)  # importing Airflow takes a few seconds; then all start together
    go.touch()
    return [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]


def figure_new_workers() -> None:
    """12 new workers at once against both kinds of token-endpoint limiter."""
    for count_refused in (False, True):
        with SandboxGateway(port=0, count_refused_token_calls=count_refused) as gateway:
            run = WORK / f"new-workers-{count_refused}"
            conns = [
                connection_for(gateway.url, token_cache_dir=str(run / f"disk-{n}"), user_id="1000")
                for n in range(12)
            ]
            results = run_send_processes(conns, run / "signals")
            stats = gateway.stats()
        print(
            f"[new-workers] 12 new processes with their own disks, token endpoint 10/min, "
            f"{'refused calls counted too' if count_refused else 'accepted calls counted'}: "
            f"{stats['messages_delivered']}/12 delivered; token calls {stats['token_calls']} "
            f"(refused {stats['token_calls'] - stats['token_calls_ok']}); "
            f"slowest {max(r['elapsed_s'][0] for r in results):.0f}s"
        )


def figure_airflow_cache() -> None:
    with SandboxGateway(port=0, token_delay_s=0.2) as gateway:
        results = run_processes(gateway, 8, 1, shared_disk=False, token_cache="airflow")
        stats = gateway.stats()
        print(
            f"[airflow-cache] 8 processes, own disks, token_cache=airflow (metadata DB): "
            f"{sum(r['ok'] for r in results)}/8 delivered; token calls {stats['token_calls']}, "
            f"at most {stats['token_concurrent_max']} at once"
        )
    from airflow.utils.session import create_session

    from fxiaoke_provider.airflow_support.token_store import AirflowVariables

    with create_session() as session:
        variable = metadata_db_variable()
        for row in session.query(variable).filter(variable.key.like("fxiaoke%")).all():
            print(f"[airflow-cache] Variable {row.key}: is_encrypted={row.is_encrypted}")
            AirflowVariables().delete(row.key)


def figure_pacing() -> None:
    with SandboxGateway(port=0, token_delay_s=0) as gateway:
        results = run_processes(gateway, 3, 60, shared_disk=True)
        stats = gateway.stats()
        refused = stats["error_codes"].get(str(protocol.RATE_LIMITED), 0)
        print(
            f"[pacing] 3 processes x 60 sends, one machine, gateway 100/20s: "
            f"{stats['messages_delivered']}/180 delivered, {refused} refusals (30004), "
            f"slowest process {max(r['s'] for r in results):.1f}s"
        )


FIGURES = {
    "timeout": figure_timeout,
    "fan-out": figure_fan_out,
    "resume": figure_resume,
    "new-workers": figure_new_workers,
    "airflow-cache": figure_airflow_cache,
    "pacing": figure_pacing,
}


if __name__ == "__main__":
    for name in sys.argv[1:] or list(FIGURES):
        FIGURES[name]()
