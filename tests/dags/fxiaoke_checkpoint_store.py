"""The send journal in Airflow's real task state store: try 1 dies mid-send, try 2 reads what it left."""

from __future__ import annotations

import datetime

import pendulum

from fxiaoke_provider.airflow_support.task_state import TaskStateJournal, journal_for
from fxiaoke_provider.messaging.journal import batch_digest, fingerprint

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task

PATH = "/cgi/app/message/send"
FIELDS = {"msgType": "text", "text": {"content": "hi"}}
BATCHES = [["1000", "1001"], ["1002"], ["1003"]]
BODIES = [{"toUser": batch, **FIELDS} for batch in BATCHES]
FINGERPRINT = fingerprint(PATH, BODIES)

with DAG(
    dag_id="fxiaoke_checkpoint_store",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["fxiaoke", "test"],
) as dag:

    @task(retries=1, retry_delay=datetime.timedelta(seconds=0))
    def send(task_state_store=None, ti=None):
        journal = journal_for({"task_state_store": task_state_store})
        journal.start(FINGERPRINT, len(BATCHES))
        if ti.try_number == 1:
            digest0 = batch_digest(FINGERPRINT, 0, BODIES[0])
            journal.in_flight(0, digest0, "third-0", 2)
            journal.delivered(0, digest0, "trace-0", 2)
            journal.in_flight(1, batch_digest(FINGERPRINT, 1, BODIES[1]), "third-1", 1)
            raise RuntimeError("the worker died mid-send")
        seen = {str(i): [r.state, r.trace_id, r.third_trace_id] for i, r in journal.prior.items()}
        journal.finish()
        return {"seen": seen, "cleared": TaskStateJournal(task_state_store)._load_header() is None}

    send()
