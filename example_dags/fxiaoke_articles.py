"""An image-and-text (``articles``) message: a weekly digest with two entries."""

from __future__ import annotations

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_articles",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "example"],
) as dag:
    FxiaokeSendMessageOperator(
        task_id="weekly_digest",
        to_users=["1000", "1001", "1002"],
        msg_type="articles",
        message=[
            {
                "title": "Pipeline digest for {{ ds }}",
                "author": "Data",
                "description": "All nightly loads finished on time.",
                "coverImage": "sandbox-media-0001",  # a media id from the material API
                "type": "TEXT",
                "content": "12 loads, 0 failures, 1.2M rows.",
                "coverImageInContent": True,
            },
            {
                "title": "Dashboard",
                "coverImage": "sandbox-media-0002",
                "type": "URL",
                "content": "https://bi.example.com/pipelines",
            },
        ],
    )
