"""People by employee id, by mobile number and by department in one send: each person gets it once.

The address book turns mobiles and departments into open ids (``FSUID_...``); they go out in a
request of their own with ``convertUserId``, employee ids in another. A person listed by mobile AND
by department is sent to once; a mobile nobody has fails the task before anything is sent.
"""

from __future__ import annotations

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_department_broadcast",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"regional_leads": ["13800001001", "13800001003", "13800001001"]},  # a spreadsheet's column
    tags=["fxiaoke", "example"],
) as dag:
    FxiaokeSendMessageOperator(
        task_id="quarter_close",
        to_users=["1000"],  # the admin, by CRM employee id
        to_mobiles="{{ params.regional_leads | join(',') }}",  # comma-separated text works, as a list does
        to_departments=[3],  # Sales East and every department below it
        message="Quarter-close figures for {{ ds }} are loaded; the report is ready.",
    )
    FxiaokeSendMessageOperator(
        task_id="sales_floor_only",
        to_departments=["2"],  # Sales itself, without Sales East
        include_sub_departments=False,
        message="Sales floor: targets for next quarter are in the CRM.",
    )
