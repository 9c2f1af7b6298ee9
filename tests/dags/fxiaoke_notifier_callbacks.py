"""Task-level and DAG-level failure callbacks with ``FxiaokeNotifier``, for ``tests/test_notifier.py``.

``extract`` fails, ``load`` fails once and then succeeds on its retry, ``report`` succeeds; the run
fails, so the DAG-level failure callback fires too. Next to each notifier, ``record`` writes what
Airflow handed the callbacks to the JSON-lines file named by ``FXIAOKE_CALLBACK_RECORD``, so the test
can see that the notifier neither replaced the task's exception nor stopped the callbacks after it.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier, send_fxiaoke_notification

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

TEMPLATE = "{{ ti.task_id }} | {{ dag.dag_id }} | {{ run_id }} | {{ ti.log_url }}"


def record(context: Any) -> None:
    """Append the callback's view of the task (state, exception) to the record file."""
    path = os.environ.get("FXIAOKE_CALLBACK_RECORD")
    if not path:
        return
    ti = context.get("ti") or context.get("task_instance")
    entry = {
        "task_id": getattr(ti, "task_id", None),
        "try_number": getattr(ti, "try_number", None),
        "exception": repr(context.get("exception")) if context.get("exception") else None,
        "reason": context.get("reason"),
    }
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


with DAG(
    dag_id="fxiaoke_notifier_callbacks",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    on_failure_callback=[
        send_fxiaoke_notification(to_users=["1000"], message="dag-failed | {{ dag.dag_id }} | {{ run_id }}"),
        record,
    ],
    tags=["fxiaoke", "test"],
) as dag:

    @task(
        retries=0,
        on_failure_callback=[FxiaokeNotifier(to_users=["1000"], message="failed | " + TEMPLATE), record],
    )
    def extract() -> None:
        raise RuntimeError("source database unreachable")

    @task(
        retries=1,
        retry_delay=timedelta(seconds=0),
        on_retry_callback=[FxiaokeNotifier(to_users=["1001"], message="retry | " + TEMPLATE), record],
    )
    def load(ti=None) -> str:
        if ti.try_number <= 1:
            raise ConnectionError("warehouse busy, try again")
        return "loaded"

    @task(
        on_success_callback=[
            FxiaokeNotifier(to_users=["1002"], message="success | " + TEMPLATE, service_id="FSAID_reports"),
            record,
        ],
    )
    def report() -> str:
        return "reported"

    extract()
    load() >> report()
