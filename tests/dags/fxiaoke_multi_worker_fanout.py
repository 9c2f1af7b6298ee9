"""Fan-out of 30 sends, one mapped task each, for ``scripts/multi_worker.sh``.

Every task is its own process on whichever Celery worker picks it up, so the run shows how many
token calls a deployment makes when each worker has its own AIRFLOW_HOME and token directory.
"""

from __future__ import annotations

import datetime

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

SENDS = 30

with DAG(
    dag_id="fxiaoke_multi_worker_fanout",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=SENDS,
    default_args={"retries": 1, "retry_delay": datetime.timedelta(seconds=2)},
    tags=["fxiaoke", "test"],
) as dag:
    FxiaokeSendMessageOperator.partial(
        task_id="send",
        message="Fan-out check {{ run_id }} #{{ ti.map_index }}",
    ).expand(to_users=[[str(2000 + i)] for i in range(SENDS)])
