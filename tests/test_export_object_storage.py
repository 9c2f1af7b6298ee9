"""``FxiaokeToObjectStorageOperator`` in real Airflow (``dag.test()``), reading the sandbox's CRM over
HTTP and writing to an S3-compatible server on loopback (and a local disk) through Airflow's
object storage: windows per timetable, rerun, retry resume (also with each try in a supervised task
process of its own), CSV, what reaches XCom.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest

from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_3_PLUS
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.sandbox import DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE
from fxiaoke_provider.transfers.fxiaoke_to_object_storage import FxiaokeToObjectStorageOperator
from fxiaoke_provider.transfers.window import epoch_ms
from tests.airflow_helpers import (
    TASK_PROCESSES_NEED,
    forget_runs,
    load_dag,
    run_dag,
    task_processes,
    task_states,
    xcom,
    xcoms_holding,
)
from tests.support import TEST_DAGS, requests_to

#: The query path of preset objects (the manual's).
QUERY_PATH = "/cgi/crm/v2/data/query"
ZERO_LENGTH = "fxiaoke_export_zero_length"
DAILY = "fxiaoke_export_daily"
TASK = "export_accounts"


def _at(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _run(dag_id: str, logical_date: datetime, **conf: Any):
    date = {("logical_date" if AIRFLOW_V_3_0_PLUS else "execution_date"): logical_date}
    return run_dag(load_dag(TEST_DAGS / f"{dag_id}.py", dag_id), run_conf=conf, **date)


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def _put(sandbox, *modified: datetime) -> list[dict[str, Any]]:
    """Records modified at these times (in ``_id`` order), as the sandbox holds them."""
    ids = sandbox.put_records(
        "AccountObj",
        [{"name": f"Account {i}", "last_modified_time": epoch_ms(at)} for i, at in enumerate(modified)],
    )
    return [sandbox.record("AccountObj", record_id) for record_id in ids]


@pytest.fixture
def export_env(sandbox, use_connection, s3_bucket):
    use_connection(sandbox, retry_max_attempts=2)
    forget_runs(ZERO_LENGTH)
    forget_runs(DAILY)
    return sandbox, s3_bucket


# --- windows -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_zero_length_runs_chain_from_the_last_success_and_the_first_reads_everything_before(export_env):
    sandbox, bucket = export_env
    first, second, later = _put(sandbox, _at(1, 12), _at(2, 12), _at(3, 12))
    dest = bucket.url("fxiaoke")

    run1 = _run(ZERO_LENGTH, _at(2), dest=dest)  # first run ever: everything before its end
    run2 = _run(ZERO_LENGTH, _at(3), dest=dest)  # from where run 1 ended

    assert task_states(run1) == task_states(run2) == {TASK: "success"}
    assert _lines(bucket.read("fxiaoke/accounts/2026-03-02.jsonl")) == [first]
    assert _lines(bucket.read("fxiaoke/accounts/2026-03-03.jsonl")) == [second]
    assert xcom(run2, TASK) == {"path": f"{dest}/accounts/2026-03-03.jsonl", "records": 1}
    assert later["last_modified_time"] >= epoch_ms(_at(3))  # the next run's, not lost: outside both
    assert bucket.object_keys() == ["fxiaoke/accounts/2026-03-02.jsonl", "fxiaoke/accounts/2026-03-03.jsonl"]


@pytest.mark.slow
def test_a_data_interval_is_the_window_and_csv_has_the_fields_in_order(export_env, tmp_path):
    sandbox, _bucket = export_env
    records = _put(sandbox, *(_at(day, hour, month=4) for day in (1, 2, 3) for hour in (0, 11, 23)))

    run = _run(DAILY, _at(3, month=4), dest=f"file://{tmp_path}")

    assert task_states(run) == {"export_accounts_csv": "success"}
    start, end = epoch_ms(run.data_interval_start), epoch_ms(run.data_interval_end)
    assert end - start == 86_400_000  # a day, not zero
    inside = [r for r in records if start <= r["last_modified_time"] < end]
    assert len(inside) == 3
    path = tmp_path / "accounts" / f"{run.logical_date:%Y-%m-%d}.csv"
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8"), newline="")))
    assert rows == [["name", "owner", "last_modified_time"]] + [
        [r["name"], json.dumps(r["owner"], separators=(",", ":")), str(r["last_modified_time"])]
        for r in inside
    ]
    assert xcom(run, "export_accounts_csv") == {"path": f"file://{path}", "records": 3}


# --- rerun and retry ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_rerun_of_the_same_interval_replaces_the_file(export_env):
    sandbox, bucket = export_env
    (record,) = _put(sandbox, _at(1, 12))
    dest = bucket.url("fxiaoke")
    _run(ZERO_LENGTH, _at(2), dest=dest)
    edited = sandbox.edit_record(
        "AccountObj", record["_id"], {"name": "Renamed"}, modified_at_ms=epoch_ms(_at(1, 13))
    )

    rerun = _run(ZERO_LENGTH, _at(2), dest=dest)

    assert task_states(rerun) == {TASK: "success"}
    assert _lines(bucket.read("fxiaoke/accounts/2026-03-02.jsonl")) == [edited]
    assert bucket.object_keys() == ["fxiaoke/accounts/2026-03-02.jsonl"]  # no staging left behind


@pytest.mark.slow
def test_a_retry_after_a_failure_mid_export_writes_each_record_once(export_env):
    """Airflow >= 3.3 resumes after the last staged part; below, the retry reads everything again."""
    sandbox, bucket = export_env
    sandbox.seed_records("AccountObj", 55)  # all modified in 2025: before the run's end
    expected = sandbox.records("AccountObj")
    sandbox.add_fault(QUERY_PATH, "delay", count=4, seconds=0)  # pages 1-4 answered as usual
    sandbox.add_fault(QUERY_PATH, "error", count=2, code=-1)  # page 5: busy, twice (all attempts)

    run = _run(ZERO_LENGTH, _at(2), dest=bucket.url("fxiaoke"))

    assert task_states(run) == {TASK: "success"}
    (ti,) = run.get_task_instances()
    assert ti.try_number == 2
    assert _lines(bucket.read("fxiaoke/accounts/2026-03-02.jsonl")) == expected  # each once, in order
    answered = [r for r in requests_to(sandbox, QUERY_PATH) if r["errorCode"] == 0]
    # Try 1 read 4 pages (40 records) and staged 2 parts of 20; the retry reads the 15 after them
    # (2 pages) where it can resume, else all 55 again (6 pages).
    assert len(answered) == (4 + 2 if AIRFLOW_V_3_3_PLUS else 4 + 6)
    assert bucket.object_keys() == ["fxiaoke/accounts/2026-03-02.jsonl"]


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason=TASK_PROCESSES_NEED)
def test_a_retry_in_another_task_process_resumes_after_the_parts_already_written(export_env, tmp_path):
    """As above, each try in its own supervised task process: only the task state store joins them."""
    sandbox, bucket = export_env
    sandbox.seed_records("AccountObj", 55)
    expected = sandbox.records("AccountObj")
    sandbox.add_fault(QUERY_PATH, "delay", count=4, seconds=0)  # pages 1-4 answered as usual
    sandbox.add_fault(QUERY_PATH, "error", count=2, code=-1)  # page 5: busy, twice (all attempts)

    with task_processes(tmp_path) as runner:
        run = runner.run(
            TEST_DAGS / f"{ZERO_LENGTH}.py",
            ZERO_LENGTH,
            bundle="fxiaoke_test_dags",
            logical_date=_at(2),
            conf={"dest": bucket.url("fxiaoke")},
        )
    first, second = run.tries(TASK)

    answered = [r for r in requests_to(sandbox, QUERY_PATH) if r["errorCode"] == 0]
    print(
        f"\ntask processes: try 1 pid {first.pid} ({first.state}), try 2 pid {second.pid} ({second.state}); "
        f"test pid {os.getpid()}, CLI pid {run.cli_pid}; pages answered {len(answered)}; "
        f"records written {len(_lines(bucket.read('fxiaoke/accounts/2026-03-02.jsonl')))}"
    )
    assert None not in (first.pid, second.pid) and first.pid != second.pid
    assert not {first.pid, second.pid} & {os.getpid(), run.cli_pid}
    assert (first.state, second.state) == ("failed", "success")
    assert "Resuming an earlier try's export: 2 part(s), 40 record(s) staged" in second.log
    assert _lines(bucket.read("fxiaoke/accounts/2026-03-02.jsonl")) == expected  # each once, in order
    assert len(answered) == 4 + 2  # the retry read only the 15 records after the staged parts
    assert bucket.object_keys() == ["fxiaoke/accounts/2026-03-02.jsonl"]


# --- what reaches files and XCom -------------------------------------------------------------------
@pytest.mark.slow
def test_no_secret_reaches_the_file_or_xcom(export_env):
    sandbox, bucket = export_env
    _put(sandbox, _at(1, 12))
    run = _run(ZERO_LENGTH, _at(2), dest=bucket.url("fxiaoke"))

    token = FxiaokeHook().fetch_token().value
    secrets = [DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, token]
    data = bucket.read("fxiaoke/accounts/2026-03-02.jsonl").decode()
    assert not [secret for secret in secrets if secret in data]
    assert xcoms_holding(run, secrets) == []


# --- bad input: refused when the DAG file is parsed ----------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"file_format": "parquet"}, "file_format"),
        ({"records_per_part": 0}, "records_per_part"),
        ({"incremental": "yes"}, "incremental"),
        ({"modified_field": ""}, "modified_field"),
        ({"dest_path": " "}, "dest_path"),
        ({"fields": "name"}, "fields"),
        ({"fields": ["name", "name"]}, "fields"),
    ],
)
def test_bad_arguments_are_refused_naming_the_field(kwargs, field):
    arguments = {
        "task_id": "export",
        "object_api_name": "AccountObj",
        "dest_path": "file:///x.jsonl",
        **kwargs,
    }
    with pytest.raises(FxiaokeInvalidInputError) as error:
        FxiaokeToObjectStorageOperator(**arguments)
    assert error.value.field == field


def test_the_transfer_is_declared_to_airflow():
    from fxiaoke_provider.get_provider_info import get_provider_info

    (transfer,) = get_provider_info()["transfers"]
    assert transfer["source-integration-name"] == "Fxiaoke"
    module = importlib.import_module(transfer["python-module"])
    assert module.FxiaokeToObjectStorageOperator is FxiaokeToObjectStorageOperator
