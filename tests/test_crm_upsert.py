"""``FxiaokeUpsertRecordsOperator``: the operator's own rules, then the upsert end to end.

The first half drives ``execute`` with a scripted store (the engine's rules are in
``test_crm_upsert_engine.py``): where rows come from, what reaches XCom, which stops Airflow retries
and which fail for good. The second half runs real DAGs (``dag.test()``, and each try in a
supervised task process of its own) against the sandbox's CRM and counts records: every row's
record exactly once, with the row's values.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from fxiaoke_provider.airflow_support.version_compat import (
    AIRFLOW_V_3_3_PLUS,
    AirflowFailException,
)
from fxiaoke_provider.crm.upsert import CHUNK_KEY_PREFIX
from fxiaoke_provider.exceptions import (
    FxiaokeInvalidInputError,
    FxiaokeOutcomeUnknownError,
    FxiaokeTransientError,
)
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.operators.crm import (
    UPSERT_CREATED_IDS_XCOM_KEY,
    UPSERT_REFUSED_ROWS_XCOM_KEY,
    FxiaokeUpsertRecordsOperator,
)
from tests.airflow_helpers import (
    TASK_PROCESSES_NEED,
    load_dag,
    run_dag,
    task_processes,
    task_states,
    xcom,
)
from tests.support import TEST_DAGS, FakeRecords, context_with_ti, requests_to
from tests.test_checkpoint import DictStore

OBJ = "LeadsObj"
MATCH = "external_id__c"
CREATE = "/cgi/crm/v2/data/create"
QUERY = "/cgi/crm/v2/data/query"
UPDATE = "/cgi/crm/v2/data/update"


def lead(i: int, **extra) -> dict:
    return {MATCH: f"form-{i:04d}", "name": f"Lead {i}", "company": f"Company {i}", "source": "web", **extra}


def operator(store: FakeRecords | None = None, **kwargs) -> FxiaokeUpsertRecordsOperator:
    op = FxiaokeUpsertRecordsOperator(task_id="upsert", object_api_name=OBJ, match_field=MATCH, **kwargs)
    if store is not None:
        op.__dict__["hook"] = store  # the scripted store stands in for the hook
    return op


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


# --- the operator's own rules (scripted store) ----------------------------------------------------
def test_rows_rendered_as_json_text_are_upserted_and_the_outcome_reaches_xcom():
    store = FakeRecords([lead(1, company="old")])
    context, ti = context_with_ti()
    rows = [lead(0), lead(1)]
    result = operator(store, records=json.dumps(rows)).execute(context)
    assert result == {"created": 1, "updated": 1, "refused": 0}
    (created,) = [r["_id"] for r in store.with_value(MATCH, "form-0000")]
    assert ti.pushed == [(UPSERT_CREATED_IDS_XCOM_KEY, [created]), (UPSERT_REFUSED_ROWS_XCOM_KEY, [])]


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_rows_are_read_from_an_object_storage_url(tmp_path, kind):
    rows = [lead(i) for i in range(3)]
    if kind == "jsonl":
        path = write_jsonl(tmp_path / "leads.jsonl", rows)
    else:
        header = list(rows[0])
        lines = [",".join(header)] + [",".join(str(row[h]) for h in header) for row in rows]
        path = tmp_path / "leads.csv"
        path.write_text("\n".join(lines) + "\n")
    store = FakeRecords()
    result = operator(store, source_path=f"file://{path}").execute(context_with_ti()[0])
    assert result["created"] == 3
    assert [store.with_value(MATCH, row[MATCH])[0]["company"] for row in rows] == [r["company"] for r in rows]


def test_refused_rows_fail_the_task_at_the_end_unless_allowed():
    rows = [lead(0), {MATCH: "form-0001", "company": "no name"}, lead(2)]
    store = FakeRecords()
    context, ti = context_with_ti()
    with pytest.raises(AirflowFailException, match=r"1 row\(s\) refused.*records\[1\] \('form-0001'\).*name"):
        operator(store, records=rows).execute(context)
    assert len(store.records) == 2  # the others were written
    refused = dict(ti.pushed)[UPSERT_REFUSED_ROWS_XCOM_KEY]
    assert [(r["row"], r["match_value"]) for r in refused] == [("records[1]", "form-0001")]

    result = operator(FakeRecords(), records=rows, allow_refused_rows=1).execute(context_with_ti()[0])
    assert result == {"created": 2, "updated": 0, "refused": 1}


@pytest.mark.parametrize(
    ("script", "seen"),
    [
        ("busy", FxiaokeTransientError),  # Airflow retries; the journal resumes
        ("lose", FxiaokeOutcomeUnknownError),  # Airflow retries; the retry looks the row up first
        ("quota", AirflowFailException),  # a retry cannot help
    ],
)
def test_a_stop_is_retryable_exactly_when_a_retry_can_finish_the_job(script, seen):
    store = FakeRecords()
    store.script["form-0001"] = script
    with pytest.raises(seen):
        operator(store, records=[lead(0), lead(1)]).execute(context_with_ti()[0])


def test_bad_rows_fail_for_good_before_anything_is_sent():
    store = FakeRecords()
    with pytest.raises(AirflowFailException, match=r"records\[1\]\['external_id__c'\]: is missing"):
        operator(store, records=[lead(0), {"name": "x"}]).execute(context_with_ti()[0])
    with pytest.raises(AirflowFailException, match="records: must be a list"):
        operator(store, records={"not": "a list"}).execute(context_with_ti()[0])
    assert store.calls == []


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store exists from Airflow 3.3 on")
def test_a_retry_resumes_from_the_task_state_store():
    store, state = FakeRecords(), DictStore()
    store.script["form-0002"] = "lose"
    rows = [lead(i) for i in range(4)]
    with pytest.raises(FxiaokeOutcomeUnknownError):
        operator(store, records=rows).execute({**context_with_ti()[0], "task_state_store": state})
    assert list(state.data[f"{CHUNK_KEY_PREFIX}0"]["in_flight"]) == ["form-0002"]
    result = operator(store, records=rows).execute({**context_with_ti()[0], "task_state_store": state})
    assert result == {"created": 4, "updated": 0, "refused": 0}
    assert Counter(r[MATCH] for r in store.records.values()) == Counter(r[MATCH] for r in rows)
    assert state.data == {}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"records": [lead(0)], "source_path": "file:///x.jsonl"}, "records"),
        ({}, "records"),
        ({"records": [], "match_field": ""}, "match_field"),
        ({"records": [], "match_field": "_id"}, "match_field"),
        ({"records": [], "allow_refused_rows": -1}, "allow_refused_rows"),
        ({"records": [], "allow_refused_rows": True}, "allow_refused_rows"),
        ({"source_path": "file:///x", "source_format": "parquet"}, "source_format"),
        ({"records": [], "object_api_name": " "}, "object_api_name"),
    ],
)
def test_arguments_are_checked_when_the_dag_is_parsed(kwargs, field):
    options = {"task_id": "upsert", "object_api_name": OBJ, "match_field": MATCH, **kwargs}
    with pytest.raises(FxiaokeInvalidInputError) as raised:
        FxiaokeUpsertRecordsOperator(**options)
    assert raised.value.field == field


# --- end to end against the sandbox -----------------------------------------------------------------
DAG_FILE = TEST_DAGS / "fxiaoke_it_upsert.py"


def records_of(rows: list[dict]) -> dict[str, list[dict]]:
    """The sandbox's records carrying the rows' match values, by match value (read through the hook)."""
    hook, found = FxiaokeHook(), {}
    values = [row[MATCH] for row in rows]
    for start in range(0, len(values), 99):
        batch = values[start : start + 99]
        for record in hook.iter_records(OBJ, filters=[(MATCH, "IN", batch)]):
            found.setdefault(record[MATCH], []).append(record)
    return found


def assert_each_row_once_with_its_values(rows: list[dict]) -> None:
    found = records_of(rows)
    assert {value: len(records) for value, records in found.items() if len(records) != 1} == {}
    assert sorted(found) == sorted(row[MATCH] for row in rows)
    for row in rows:
        (record,) = found[row[MATCH]]
        assert {k: record.get(k) for k in row} == row


def seed(rows: list[dict]) -> list[str]:
    """Records that exist before the upsert (with an older company), made through the client."""
    hook = FxiaokeHook()
    return [hook.create_record(OBJ, {**row, "company": "before"}) for row in rows]


def run_upsert(monkeypatch, tmp_path, rows, *, source="file", retries=1, allow=0):
    monkeypatch.setenv("FXIAOKE_IT_UPSERT_SOURCE", str(write_jsonl(tmp_path / "leads.jsonl", rows)))
    monkeypatch.setenv("FXIAOKE_IT_UPSERT_FROM", source)
    monkeypatch.setenv("FXIAOKE_IT_UPSERT_RETRIES", str(retries))
    monkeypatch.setenv("FXIAOKE_IT_UPSERT_ALLOW", str(allow))
    return run_dag(load_dag(DAG_FILE, "fxiaoke_it_upsert"))


def try_number(dag_run, task_id: str = "upsert") -> int:
    return next(ti.try_number for ti in dag_run.get_task_instances() if ti.task_id == task_id)


@pytest.mark.slow
def test_120_rows_of_which_20_exist_create_100_and_update_20(sandbox, use_connection, monkeypatch, tmp_path):
    use_connection(sandbox)
    rows = [lead(i) for i in range(120)]
    existing = seed(rows[100:])
    before = {path: len(requests_to(sandbox, path)) for path in (CREATE, QUERY, UPDATE)}

    dag_run = run_upsert(monkeypatch, tmp_path, rows)

    assert task_states(dag_run) == {"upsert": "success"}
    assert xcom(dag_run, "upsert") == {"created": 100, "updated": 20, "refused": 0}
    created = xcom(dag_run, "upsert", UPSERT_CREATED_IDS_XCOM_KEY)
    assert len(set(created)) == 100 and not set(created) & set(existing)
    calls = {path: len(requests_to(sandbox, path)) - before[path] for path in before}
    assert calls == {CREATE: 100, QUERY: 2, UPDATE: 20}  # 1 call per created row, 1 look-up per 99 rows
    assert_each_row_once_with_its_values(rows)


@pytest.mark.slow
def test_a_lost_create_answer_mid_way_is_resolved_by_the_retry(
    sandbox, use_connection, monkeypatch, tmp_path
):
    """The 51st create is applied but its connection drops; retries=1; rows come through XCom."""
    use_connection(sandbox)
    rows = [lead(i) for i in range(120)]
    seed(rows[100:])
    sandbox.add_fault(CREATE, "delay", count=50, seconds=0, deliver=True)  # answered normally
    sandbox.add_fault(CREATE, "reset", count=1, deliver=True)  # created, answer lost

    dag_run = run_upsert(monkeypatch, tmp_path, rows, source="xcom")

    assert task_states(dag_run) == {"read_rows": "success", "upsert": "success"}
    assert try_number(dag_run) == 2
    assert_each_row_once_with_its_values(rows)
    assert sum(1 for r in requests_to(sandbox, CREATE) if r["delivered"]) == 20 + 100  # seeds + one each
    if AIRFLOW_V_3_3_PLUS:  # the journal knows the 51st was this task's create
        assert xcom(dag_run, "upsert") == {"created": 100, "updated": 20, "refused": 0}
    else:  # the retry starts over: the first try's creates are found and count as updated
        assert xcom(dag_run, "upsert") == {"created": 49, "updated": 71, "refused": 0}

    rerun = run_upsert(monkeypatch, tmp_path, rows)
    assert xcom(rerun, "upsert") == {"created": 0, "updated": 120, "refused": 0}
    assert sum(1 for r in requests_to(sandbox, CREATE) if r["delivered"]) == 120  # the rerun created nothing
    assert_each_row_once_with_its_values(rows)


@pytest.mark.slow
def test_a_refused_row_is_reported_by_its_match_value_while_the_others_are_written(
    sandbox, use_connection, monkeypatch, tmp_path
):
    use_connection(sandbox)
    rows = [lead(i) for i in range(10)]
    rows[4] = lead(4, source="carrier pigeon")  # not one of the select field's options

    dag_run = run_upsert(monkeypatch, tmp_path, rows)

    assert task_states(dag_run) == {"upsert": "failed"}
    assert try_number(dag_run) == 1  # refused for its content: a retry cannot help
    [refused] = xcom(dag_run, "upsert", UPSERT_REFUSED_ROWS_XCOM_KEY)
    assert refused["match_value"] == "form-0004" and refused["row"].endswith("line 5")
    assert "errorCode" in refused["reason"]
    assert_each_row_once_with_its_values(rows[:4] + rows[5:])
    assert "form-0004" not in records_of(rows)

    allowed = run_upsert(monkeypatch, tmp_path, rows, allow=1)
    assert task_states(allowed) == {"upsert": "success"}
    assert xcom(allowed, "upsert") == {"created": 0, "updated": 9, "refused": 1}


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason=TASK_PROCESSES_NEED)
def test_a_lost_create_answer_is_resolved_by_a_retry_in_another_task_process(
    sandbox, use_connection, tmp_path
):
    """Each try in its own supervised task process; only the task state store joins them."""
    use_connection(sandbox)
    rows = [lead(i) for i in range(120)]
    seed(rows[100:])
    sandbox.add_fault(CREATE, "delay", count=50, seconds=0, deliver=True)  # answered normally
    sandbox.add_fault(CREATE, "reset", count=1, deliver=True)  # created, answer lost
    env = {
        "FXIAOKE_IT_UPSERT_SOURCE": str(write_jsonl(tmp_path / "leads.jsonl", rows)),
        "FXIAOKE_IT_UPSERT_FROM": "file",
        "FXIAOKE_IT_UPSERT_RETRIES": "1",
        "FXIAOKE_IT_UPSERT_ALLOW": "0",
    }

    with task_processes(tmp_path) as runner:
        run = runner.run(DAG_FILE, "fxiaoke_it_upsert", bundle="fxiaoke_test_dags", env=env)
        first, second = run.tries("upsert")
        outcome = xcom(run.dag_run, "upsert")
        rerun = runner.run(DAG_FILE, "fxiaoke_it_upsert", bundle="fxiaoke_test_dags", env=env)
        (again,) = rerun.tries("upsert")

    (lost,) = [r for r in requests_to(sandbox, CREATE) if r["fault"] == "reset"]
    records = records_of(rows)
    print(
        f"\ntask processes: try 1 pid {first.pid} ({first.state}), try 2 pid {second.pid} ({second.state}), "
        f"rerun pid {again.pid}; test pid {os.getpid()}, CLI pids {run.cli_pid}/{rerun.cli_pid}; "
        f"lost create {lost['thirdTraceId']}; outcome {outcome}; rerun {xcom(rerun.dag_run, 'upsert')}; "
        f"records per match value {sorted(Counter(len(r) for r in records.values()).items())} "
        f"over {len(records)} values; delivered creates "
        f"{sum(1 for r in requests_to(sandbox, CREATE) if r['delivered'])}"
    )
    # every try ran in a process of its own, neither the test's nor the CLI's
    pids = [first.pid, second.pid, again.pid]
    assert None not in pids and len(set(pids)) == 3
    assert not set(pids) & {os.getpid(), run.cli_pid, rerun.cli_pid}
    assert (first.try_number, second.try_number) == (1, 2)
    assert (first.state, second.state) == ("failed", "success")
    # try 1 wrote the lost create into the task state store; try 2, in another process, read it back
    assert lost["delivered"] and lost["thirdTraceId"] in first.log
    assert f"thirdTraceIds: {lost['thirdTraceId']}" in second.log
    assert outcome == {"created": 100, "updated": 20, "refused": 0}  # the 51st counted as created
    assert_each_row_once_with_its_values(rows)
    assert sum(1 for r in requests_to(sandbox, CREATE) if r["delivered"]) == 20 + 100  # seeds + one each
    # a rerun creates nothing
    assert xcom(rerun.dag_run, "upsert") == {"created": 0, "updated": 120, "refused": 0}
    assert sum(1 for r in requests_to(sandbox, CREATE) if r["delivered"]) == 120
