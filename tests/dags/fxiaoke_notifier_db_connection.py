"""Alerts through a connection stored in the metadata DB (``airflow connections add``).

For ``tests/test_connection_lookup.py``: run with ``airflow dags test``; ``extract`` fails, so the
task-level alert (sent inside the task) and the DAG-level alert (sent by the ``dags test`` process
itself, outside any task) both need connection ``fxiaoke_db_alerts`` from the DB.
"""

from __future__ import annotations

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

CONN_ID = "fxiaoke_db_alerts"

with DAG(
    dag_id="fxiaoke_notifier_db_connection",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    on_failure_callback=FxiaokeNotifier(to_users=["1009"], fxiaoke_conn_id=CONN_ID),
    tags=["fxiaoke", "test"],
) as dag:

    @task(retries=0, on_failure_callback=FxiaokeNotifier(to_users=["1000"], fxiaoke_conn_id=CONN_ID))
    def extract() -> None:
        raise RuntimeError("source database unreachable")

    extract()
