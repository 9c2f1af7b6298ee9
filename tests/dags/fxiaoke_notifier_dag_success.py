"""A DAG-level ``on_success_callback`` with ``FxiaokeNotifier``, for ``tests/test_notifier.py``."""

from __future__ import annotations

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

with DAG(
    dag_id="fxiaoke_notifier_dag_success",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    on_success_callback=FxiaokeNotifier(
        to_users=["1000", "1001"],
        message="dag-succeeded | {{ dag.dag_id }} | {{ run_id }} | {{ reason }}",
    ),
    tags=["fxiaoke", "test"],
) as dag:

    @task
    def nightly_load() -> int:
        return 42

    nightly_load()
