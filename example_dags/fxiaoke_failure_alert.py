"""Failure alerts with ``FxiaokeNotifier``: the most common way to meet this provider."""

from __future__ import annotations

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

with DAG(
    dag_id="fxiaoke_failure_alert",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "example"],
) as dag:

    @task(
        retries=0,
        on_failure_callback=FxiaokeNotifier(
            to_users=["1000"],
            message="Task {{ ti.task_id }} in {{ dag.dag_id }} failed ({{ run_id }}). Log: {{ ti.log_url }}",
        ),
    )
    def flaky_extract() -> None:
        raise RuntimeError("source database unreachable")

    flaky_extract()
