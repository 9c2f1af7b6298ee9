"""The export on a schedule with data intervals (one day each): chosen fields as CSV on a local disk."""

from __future__ import annotations

import pendulum

from fxiaoke_provider.transfers.fxiaoke_to_object_storage import FxiaokeToObjectStorageOperator

try:
    from airflow.sdk import DAG, CronDataIntervalTimetable
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.timetables.interval import CronDataIntervalTimetable

with DAG(
    dag_id="fxiaoke_export_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    params={"dest": "file:///tmp/fxiaoke"},
    tags=["fxiaoke", "test"],
) as dag:
    FxiaokeToObjectStorageOperator(
        task_id="export_accounts_csv",
        object_api_name="AccountObj",
        dest_path="{{ params.dest }}/accounts/{{ ds }}.csv",
        file_format="csv",
        fields=["name", "owner", "last_modified_time"],
        page_size=10,
    )
