"""appSecret, permanentCode and access tokens never show up anywhere a person or a UI can read.

A real ``airflow dags test`` run (a subprocess, the connection in an ``AIRFLOW_CONN_*`` variable)
of ``tests/dags/fxiaoke_secrets_probe.py`` sends a message, has a revoke refused for good (30003)
and sends a failure notification. Then everything it left is scanned: what it printed, the task
log files, the rendered template fields and XComs in the metadata DB, and the sandbox's own log.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.messaging import wire
from fxiaoke_provider.sandbox import SandboxApp, SandboxGateway
from tests.support import ROOT, TEST_DAGS, connection_dict

DAG_ID = "fxiaoke_secrets_probe"
pytestmark = pytest.mark.slow  # ``airflow dags test`` in a subprocess


def _test_dags_bundle() -> str:
    """Name of the DAG bundle conftest configured for ``tests/dags`` (Airflow 3)."""
    bundles = json.loads(os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    return next(b["name"] for b in bundles if Path(b["kwargs"]["path"]) == TEST_DAGS)


def _db_rows(table: str) -> list[str]:
    """Every row of ``table`` for the probe DAG, as text (values decoded where stored as bytes)."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        rows = session.execute(text(f"SELECT * FROM {table} WHERE dag_id = :d"), {"d": DAG_ID}).all()
    out = []
    for row in rows:
        values = [v.decode("utf-8", "replace") if isinstance(v, (bytes, memoryview)) else v for v in row]
        out.append(repr(values))
    return out


def _task_states() -> dict[str, str]:
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        rows = session.execute(
            text("SELECT task_id, state, try_number FROM task_instance WHERE dag_id = :d"), {"d": DAG_ID}
        ).all()
    return {task_id: f"{state}/{tries}" for task_id, state, tries in rows}


def _clear_previous_runs() -> None:
    from airflow.utils.session import create_session
    from sqlalchemy import text

    with create_session() as session:
        for table in ("xcom", "rendered_task_instance_fields", "task_instance", "dag_run"):
            session.execute(text(f"DELETE FROM {table} WHERE dag_id = :d"), {"d": DAG_ID})


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("secrets")
    app = SandboxApp(
        app_secret=f"appsecret-{secrets.token_hex(12)}", permanent_code=f"pcode-{secrets.token_hex(12)}"
    )
    sandbox_log = io.StringIO()
    _clear_previous_runs()
    with SandboxGateway(port=0, app=app, token_delay_s=0, log_stream=sandbox_log) as gateway:
        # refused for good, and the errorMessage quotes the appSecret, permanentCode and token it got
        gateway.add_fault(wire.SERVICE_MESSAGE_REVOKE_PATH, "echo_secrets", code=protocol.NO_QUOTA)
        conn = connection_dict(gateway, tmp_path)
        conn["password"] = app.app_secret
        conn["extra"]["permanent_code"] = app.permanent_code
        log_folder = tmp_path / "logs"
        env = {
            **os.environ,
            "AIRFLOW_CONN_FXIAOKE_DEFAULT": json.dumps(conn),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(log_folder),
            "AIRFLOW__CORE__DAGS_FOLDER": str(TEST_DAGS),
            "PYTHONPATH": str(ROOT),
        }
        where = ["-B", _test_dags_bundle()] if AIRFLOW_V_3_0_PLUS else ["-S", str(TEST_DAGS)]
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, *where],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        tokens = set(gateway.issued_tokens())  # every token the sandbox ever issued in this run
        yield {
            "proc": proc,
            "app": app,
            "tokens": tokens,
            "messages": gateway.messages(),
            "revokes": gateway.revokes(),
            "stats": gateway.stats(),
            "sandbox_log": sandbox_log.getvalue(),
            "log_files": {p: p.read_text(errors="replace") for p in log_folder.rglob("*") if p.is_file()},
            "home_logs": {
                p: p.read_text(errors="replace")
                for p in (Path(os.environ["AIRFLOW_HOME"]) / "logs").rglob("*")
                if p.is_file() and DAG_ID in str(p)
            },
            "rendered": _db_rows("rendered_task_instance_fields"),
            "xcom": _db_rows("xcom"),
            "states": _task_states(),
            "cache_files": [p.read_text() for p in (tmp_path / "token-cache").glob("*.json")],
        }


def test_the_run_did_what_the_scan_relies_on(probe_run):
    """The scan is only worth something if the run really sent, failed and notified."""
    proc = probe_run["proc"]
    assert probe_run["tokens"], "no token issued: " + proc.stdout[-3000:] + proc.stderr[-3000:]
    cached = {json.loads(text)["value"] for text in probe_run["cache_files"]}
    assert cached and cached <= probe_run["tokens"]
    texts = [m["message"]["content"] for m in probe_run["messages"]]
    assert len(texts) == 2, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert texts[0].startswith(f"probe {DAG_ID} run ")
    assert texts[1].startswith(f"ALERT revoke_refused of {DAG_ID} failed")
    assert "errorCode 30003" in texts[1] and "errorMessage=" in texts[1]  # the echo reached the alert
    states = probe_run["states"]
    assert states["send_ok"].startswith("success")
    assert states["revoke_refused"].startswith("failed")  # AirflowFailException: no up_for_retry
    assert probe_run["stats"]["error_codes"].get(str(protocol.NO_QUOTA)) == 1  # one attempt, no retry
    assert "30003" in proc.stdout + proc.stderr + "".join(probe_run["log_files"].values())
    assert probe_run["rendered"] and probe_run["xcom"]
    assert any(m["traceId"] in "".join(probe_run["xcom"]) for m in probe_run["messages"][:1])


def _secrets(probe_run) -> dict[str, str]:
    app = probe_run["app"]
    found = {"appSecret": app.app_secret, "permanentCode": app.permanent_code}
    found.update({f"token {i}": token for i, token in enumerate(sorted(probe_run["tokens"]))})
    return found


@pytest.mark.parametrize(
    "where",
    [
        "stdout",
        "stderr",
        "task log files",
        "AIRFLOW_HOME logs",
        "rendered fields",
        "xcom",
        "sandbox log",
        "alert sent",
    ],
)
def test_no_secret_anywhere(probe_run, where):
    texts = {
        "stdout": [probe_run["proc"].stdout],
        "stderr": [probe_run["proc"].stderr],
        "task log files": list(probe_run["log_files"].values()),
        "AIRFLOW_HOME logs": list(probe_run["home_logs"].values()),
        "rendered fields": probe_run["rendered"],
        "xcom": probe_run["xcom"],
        "sandbox log": [probe_run["sandbox_log"]],
        "alert sent": [m["message"]["content"] for m in probe_run["messages"][1:]],
    }[where]
    if where in ("stdout", "stderr", "sandbox log", "alert sent"):
        assert any(texts), f"{where} is empty: nothing to scan"
    for name, value in _secrets(probe_run).items():
        assert all(value not in text for text in texts), f"{name} leaked into {where}"
