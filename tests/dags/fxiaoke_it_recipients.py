"""A page to people by mobile number, one of whom the address book does not know; Airflow retries on."""

from __future__ import annotations

from datetime import timedelta

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_it_recipients",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"on_call": ["13800001001", "13899999999"]},  # the second mobile belongs to nobody
    tags=["fxiaoke", "test"],
) as dag:
    # No delay: dag.test() would rerun a task that is up for retry at once; bad input must not be.
    FxiaokeSendMessageOperator(
        task_id="page_on_call",
        to_users=["1000"],
        to_mobiles="{{ params.on_call | join(',') }}",
        message="Nightly load failed on {{ ds }}",
        retries=2,
        retry_delay=timedelta(0),
    )
