"""Test DAG: a send, a revoke refused for good with credentials echoed back, and a failure notification.

``tests/test_secrets_never_leak.py`` runs it with ``airflow dags test`` against the sandbox and scans
everything it left behind for credentials and tokens.
"""

from __future__ import annotations

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier
from fxiaoke_provider.operators.fxiaoke import FxiaokeRevokeMessageOperator, FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_secrets_probe",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "test"],
) as dag:
    send = FxiaokeSendMessageOperator(
        task_id="send_ok",
        to_users=["1000", "1001"],
        message="probe {{ dag.dag_id }} run {{ run_id }}",
    )
    revoke = FxiaokeRevokeMessageOperator(
        task_id="revoke_refused",
        message_id="MSG-probe-0001",
        retries=2,  # must not be used: the refusal is permanent
        on_failure_callback=FxiaokeNotifier(
            to_users=["1000"],
            # the exception text quotes the gateway's errorMessage, which echoes the credentials
            message=(
                "ALERT {{ ti.task_id }} of {{ dag.dag_id }} failed (try {{ ti.try_number }}): {{ exception }}"
            ),
        ),
    )
    send >> revoke
