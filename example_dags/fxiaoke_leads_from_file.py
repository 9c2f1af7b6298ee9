"""Leads from a file into Fxiaoke: web-form leads land as JSON Lines, then are upserted into LeadsObj.

Each lead carries the form system's id in the custom field ``external_id__c``; the upsert updates
the lead that has it and creates the ones that do not exist yet, so rerunning a day creates nothing
twice. The landing zone is any object-storage URL (``s3://...`` with ``source_conn_id`` in
production); ``FXIAOKE_LEADS_LANDING`` points it elsewhere, the default is the machine's temp folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta

import pendulum

from fxiaoke_provider.operators.crm import FxiaokeUpsertRecordsOperator

try:
    from airflow.sdk import DAG, ObjectStoragePath, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.io.path import ObjectStoragePath

LANDING = os.environ.get("FXIAOKE_LEADS_LANDING", f"file://{tempfile.gettempdir()}/fxiaoke-leads")

with DAG(
    dag_id="fxiaoke_leads_from_file",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "example", "crm"],
) as dag:

    @task
    def land_form_leads(ds: str | None = None) -> str:
        """Stands in for the form system's export: writes the day's leads and returns the file's URL."""
        leads = [
            {
                "external_id__c": "form-1001",
                "name": "Wang Fang",
                "company": "Harbour Logistics",
                "source": "web",
            },
            {"external_id__c": "form-1002", "name": "Li Wei", "company": "Jade River Foods", "source": "web"},
            {
                "external_id__c": "form-1003",
                "name": "Zhao Min",
                "company": "North Gate Tools",
                "source": "event",
            },
        ]
        folder = ObjectStoragePath(LANDING)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"leads-{ds}.jsonl"
        with path.open("w", encoding="utf-8") as file:
            file.writelines(json.dumps(lead, ensure_ascii=False) + "\n" for lead in leads)
        return str(path)

    FxiaokeUpsertRecordsOperator(
        task_id="upsert_leads",
        object_api_name="LeadsObj",
        match_field="external_id__c",
        source_path=land_form_leads(),
        allow_refused_rows=0,
        retries=2,  # a retry resumes: creates whose answer was lost are looked up, never sent twice
        retry_delay=timedelta(seconds=30),
    )
