"""Helper of ``scripts/multi_worker.sh``: free ports, the connection, waiting for the run, the report.

Runs inside the multi-worker venv with the deployment's environment, so it reads the same
PostgreSQL metadata DB as the scheduler and the workers do.

    multi_worker_report.py ports N
    multi_worker_report.py connection SANDBOX_URL TOKEN_CACHE
    multi_worker_report.py report SANDBOX_URL DAG_ID RUN_ID TIMEOUT_S WORKER_HOME [WORKER_HOME ...]
"""

from __future__ import annotations

import collections
import json
import socket
import sys
import time
import urllib.request
from pathlib import Path


def free_ports(count: int) -> list[int]:
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    try:
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def connection(sandbox_url: str, token_cache: str) -> str:
    from fxiaoke_provider.sandbox import connection_for

    # no token_cache_dir: every worker uses the default under its own AIRFLOW_HOME
    return json.dumps(connection_for(sandbox_url, token_cache=token_cache))


def _sandbox(url: str, route: str):
    with urllib.request.urlopen(f"{url}/__sandbox__/{route}", timeout=10) as answer:
        return json.loads(answer.read())


def _wait_for_run(dag_id: str, run_id: str, timeout_s: float) -> str:
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    deadline = time.monotonic() + timeout_s
    state = "missing"
    while time.monotonic() < deadline:
        with create_session() as session:
            run = session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id == run_id).one_or_none()
            state = str(getattr(run.state, "value", run.state)) if run else "missing"
        if state in ("success", "failed"):
            return state
        time.sleep(2)
    return f"{state} (gave up after {timeout_s:.0f}s)"


def _task_rows(dag_id: str, run_id: str) -> list[tuple[int, str, int, str | None]]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        query = session.query(TaskInstance)
        rows = query.filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
        return [
            (ti.map_index, str(getattr(ti.state, "value", ti.state)), ti.try_number, ti.hostname)
            for ti in rows
        ]


def _token_variables() -> list[tuple[str, bool, bool]]:
    """(key, is_encrypted, plaintext-looking) of the Variables the provider keeps tokens in."""
    from airflow.utils.session import create_session

    from fxiaoke_provider.airflow_support.version_compat import metadata_db_variable

    variable = metadata_db_variable()
    with create_session() as session:
        rows = session.query(variable).filter(variable.key.like("fxiaoke%")).all()
        return [(row.key, bool(row.is_encrypted), '"value"' in (row._val or "")) for row in rows]


def report(sandbox_url: str, dag_id: str, run_id: str, timeout_s: float, homes: list[str]) -> int:
    state = _wait_for_run(dag_id, run_id, timeout_s)
    rows = _task_rows(dag_id, run_id)
    states = collections.Counter(row[1] for row in rows)
    stats = _sandbox(sandbox_url, "stats")
    messages = _sandbox(sandbox_url, "messages")
    per_recipient = collections.Counter(user for message in messages for user in message["toUser"])
    refusals = sum(n for code, n in stats["error_codes"].items() if code in ("30004", "14001"))
    print(f"dag run {run_id}: {state}")
    print(f"task instances: {len(rows)} {dict(states)}; retried: {sum(1 for r in rows if r[2] > 1)}")
    for home in homes:
        logs = list(Path(home, "logs").rglob(f"dag_id={dag_id}/**/*.log"))
        print(f"worker {Path(home).name}: ran {len(logs)} task attempt(s)")
    print(
        f"token calls: {stats['token_calls']} (ok {stats['token_calls_ok']}, "
        f"at most {stats['token_concurrent_max']} at once)"
    )
    print(
        f"deliveries: {stats['messages_delivered']} to {len(per_recipient)} recipient(s); "
        f"recipients served twice or more: {sum(1 for n in per_recipient.values() if n > 1)}"
    )
    print(f"refusals (30004/14001): {refusals}; error codes: {stats['error_codes']}")
    for key, encrypted, plain in _token_variables():
        print(f"variable {key}: encrypted={encrypted} plaintext_in_db={plain}")
    ok = state == "success" and len(per_recipient) == len(rows) and stats["messages_delivered"] == len(rows)
    print("RESULT:", "ok" if ok else "NOT ok")
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "ports":
        print(" ".join(str(port) for port in free_ports(int(args[0]))))
        return 0
    if command == "connection":
        print(connection(args[0], args[1]))
        return 0
    if command == "report":
        return report(args[0], args[1], args[2], float(args[3]), args[4:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
