"""A user's DAG: the nightly contract load alerts the data team in Chinese when it fails."""

from __future__ import annotations

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

with DAG(
    dag_id="contracts_alerts",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
) as dag:

    @task(retries=0, on_failure_callback=FxiaokeNotifier(to_users=["1000"], language="zh-CN"))
    def load_contracts() -> None:
        raise RuntimeError("CRM export is empty")

    load_contracts()
