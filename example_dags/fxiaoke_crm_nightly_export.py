"""Nightly incremental export: each CRM object's changed records into one JSON-lines file per object
and night, in object storage.

Mapped over the objects, so each gets its own task, retries and file. On Airflow 3 the cron
schedule gives zero-length data intervals: each run exports what changed since the last successful
run ended (the first run: everything before it). The tasks share the ``fxiaoke_crm_query`` pool,
one slot per tenant, so exports running on several workers take turns at the query endpoint's
limit instead of collecting refusals (create it with
``airflow pools set fxiaoke_crm_query 1 "Fxiaoke CRM query endpoint"``). A retry resumes where the
failed try stopped (Airflow >= 3.3).

``params.dest`` is any object-storage URL Airflow knows: ``file:///data/fxiaoke`` as here, or
``s3://bucket/fxiaoke`` with an ``aws`` connection given as ``dest_conn_id``.
"""

from __future__ import annotations

import datetime

import pendulum

from fxiaoke_provider.transfers.fxiaoke_to_object_storage import FxiaokeToObjectStorageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

OBJECTS = ["AccountObj", "ContactObj", "OpportunityObj"]

with DAG(
    dag_id="fxiaoke_crm_nightly_export",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"dest": "file:///data/fxiaoke"},
    tags=["fxiaoke", "example", "crm"],
) as dag:
    FxiaokeToObjectStorageOperator.partial(
        task_id="export",
        dest_path="{{ params.dest }}/{{ task.object_api_name }}/{{ ds }}.jsonl",
        pool="fxiaoke_crm_query",
        retries=3,
        retry_delay=datetime.timedelta(minutes=1),
    ).expand(object_api_name=OBJECTS)
