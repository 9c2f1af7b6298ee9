"""CRM queries with a templated connection id and hook settings, one within its limit, one beyond it."""

from __future__ import annotations

from datetime import timedelta

import pendulum

from fxiaoke_provider.operators.crm import FxiaokeQueryOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_it_crm_query",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"conn": "fxiaoke_crm", "owner": "1001"},
    tags=["fxiaoke", "test"],
) as dag:
    # One attempt per try (hook_params), so a busy answer ends the try and Airflow retries.
    FxiaokeQueryOperator(
        task_id="owned",
        fxiaoke_conn_id="{{ params.conn }}",
        hook_params={"retry_max_attempts": 1},
        object_api_name="AccountObj",
        filters=[("owner", "HASANYOF", ["{{ params.owner }}"])],
        fields=["name", "owner"],
        retries=1,
        retry_delay=timedelta(0),
    )
    FxiaokeQueryOperator(
        task_id="too_many",
        fxiaoke_conn_id="{{ params.conn }}",
        object_api_name="Ticket__c",  # the custom path: the fault on the preset path is the other's
        max_records=5,
        retries=1,
        retry_delay=timedelta(0),
    )
