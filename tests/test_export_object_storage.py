"""``FxiaokeToObjectStorageOperator`` in real Airflow (``dag.test()``), reading the sandbox's CRM over
HTTP and writing to an S3-compatible server on loopback (and a local disk) through Airflow's
object storage: windows per timetable, rerun, retry resume (also with each try in a supervised task
process of its own), depth past the offset cap, records edited while the export pages, CSV, what
reaches XCom.
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
from fxiaoke_provider.sandbox import DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, SandboxGateway
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


# --- depth ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_full_export_reads_25000_records_past_the_offset_cap_each_once(use_connection, tmp_path):
    """Offset paging stops at 10,000 (10013); the export pages on _id and reads every record once.
    No rate limit here (251 calls would take 40 s); ``execute`` is called directly: windows and
    task state are the DAG tests' business above."""
    dest = tmp_path / "accounts.jsonl"
    seed = {"AccountObj": 25_000}
    with SandboxGateway(port=0, token_delay_s=0.0, rate_limit_calls=0, crm_seed=seed) as sandbox:
        use_connection(sandbox, rate_limit_calls=0)
        operator = FxiaokeToObjectStorageOperator(
            task_id="export_all", object_api_name="AccountObj", dest_path=f"file://{dest}", incremental=False
        )

        assert operator.execute({}) == {"path": f"file://{dest}", "records": 25_000}

        expected = [record["_id"] for record in sandbox.records("AccountObj")]
        codes = [r["errorCode"] for r in requests_to(sandbox, QUERY_PATH)]
    ids = [json.loads(line)["_id"] for line in dest.read_text("utf-8").splitlines()]
    assert len(ids) == len(set(ids)) == 25_000
    assert ids == expected  # in _id order, as the sandbox holds them
    assert codes == [0] * 251  # 250 full pages and the empty one that ends the stream; no 10013


# --- records that change while the export pages --------------------------------------------------
#: The test DAG's page size: the export asks for the next page after every PAGE records.
PAGE = 10


def _editing_between_pages(monkeypatch, edits: dict[int, Any]) -> list[int]:
    """Someone works in the CRM while the export pages: ``edits[k]()`` runs after the export has
    taken page ``k``'s records and before it asks for page ``k + 1``. The hook itself is the real
    one (real HTTP to the sandbox); only its stream is watched. Returns the pages edits ran after."""
    original = FxiaokeHook.iter_records
    ran: list[int] = []

    def iter_records(self, *args: Any, **kwargs: Any):
        for taken, record in enumerate(original(self, *args, **kwargs), start=1):
            yield record
            if taken % PAGE == 0 and taken // PAGE in edits:
                ran.append(taken // PAGE)
                edits[taken // PAGE]()

    monkeypatch.setattr(FxiaokeHook, "iter_records", iter_records)
    return ran


@pytest.mark.slow
def test_records_edited_while_the_export_pages_are_written_once_and_no_unedited_one_is_lost(
    export_env, monkeypatch
):
    """Edits behind the cursor (in the window, out of it, invalidated: each would shift an offset or
    a modified-time order) and ahead of it, between pages. The file holds every record of the window
    once: an edited one as it was when its page was read, an unedited one as it is."""
    sandbox, bucket = export_env
    records = _put(sandbox, *(_at(1, hour % 24) for hour in range(45)))  # 5 pages: 10, 10, 10, 10, 5
    ids = [record["_id"] for record in records]
    inside, outside = epoch_ms(_at(1, 23)), epoch_ms(_at(9))  # the run's window ends at _at(2)
    read_as: dict[int, dict[str, Any]] = {}  # records edited ahead of the cursor: as the export reads them
    gone: set[int] = set()  # edited ahead of the cursor out of the window: the next window's records
    edited: set[int] = set()

    def edit(index: int, fields: dict[str, Any], at_ms: int) -> dict[str, Any]:
        edited.add(index)
        return sandbox.edit_record("AccountObj", ids[index], fields, modified_at_ms=at_ms)

    def after_page_1() -> None:
        edit(3, {"name": "renamed behind"}, inside)  # already written: not again
        edit(5, {"name": "moved out behind"}, outside)
        edit(7, {"life_status": "invalid"}, inside)  # invalidated behind: offsets would shift
        read_as[15] = edit(15, {"name": "renamed ahead"}, inside)  # written once, as edited
        edit(16, {"name": "moved out ahead"}, outside)
        gone.add(16)
        edit(17, {"life_status": "invalid"}, inside)
        gone.add(17)

    def after_page_2() -> None:
        for index in range(0, 20, 2):  # every other written record modified again, still in the window
            edit(index, {"tel": "edited again"}, inside)
        read_as[25] = edit(25, {"name": "renamed ahead"}, inside)
        edit(29, {"name": "moved out ahead"}, outside)
        gone.add(29)

    def after_page_3() -> None:
        for index in range(20, 30):  # the page just written: modified once more (25 a second time)
            edit(index, {"tel": "edited after its page"}, inside)

    ran = _editing_between_pages(monkeypatch, {1: after_page_1, 2: after_page_2, 3: after_page_3})

    run = _run(ZERO_LENGTH, _at(2), dest=bucket.url("fxiaoke"))

    assert task_states(run) == {TASK: "success"}
    assert ran == [1, 2, 3]
    written = _lines(bucket.read("fxiaoke/accounts/2026-03-02.jsonl"))
    written_ids = [record["_id"] for record in written]
    assert len(written_ids) == len(set(written_ids))  # never twice
    unedited = [record for i, record in enumerate(records) if i not in edited]
    assert len(unedited) == 20 and all(record in written for record in unedited)  # none lost, as they are
    expected = [read_as.get(i, record) for i, record in enumerate(records) if i not in gone]
    assert written == expected
    assert xcom(run, TASK)["records"] == len(expected) == 42
    pages = [r for r in requests_to(sandbox, QUERY_PATH) if r["errorCode"] == 0]
    assert len(pages) == 5  # one pass, no page read again


@pytest.mark.slow
def test_records_edited_between_a_failed_try_and_its_retry_are_written_once(export_env, monkeypatch):
    """Try 1 stages 40 records (2 parts) and fails; records change before the retry reads. On
    Airflow >= 3.3 the retry resumes after the staged parts, so a staged record stays as it was
    staged; below, the retry reads everything again as it is now. Either way: each record once,
    no unedited record lost."""
    sandbox, bucket = export_env
    records = _put(sandbox, *(_at(1, hour % 24) for hour in range(55)))
    ids = [record["_id"] for record in records]
    inside, outside = epoch_ms(_at(1, 23)), epoch_ms(_at(9))
    sandbox.add_fault(QUERY_PATH, "delay", count=4, seconds=0)  # pages 1-4 answered as usual
    sandbox.add_fault(QUERY_PATH, "error", count=2, code=-1)  # page 5: busy on both attempts
    original, reads, now = FxiaokeHook.iter_records, [], {}

    def iter_records(self, *args: Any, **kwargs: Any):
        reads.append(kwargs.get("after_id"))
        if len(reads) == 2:  # the retry, before it reads anything
            now[10] = sandbox.edit_record(
                "AccountObj", ids[10], {"name": "staged, renamed"}, modified_at_ms=inside
            )
            now[12] = sandbox.edit_record(
                "AccountObj", ids[12], {"life_status": "invalid"}, modified_at_ms=inside
            )
            now[45] = sandbox.edit_record(
                "AccountObj", ids[45], {"name": "ahead, renamed"}, modified_at_ms=inside
            )
            now[46] = sandbox.edit_record(
                "AccountObj", ids[46], {"name": "ahead, moved"}, modified_at_ms=outside
            )
        yield from original(self, *args, **kwargs)

    monkeypatch.setattr(FxiaokeHook, "iter_records", iter_records)

    run = _run(ZERO_LENGTH, _at(2), dest=bucket.url("fxiaoke"))

    assert task_states(run) == {TASK: "success"}
    assert len(reads) == 2
    written = _lines(bucket.read("fxiaoke/accounts/2026-03-02.jsonl"))
    assert len({record["_id"] for record in written}) == len(written)  # never twice
    unedited = [record for i, record in enumerate(records) if i not in now]
    assert all(record in written for record in unedited)  # none lost, as they are
    if AIRFLOW_V_3_3_PLUS:  # resumed after the 40 staged records: those stay as they were staged
        assert reads == [None, ids[39]]
        expected = [now[45] if i == 45 else r for i, r in enumerate(records) if i != 46]
    else:  # read again from the start: every record as it is now, the invalidated one gone
        assert reads == [None, None]
        expected = [now.get(i, r) for i, r in enumerate(records) if i not in (12, 46)]
    assert written == expected


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
