"""One send with Airflow retries, for telling permanent gateway errors from transient ones."""

from __future__ import annotations

from datetime import timedelta

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_it_failures",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "test"],
) as dag:
    # No delay: dag.test() reruns a task that is up for retry as soon as its delay has passed.
    FxiaokeSendMessageOperator(
        task_id="send",
        to_users=["1000"],
        message="Load finished on {{ ds }}",
        retries=2,
        retry_delay=timedelta(0),
    )
