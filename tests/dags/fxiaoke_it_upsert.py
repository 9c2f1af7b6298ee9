"""One upsert of leads with Airflow retries, shaped by the test that loads it.

Read when the file is loaded: ``FXIAOKE_IT_UPSERT_SOURCE`` (a JSON Lines file of rows),
``FXIAOKE_IT_UPSERT_FROM`` (``file``: the operator reads the file itself; ``xcom``: a task reads it
and the rows reach the upsert through XCom), ``FXIAOKE_IT_UPSERT_RETRIES`` and
``FXIAOKE_IT_UPSERT_ALLOW`` (allow_refused_rows).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pendulum

from fxiaoke_provider.operators.crm import FxiaokeUpsertRecordsOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

SOURCE = os.environ.get("FXIAOKE_IT_UPSERT_SOURCE", "")
FROM = os.environ.get("FXIAOKE_IT_UPSERT_FROM", "file")
RETRIES = int(os.environ.get("FXIAOKE_IT_UPSERT_RETRIES", "1"))
ALLOW = int(os.environ.get("FXIAOKE_IT_UPSERT_ALLOW", "0"))

with DAG(
    dag_id="fxiaoke_it_upsert",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "test"],
) as dag:
    options = {
        "task_id": "upsert",
        "object_api_name": "LeadsObj",
        "match_field": "external_id__c",
        "allow_refused_rows": ALLOW,
        "retries": RETRIES,
        "retry_delay": timedelta(seconds=0),  # dag.test() reruns a task up for retry at once
    }
    if FROM == "xcom":

        @task
        def read_rows() -> list[dict]:
            return [json.loads(line) for line in Path(SOURCE).read_text().splitlines() if line.strip()]

        FxiaokeUpsertRecordsOperator(records=read_rows(), **options)
    else:
        FxiaokeUpsertRecordsOperator(source_path=f"file://{SOURCE}", **options)
