"""A card (``composite`` message) that opens the changed CRM account record in the Fxiaoke app."""

from __future__ import annotations

import pendulum

from fxiaoke_provider.messaging.bodies import crm_record_link
from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_crm_card",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"account_id": "5f1a2b3c4d5e6f7a8b9c0d1e", "account_name": "ACME Trading"},
    tags=["fxiaoke", "example"],
) as dag:
    FxiaokeSendMessageOperator(
        task_id="contract_changed_card",
        to_users=["1000"],
        msg_type="composite",
        message={
            "head": {"title": "Contract data changed"},
            "first": {"content": "{{ params.account_name }}: contract amounts were updated by the ERP sync"},
            "form": [
                {"label": "Run", "value": "{{ run_id }}"},
                {"label": "Date", "value": "{{ ds }}"},
            ],
            "remark": {"content": "Open the account to review the change."},
            "link": {
                "title": "Open account",
                "url": crm_record_link("AccountObj", "{{ params.account_id }}"),
            },
        },
    )
