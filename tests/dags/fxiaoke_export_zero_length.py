"""The export on Airflow 3's default kind of schedule: zero-length data intervals (``schedule=None``
here, as ``CronTriggerTimetable`` and manual runs give them), into S3 through ``aws_default``.

Small pages and parts so a few dozen records make several of each; one retry, at once.
"""

from __future__ import annotations

import datetime

import pendulum

from fxiaoke_provider.transfers.fxiaoke_to_object_storage import FxiaokeToObjectStorageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_export_zero_length",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={"dest": "s3://lake/fxiaoke"},
    tags=["fxiaoke", "test"],
) as dag:
    FxiaokeToObjectStorageOperator(
        task_id="export_accounts",
        object_api_name="AccountObj",
        dest_path="{{ params.dest }}/accounts/{{ ds }}.jsonl",
        dest_conn_id="aws_default",
        page_size=10,
        records_per_part=20,
        retries=1,
        retry_delay=datetime.timedelta(seconds=0),
    )
