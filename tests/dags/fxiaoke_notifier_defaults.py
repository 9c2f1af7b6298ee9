"""Default alerts (no ``message``) for every event, for ``tests/test_alerts.py``.

``extract`` fails, ``load`` fails once and succeeds on its retry, ``report`` succeeds and sends its
default alert as a card; the run fails, so the DAG-level failure alert names the failed task. The
language comes from the connection's ``language`` extra.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum

from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

with DAG(
    dag_id="fxiaoke_notifier_defaults",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    on_failure_callback=FxiaokeNotifier(to_users=["1009"]),
    tags=["fxiaoke", "test"],
) as dag:

    @task(retries=0, on_failure_callback=FxiaokeNotifier(to_users=["1000"]))
    def extract() -> None:
        raise RuntimeError("source database unreachable\nsecond line is not part of the alert")

    @task(
        retries=1,
        retry_delay=timedelta(seconds=0),
        on_retry_callback=FxiaokeNotifier(to_users=["1001"]),
    )
    def load(ti=None) -> str:
        if ti.try_number <= 1:
            raise ConnectionError("warehouse busy, try again")
        return "loaded"

    @task(on_success_callback=FxiaokeNotifier(to_users=["1002"], msg_type="composite"))
    def report() -> str:
        return "reported"

    extract()
    load() >> report()
