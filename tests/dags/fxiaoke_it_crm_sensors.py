"""Two record sensors waiting for a record the test adds after their first poke: poke and reschedule."""

from __future__ import annotations

from datetime import timedelta

import pendulum

from fxiaoke_provider.sensors.crm import FxiaokeRecordSensor

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_it_crm_sensors",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"conn": "fxiaoke_crm", "status": "approved"},
    tags=["fxiaoke", "test"],
) as dag:
    FxiaokeRecordSensor(
        task_id="wait_poke",
        fxiaoke_conn_id="{{ params.conn }}",
        object_api_name="ContractObj",
        filters=[("approval__c", "EQ", "{{ params.status }}")],
        fields=["name", "approval__c"],
        mode="poke",
        poke_interval=0.2,
        timeout=60,
        execution_timeout=timedelta(seconds=90),
    )
    FxiaokeRecordSensor(
        task_id="wait_reschedule",
        fxiaoke_conn_id="{{ params.conn }}",
        object_api_name="OpportunityObj",
        filters=[{"field_name": "stage__c", "operator": "EQ", "field_values": ["{{ params.status }}"]}],
        max_records=2,
        mode="reschedule",
        poke_interval=1,
        timeout=60,
    )
