"""Page the on-call engineers by mobile number, the way the rota lists them (no CRM ids needed)."""

from __future__ import annotations

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_on_call_by_mobile",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"on_call": ["13800001002", "13800001004"]},
    tags=["fxiaoke", "example"],
) as dag:
    FxiaokeSendMessageOperator(
        task_id="page_on_call",
        to_mobiles="{{ params.on_call | tojson }}",
        message="Warehouse load for {{ ds }} is late; see the run {{ run_id }}.",
    )
