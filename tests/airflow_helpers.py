"""Running DAG files with ``dag.test()`` or with each task in its own supervised task process, and
reading what they left in the metadata DB."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS


def load_dag(path: Path, dag_id: str | None = None):
    """Import a DAG file the way a user's file is imported and return its DAG (the ``dag`` global)."""
    spec = importlib.util.spec_from_file_location(f"dagfile_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.dag
    assert dag_id is None or dag.dag_id == dag_id
    return dag


def run_dag(dag, **kwargs: Any):
    """``dag.test()``: real scheduler logic, real task runner, the SQLite metadata DB."""
    return dag.test(**kwargs)


def forget_runs(dag_id: str) -> None:
    """Delete a DAG's earlier runs, which would otherwise count as its last successful run."""
    from airflow.api.common.delete_dag import delete_dag
    from airflow.exceptions import DagNotFound

    if not AIRFLOW_V_3_0_PLUS:  # 2.x: run notes refer to the users table of the FAB models
        import airflow.providers.fab.auth_manager.models  # noqa: F401

    with contextlib.suppress(DagNotFound):
        delete_dag(dag_id)


def task_states(dag_run) -> dict[str, str]:
    return {
        (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"): str(
            getattr(ti.state, "value", ti.state)
        )
        for ti in dag_run.get_task_instances()
    }


def xcom(dag_run, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """The XCom value a task pushed, read back from the metadata DB."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            query = XComModel.get_many(
                run_id=dag_run.run_id,
                dag_ids=dag_run.dag_id,
                task_ids=task_id,
                key=key,
                map_indexes=map_index,
            )
            rows = session.scalars(query).all()
            return rows[0].value if rows else None
    from airflow.models.xcom import XCom

    return XCom.get_one(
        run_id=dag_run.run_id, dag_id=dag_run.dag_id, task_id=task_id, key=key, map_index=map_index
    )


def all_xcoms(dag_run) -> list[tuple[str, int, str, Any]]:
    """Every XCom of a run as ``(task_id, map_index, key, value)``, read back from the metadata DB."""
    from airflow.utils.session import create_session

    with create_session() as session:  # both generations hand back the deserialized value on load
        if AIRFLOW_V_3_0_PLUS:
            from airflow.models.xcom import XComModel

            rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id)).all()
        else:
            from airflow.models.xcom import XCom

            rows = XCom.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, session=session).all()
        return [(row.task_id, row.map_index, row.key, row.value) for row in rows]


def xcoms_holding(dag_run, secrets: list[str]) -> list[tuple[str, int, str]]:
    """The XComs of a run whose stored value contains any of ``secrets`` (should be none)."""
    import json

    found = []
    for task_id, map_index, key, value in all_xcoms(dag_run):
        text = json.dumps(value, default=repr) + repr(value)
        if any(secret in text for secret in secrets):
            found.append((task_id, map_index, key))
    return found


def reschedules(dag_run, task_id: str) -> int:
    """How many times a sensor of the run was rescheduled (rows of Airflow's task reschedule table)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        if AIRFLOW_V_3_0_PLUS:
            query = (
                select(func.count())
                .select_from(TaskReschedule)
                .join(TaskInstance, TaskInstance.id == TaskReschedule.ti_id)
                .where(TaskInstance.run_id == dag_run.run_id, TaskInstance.task_id == task_id)
            )
        else:
            query = select(func.count()).where(
                TaskReschedule.run_id == dag_run.run_id,
                TaskReschedule.dag_id == dag_run.dag_id,
                TaskReschedule.task_id == task_id,
            )
        return int(session.scalar(query))


# --- tasks in real task processes (Airflow 3) ----------------------------------------------------------
#: The bundle ``dag.test(use_executor=True)`` names in every workload; the DAG file travels as an
#: absolute path, so the bundle only has to exist where the task process looks it up.
EXECUTOR_TEST_BUNDLE = "dags-folder"
#: Why the task-process tests skip elsewhere (the ``skipif`` reason).
TASK_PROCESSES_NEED = (
    "needs Airflow >= 3.3: supervised task processes talking to the execution API (Airflow 3) and the "
    "task state store that carries progress from one try's process to the next (3.3); Airflow 2.11 "
    "has neither, so a retry there starts over (covered under dag.test())"
)


@dataclass
class TaskTry:
    """One try of a task as Airflow recorded it: the process it ran in and the log the supervisor kept."""

    try_number: int
    state: str
    pid: int | None
    hostname: str
    log: str


@dataclass
class ProcessRun:
    """A DAG run made by ``airflow dags test --use-executor`` in a CLI process of its own."""

    dag_run: Any
    cli_pid: int
    output: str

    def tries(self, task_id: str) -> list[TaskTry]:
        """Every try of ``task_id``, first to last (earlier tries from Airflow's task instance history)."""
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.taskinstancehistory import TaskInstanceHistory
        from airflow.utils.session import create_session
        from sqlalchemy import select

        run = self.dag_run
        found = []
        with create_session() as session:
            for model in (TaskInstanceHistory, TaskInstance):
                rows = session.scalars(
                    select(model).where(
                        model.dag_id == run.dag_id, model.run_id == run.run_id, model.task_id == task_id
                    )
                ).all()
                found += [(row.try_number, str(row.state), row.pid, row.hostname or "") for row in rows]
        return [
            TaskTry(number, state, pid, host, _task_log(run, task_id, number))
            for number, state, pid, host in sorted(found)
        ]


def _task_log(dag_run, task_id: str, try_number: int) -> str:
    """The log the supervisor wrote for one try (Airflow's default file layout), or "" if none."""
    from airflow.configuration import conf

    path = (
        Path(conf.get("logging", "base_log_folder"))
        / f"dag_id={dag_run.dag_id}"
        / f"run_id={dag_run.run_id}"
        / f"task_id={task_id}"
        / f"attempt={try_number}.log"
    )
    return path.read_text(errors="replace") if path.exists() else ""


class TaskProcesses:
    """Runs DAGs as a deployment runs their tasks, against the metadata DB of the test process.

    ``airflow dags test --use-executor`` in a process of its own queues each task on the
    LocalExecutor, whose worker starts the task in a supervised task process; the task talks to
    the execution API server (state, XCom, task state store) as on a real worker, and reads its
    connections from ``AIRFLOW_CONN_*`` like one.
    """

    def __init__(self, settings: dict[str, str]) -> None:
        self._settings = settings

    def run(
        self,
        dag_file: Path,
        dag_id: str,
        *,
        bundle: str,
        logical_date: datetime | None = None,
        conf: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        timeout_s: float = 300,
    ) -> ProcessRun:
        """One run of ``dag_id`` (parsed from ``bundle``, whose folder holds ``dag_file``)."""
        from airflow.models.dagrun import DagRun

        command = [sys.executable, "-m", "airflow", "dags", "test", dag_id]
        if logical_date is not None:  # positional: before the options
            command.append(logical_date.isoformat())
        command += ["-B", bundle, "--use-executor"]
        if conf is not None:
            command += ["-c", json.dumps(conf)]
        from tests.support import ROOT

        bundles = json.loads(os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
        bundles.append(
            {
                "name": EXECUTOR_TEST_BUNDLE,
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(dag_file.parent)},
            }
        )
        full_env = {  # the environment as it is now: connections installed by the test included
            **os.environ,
            **self._settings,
            **(env or {}),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        }
        known = {run.run_id for run in DagRun.find(dag_id=dag_id)}
        process = subprocess.Popen(
            command,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        try:
            output, _ = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            raise AssertionError(f"airflow dags test took over {timeout_s} s:\n{output[-4000:]}") from None
        assert process.returncode == 0, output[-4000:]
        (dag_run,) = [run for run in DagRun.find(dag_id=dag_id) if run.run_id not in known]
        return ProcessRun(dag_run=dag_run, cli_pid=process.pid, output=output)


@contextlib.contextmanager
def task_processes(log_dir: Path) -> Iterator[TaskProcesses]:
    """An execution API server on loopback for as long as the block runs, and a runner using it.

    Airflow 3 only: there tasks run in processes started by a supervisor that speaks to the API
    server; the metadata DB is the test process's (SQLite, in the project's ``AIRFLOW_HOME``).
    """
    from tests.api_server import api_server

    settings = {
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),  # the executor signs, the API checks
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "1",  # one worker process: the machine is small
    }
    home = Path(os.environ["AIRFLOW_HOME"])
    with api_server(home, log_dir / "execution-api-server.log", apps="execution", env=settings) as url:
        yield TaskProcesses({**settings, "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/"})
