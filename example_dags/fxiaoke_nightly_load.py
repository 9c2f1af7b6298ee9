"""The demo: a nightly load tells the team in Fxiaoke that it finished, and an audit task keeps the traceId.

Recipients and the service account come from the ``fxiaoke_default`` connection and DAG params,
so the same file runs against the offline sandbox and a real tenant.
"""

from __future__ import annotations

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier
from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

with DAG(
    dag_id="fxiaoke_nightly_load",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"data_team": ["1000", "1001"]},
    default_args={
        "on_failure_callback": FxiaokeNotifier(to_users="{{ params.data_team | tojson }}"),
    },
    tags=["fxiaoke", "example"],
) as dag:

    @task
    def load_contracts() -> int:
        """Stands in for the real load; returns the row count the message reports."""
        return 1284

    rows = load_contracts()

    notify = FxiaokeSendMessageOperator(
        task_id="notify_data_team",
        to_users="{{ params.data_team | tojson }}",
        message=(
            "Nightly contract load for {{ ds }} finished: "
            "{{ ti.xcom_pull(task_ids='load_contracts') }} rows loaded."
        ),
    )

    @task
    def audit(trace_id: str) -> str:
        """Downstream use of the traceId: the id Fxiaoke support asks for, kept with the run."""
        print(f"Fxiaoke accepted the notification, traceId={trace_id}")
        return trace_id

    rows >> notify
    audit(notify.output)
