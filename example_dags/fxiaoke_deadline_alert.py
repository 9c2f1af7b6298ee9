"""A deadline alert (Airflow 3.1+): Fxiaoke tells the data team when a run is late.

The run has 30 seconds from being queued; the task takes ``params.work_s`` seconds (default 60), so
a triggered run misses its deadline and the scheduler hands the alert to the triggerer, which sends
it through the ``fxiaoke_default`` connection. Real deadlines are hours, not seconds: the interval
is short so that ``scripts/deadline_alert.sh`` shows the whole path in about a minute.

The alert's context holds only ``dag_run`` (the run as the REST API shows it) and ``deadline``
(``id``, ``deadline_time``): no ``ti`` and no ``task``, so the message uses nothing else.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier

try:
    from airflow.sdk import DAG, AsyncCallback, DeadlineAlert, DeadlineReference, task
except ImportError:  # Airflow 2.11 and 3.0 have no deadline alerts: this file then defines no DAG
    DeadlineAlert = None

DEADLINE = timedelta(seconds=30)

if DeadlineAlert is not None:
    with DAG(
        dag_id="fxiaoke_deadline_alert",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        params={"work_s": 60},
        tags=["fxiaoke", "example"],
        deadline=DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=DEADLINE,
            callback=AsyncCallback(
                FxiaokeNotifier,
                kwargs={
                    "fxiaoke_conn_id": "fxiaoke_default",
                    "to_users": ["1000"],
                    "message": (
                        "Contract load {{ dag_run.dag_id }} is late: run {{ dag_run.dag_run_id }} "
                        "was still {{ dag_run.state }} at its deadline {{ deadline.deadline_time }}."
                    ),
                },
            ),
        ),
    ) as dag:

        @task
        def load_contracts(params: dict | None = None) -> int:
            time.sleep(float((params or {}).get("work_s", 0)))
            return 1284

        load_contracts()
