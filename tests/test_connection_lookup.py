"""Connections stored in the metadata DB (``airflow connections add``) work outside tasks too.

Airflow 3's Task SDK finds DB connections only inside a task; a script, a notebook or a DAG-level
callback under ``airflow dags test`` used to get ``AirflowNotFoundException`` and lose the alert.
Each test creates its connection with the real CLI in the suite's project-local AIRFLOW_HOME and
deletes it afterwards; the processes that use it are real subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS
from tests.support import ROOT, TEST_DAGS, connection_dict

DB_CONN_ID = "fxiaoke_db_alerts"
AIRFLOW = [sys.executable, "-m", "airflow"]


def _env() -> dict[str, str]:
    """The suite's environment without any ``AIRFLOW_CONN_*``: only the DB may hold the connection."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}


@pytest.fixture
def db_connection(sandbox, tmp_path) -> Iterator[str]:
    """``fxiaoke_db_alerts`` in the metadata DB, pointing at the sandbox (``airflow connections add``)."""
    conn = connection_dict(sandbox, tmp_path)
    conn["extra"] = json.dumps(conn["extra"])
    add = subprocess.run(
        [*AIRFLOW, "connections", "add", DB_CONN_ID, "--conn-json", json.dumps(conn)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert add.returncode == 0, add.stdout + add.stderr
    try:
        yield DB_CONN_ID
    finally:
        subprocess.run(
            [*AIRFLOW, "connections", "delete", DB_CONN_ID], env=_env(), capture_output=True, timeout=120
        )


SCRIPT = """
import json, sys
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
answers = FxiaokeHook(fxiaoke_conn_id=sys.argv[1]).send_message(["1000"], "from a plain script")
print(json.dumps([a["traceId"] for a in answers]))
"""


@pytest.mark.slow  # starts processes
def test_plain_script_uses_a_connection_from_the_metadata_db(sandbox, db_connection):
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, db_connection],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    [trace_id] = json.loads(run.stdout.strip().splitlines()[-1])
    [message] = sandbox.messages()
    assert message["traceId"] == trace_id
    assert message["message"]["content"] == "from a plain script"


@pytest.mark.slow  # starts processes
def test_dag_level_callback_under_airflow_dags_test_uses_the_db_connection(sandbox, db_connection):
    """Both alerts arrive: the task's (inside the task) and the DAG's (the ``dags test`` process)."""
    env = _env()
    if AIRFLOW_V_3_0_PLUS:
        # the bundle conftest configures for tests/dags
        command = [*AIRFLOW, "dags", "test", "fxiaoke_notifier_db_connection", "-B", "fxiaoke_test_dags"]
    else:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(TEST_DAGS)
        command = [*AIRFLOW, "dags", "test", "fxiaoke_notifier_db_connection"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)

    output = run.stdout + run.stderr
    assert "not sent" not in output, output[-4000:]
    by_user = {m["toUser"][0]: m["message"]["content"] for m in sandbox.messages()}
    print("\n" + "\n".join(f"to {user}: {text}" for user, text in sorted(by_user.items())))
    assert set(by_user) == {"1000", "1009"}, output[-4000:]
    assert by_user["1000"].startswith("Airflow: task extract in DAG fxiaoke_notifier_db_connection failed")
    assert by_user["1009"].startswith("Airflow: DAG fxiaoke_notifier_db_connection failed")
    assert "Failed tasks: extract." in by_user["1009"]


def test_missing_connection_says_where_it_looked_and_what_to_do():
    from airflow.exceptions import AirflowNotFoundException

    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    with pytest.raises(AirflowNotFoundException) as raised:
        FxiaokeHook(fxiaoke_conn_id="fxiaoke_nowhere").config  # noqa: B018
    if AIRFLOW_V_3_0_PLUS:
        message = str(raised.value)
        assert "metadata DB has no such connection" in message
        assert "AIRFLOW_CONN_FXIAOKE_NOWHERE" in message


@pytest.mark.slow  # starts processes
@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 2 reads the DB itself; nothing to explain")
def test_unreachable_metadata_db_is_named_in_the_error(tmp_path):
    missing_db = tmp_path / "no-such-dir" / "airflow.db"
    env = {**_env(), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{missing_db}"}
    probe = (
        "from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook\n"
        "try:\n    FxiaokeHook.get_connection('fxiaoke_nowhere')\n"
        "except Exception as error:\n    print(type(error).__name__, '|', error)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=180, cwd=ROOT
    )
    assert run.stdout.startswith("AirflowNotFoundException | The conn_id `fxiaoke_nowhere` isn't defined")
    assert "the metadata DB could not be read (OperationalError" in run.stdout
    assert "AIRFLOW_CONN_FXIAOKE_NOWHERE" in run.stdout


def test_inside_a_task_the_supervisors_answer_stands(monkeypatch):
    """In a task (``SUPERVISOR_COMMS`` set) a missing connection is not looked up again in the DB."""
    from airflow.exceptions import AirflowNotFoundException

    from fxiaoke_provider.airflow_support import connection_lookup

    task_runner = pytest.importorskip("airflow.sdk.execution_time.task_runner")
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", object(), raising=False)
    looked_in_db = []
    monkeypatch.setattr(connection_lookup, "_from_metadata_db", lambda *a: looked_in_db.append(a))
    monkeypatch.setattr(
        connection_lookup.BaseHook,
        "get_connection",
        classmethod(lambda cls, conn_id: (_ for _ in ()).throw(AirflowNotFoundException(conn_id))),
    )
    with pytest.raises(AirflowNotFoundException):
        connection_lookup.get_connection("fxiaoke_nowhere")
    assert looked_in_db == []
