"""Dynamic task mapping: one mapped send per team, expanded from a list at run time."""

from __future__ import annotations

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

with DAG(
    dag_id="fxiaoke_dynamic_groups",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "example"],
) as dag:

    @task
    def teams() -> list[list[str]]:
        """Stands in for a lookup of who owns which region."""
        return [["1000", "1001"], ["1002"], ["1003", "1004", "1005"]]

    FxiaokeSendMessageOperator.partial(
        task_id="notify_team",
        message="Regional sales figures for {{ ds }} are ready.",
    ).expand(to_users=teams())
