"""Templated messages and recipients that only break their rules once rendered."""

from __future__ import annotations

from datetime import timedelta

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

with DAG(
    dag_id="fxiaoke_it_render_errors",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"text": "", "url": "", "title": "T" * 60, "recipients": '["1000",'},
    # Retries allowed: bad input must fail at once anyway, since a retry renders the same thing.
    default_args={"retries": 1, "retry_delay": timedelta(0)},
    tags=["fxiaoke", "test"],
) as dag:
    FxiaokeSendMessageOperator(task_id="empty_text", to_users=["1000"], message="{{ params.text }}")
    FxiaokeSendMessageOperator(
        task_id="card_without_url",
        to_users=["1000"],
        msg_type="composite",
        message={"head": {"title": "Card"}, "link": {"title": "Open", "url": "{{ params.url }}"}},
    )
    FxiaokeSendMessageOperator(
        task_id="article_title_too_long",
        to_users=["1000"],
        msg_type="articles",
        message=[{"title": "{{ params.title }}", "coverImage": "m-1", "type": "URL", "content": "https://x"}],
    )
    FxiaokeSendMessageOperator(
        task_id="recipients_not_json", to_users="{{ params.recipients }}", message="Hello"
    )
