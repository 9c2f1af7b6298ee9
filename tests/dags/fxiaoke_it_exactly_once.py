"""One send with execution_timeout and Airflow retries, sized by the test that loads it.

The environment variables are read when the file is loaded (``FXIAOKE_IT_RECIPIENTS``,
``FXIAOKE_IT_TIMEOUT_S``, ``FXIAOKE_IT_RETRIES``, ``FXIAOKE_IT_RETRY_DELAY_S``), so one DAG serves
every exactly-once scenario.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum

from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.11
    from airflow import DAG

RECIPIENTS = int(os.environ.get("FXIAOKE_IT_RECIPIENTS", "1"))
TIMEOUT_S = float(os.environ.get("FXIAOKE_IT_TIMEOUT_S", "0")) or None
RETRIES = int(os.environ.get("FXIAOKE_IT_RETRIES", "2"))
RETRY_DELAY_S = float(os.environ.get("FXIAOKE_IT_RETRY_DELAY_S", "0"))

with DAG(
    dag_id="fxiaoke_it_exactly_once",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "test"],
) as dag:
    FxiaokeSendMessageOperator(
        task_id="send",
        to_users=[str(100_000 + i) for i in range(RECIPIENTS)],
        message="Quarterly notice",
        retries=RETRIES,
        # dag.test() reruns a task up for retry as soon as this has passed
        retry_delay=timedelta(seconds=RETRY_DELAY_S),
        execution_timeout=timedelta(seconds=TIMEOUT_S) if TIMEOUT_S else None,
    )
