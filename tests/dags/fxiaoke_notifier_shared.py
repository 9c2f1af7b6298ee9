"""One ``FxiaokeNotifier`` shared by every task through ``default_args``, for ``tests/test_notifier.py``.

Both tasks fail; each alert must name its own task, although the notifier object is the same.
"""

from __future__ import annotations

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

ALERT = FxiaokeNotifier(to_users=["1000"], message="failed | {{ ti.task_id }} | {{ dag.dag_id }}")

with DAG(
    dag_id="fxiaoke_notifier_shared",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 0, "on_failure_callback": ALERT},
    tags=["fxiaoke", "test"],
) as dag:

    @task
    def extract_orders() -> None:
        raise RuntimeError("orders source unreachable")

    @task
    def extract_invoices() -> None:
        raise RuntimeError("invoices source unreachable")

    extract_orders()
    extract_invoices()
