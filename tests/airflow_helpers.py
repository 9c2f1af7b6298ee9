"""Running DAG files with ``dag.test()`` and reading what they left in the metadata DB."""

from __future__ import annotations

import contextlib
import importlib.util
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
