"""Operators end to end: templates in every field, XCom of a single and a split send, a revoke."""

from __future__ import annotations

import pendulum

from fxiaoke_provider.messaging.bodies import crm_record_link
from fxiaoke_provider.operators.fxiaoke import FxiaokeRevokeMessageOperator, FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

#: More than two full requests' worth, so the send is split into 500 + 500 + 234.
ROSTER = [str(10_000 + i) for i in range(1234)]

with DAG(
    dag_id="fxiaoke_it_operators",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "owner": "1007",
        "team": ["1000", "1001"],
        "service_id": "FSAID_service_templated",
        "account_id": "64a1b2c3d4e5f60718293a4b",
        "rows": 1284,
    },
    tags=["fxiaoke", "test"],
) as dag:
    card = FxiaokeSendMessageOperator(
        task_id="card",
        to_users=["{{ params.owner }}", "1001"],
        service_id="{{ params.service_id }}",
        msg_type="composite",
        message={
            "head": {"title": "Load of {{ ds }}"},
            "first": {"content": "Owner {{ params.owner }}"},
            "form": [
                {"label": "Rows", "value": "{{ params.rows }}"},
                {"label": "Run", "value": "{{ run_id }}"},
            ],
            "link": {
                "title": "Open account",
                "url": crm_record_link("AccountObj", "{{ params.account_id }}"),
            },
        },
    )

    digest = FxiaokeSendMessageOperator(
        task_id="digest",
        to_users="{{ params.team | tojson }}",
        msg_type="articles",
        message=[
            {
                "title": "Digest {{ ds }}",
                "coverImage": "media-{{ params.rows }}",
                "type": "TEXT",
                "content": "{{ params.rows }} rows",
            },
            {
                "title": "Account",
                "coverImage": "media-0002",
                "type": "URL",
                "content": "https://bi.example.com/accounts/{{ params.account_id }}",
            },
        ],
    )

    broadcast = FxiaokeSendMessageOperator(
        task_id="broadcast", to_users=ROSTER, message="All hands on {{ ds }}"
    )

    @task
    def read_trace_id(trace_id: str, **context) -> dict:
        """A downstream consumer: the traceId as an argument and the list under ``trace_ids``."""
        return {"arg": trace_id, "list": context["ti"].xcom_pull(task_ids="card", key="trace_ids")}

    revoke = FxiaokeRevokeMessageOperator(
        task_id="revoke_card",
        # the messageId the send answer carried (a tenant behaviour the sandbox models on request)
        message_id="{{ ti.xcom_pull(task_ids='card', key='message_ids')[0] }}",
        service_id="{{ params.service_id }}",
    )

    read_trace_id(card.output)
    card >> revoke
    [card, digest] >> broadcast
