"""Helper of ``scripts/deadline_alert.sh``: free ports, the connection, and when the alert arrived.

Runs in the project's Airflow 3 venv with the standalone deployment's environment, so it reads the
same SQLite metadata DB as the scheduler does.

    deadline_alert_report.py port
    deadline_alert_report.py connection SANDBOX_URL
    deadline_alert_report.py report SANDBOX_URL DAG_ID RUN_ID TIMEOUT_S
"""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.request
from datetime import datetime


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return sock.getsockname()[1]


def connection(sandbox_url: str) -> str:
    from fxiaoke_provider.sandbox import connection_for

    return json.dumps(connection_for(sandbox_url))


def _messages(sandbox_url: str) -> list[dict]:
    with urllib.request.urlopen(f"{sandbox_url}/__sandbox__/messages", timeout=10) as answer:
        return json.loads(answer.read())


def _run_and_deadline(dag_id: str, run_id: str) -> tuple[str, datetime | None, datetime | None, bool]:
    """(run state, queued_at, deadline_time, missed) from the metadata DB."""
    from airflow.models import DagRun, Deadline
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is None:
            return "missing", None, None, False
        deadline = session.scalar(select(Deadline).where(Deadline.dagrun_id == run.id))
        state = str(getattr(run.state, "value", run.state))
        if deadline is None:
            return state, run.queued_at, None, False
        return state, run.queued_at, deadline.deadline_time, bool(deadline.missed)


def report(sandbox_url: str, dag_id: str, run_id: str, timeout_s: float) -> int:
    give_up = time.monotonic() + timeout_s
    deadline_time = None
    alert = None
    while time.monotonic() < give_up and alert is None:
        state, queued_at, found, missed = _run_and_deadline(dag_id, run_id)
        deadline_time = found or deadline_time
        alert = next(iter(_messages(sandbox_url)), None)
        if alert is None:
            time.sleep(0.2)
    state, queued_at, found, missed = _run_and_deadline(dag_id, run_id)
    deadline_time = found or deadline_time
    print(f"dag run {run_id}: {state}, queued at {queued_at}")
    print(f"deadline: {deadline_time} (missed: {missed})")
    if alert is None or deadline_time is None:
        print(f"RESULT: NOT ok: no alert within {timeout_s:.0f} s" if alert is None else "no deadline row")
        return 1
    received = datetime.fromtimestamp(alert["received_at"], tz=deadline_time.tzinfo)
    delay = alert["received_at"] - deadline_time.timestamp()
    print(f"alert received by the gateway at {received} ({alert['path']}, toUser {alert['toUser']})")
    print(f"alert text: {alert['message']['content']}")
    print(f"alert arrived {delay:.1f} s after the deadline")
    print("RESULT:", "ok" if missed and delay >= 0 else "NOT ok")
    return 0 if missed and delay >= 0 else 1


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "port":
        print(free_port())
        return 0
    if command == "connection":
        print(connection(args[0]))
        return 0
    if command == "report":
        return report(args[0], args[1], args[2], float(args[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
