"""Every example DAG runs with ``dag.test()`` against the sandbox and delivers what its docstring promises."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import pytest

from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging.wire import CRM_RECORD_LINK_PREFIX
from fxiaoke_provider.operators.fxiaoke import TRACE_IDS_XCOM_KEY
from fxiaoke_provider.sandbox import DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE
from tests.airflow_helpers import forget_runs, load_dag, run_dag, task_states, xcom, xcoms_holding
from tests.support import EXAMPLE_DAGS, SERVICE_ID

try:
    from airflow.sdk import DeadlineAlert
except ImportError:  # deadline alerts exist from Airflow 3.1
    DeadlineAlert = None

COVERED = {
    "fxiaoke_articles",
    "fxiaoke_contracts_changed_today",
    "fxiaoke_cover_images",
    "fxiaoke_crm_card",
    "fxiaoke_deadline_alert",
    "fxiaoke_crm_nightly_export",
    "fxiaoke_department_broadcast",
    "fxiaoke_dynamic_groups",
    "fxiaoke_failure_alert",
    "fxiaoke_leads_from_file",
    "fxiaoke_nightly_load",
    "fxiaoke_on_call_by_mobile",
}


def _run_example(dag_id: str):
    return run_dag(load_dag(EXAMPLE_DAGS / f"{dag_id}.py", dag_id))


def _ds(dag_run) -> str:
    return dag_run.logical_date.strftime("%Y-%m-%d")


def test_every_example_dag_is_covered_here():
    assert {path.stem for path in EXAMPLE_DAGS.glob("*.py")} == COVERED


def test_nightly_load_reports_rows_and_keeps_the_trace_id(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = _run_example("fxiaoke_nightly_load")

    assert task_states(dag_run) == dict.fromkeys(["load_contracts", "notify_data_team", "audit"], "success")
    (message,) = sandbox.messages()
    assert message["toUser"] == ["1000", "1001"]  # params.data_team through | tojson
    assert message["serviceId"] == SERVICE_ID
    assert message["message"] == {
        "content": f"Nightly contract load for {_ds(dag_run)} finished: 1284 rows loaded."
    }
    assert xcom(dag_run, "notify_data_team") == message["traceId"]
    assert xcom(dag_run, "audit") == message["traceId"]

    token = FxiaokeHook().fetch_token().value  # the same token the task used (renewal window)
    assert xcoms_holding(dag_run, [message["traceId"]])  # the scan does read the values
    assert xcoms_holding(dag_run, [DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, token]) == []


def test_crm_card_links_the_account_from_params(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = _run_example("fxiaoke_crm_card")

    assert task_states(dag_run) == {"contract_changed_card": "success"}
    (message,) = sandbox.messages()
    assert message["msgType"] == "composite"
    assert message["toUser"] == ["1000"]
    target = {"objDescApiName": "AccountObj", "objDataId": "5f1a2b3c4d5e6f7a8b9c0d1e"}
    assert message["message"] == {
        "head": {"title": "Contract data changed"},
        "first": {"content": "ACME Trading: contract amounts were updated by the ERP sync"},
        "form": [{"label": "Run", "value": dag_run.run_id}, {"label": "Date", "value": _ds(dag_run)}],
        "remark": {"content": "Open the account to review the change."},
        "link": {
            "title": "Open account",
            "url": CRM_RECORD_LINK_PREFIX + json.dumps(target, separators=(",", ":")),
        },
    }
    assert xcom(dag_run, "contract_changed_card") == message["traceId"]


def test_articles_digest_sends_two_articles(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = _run_example("fxiaoke_articles")

    assert task_states(dag_run) == {"weekly_digest": "success"}
    (message,) = sandbox.messages()
    assert message["msgType"] == "articles"
    assert message["toUser"] == ["1000", "1001", "1002"]
    first, second = message["message"]
    assert first["title"] == f"Pipeline digest for {_ds(dag_run)}"
    assert first["type"] == "TEXT" and first["coverImageInContent"] is True
    assert second == {
        "title": "Dashboard",
        "coverImage": "sandbox-media-0002",
        "type": "URL",
        "content": "https://bi.example.com/pipelines",
    }
    assert xcom(dag_run, "weekly_digest") == message["traceId"]


def test_failure_alert_fails_the_task_and_notifies(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = _run_example("fxiaoke_failure_alert")

    assert task_states(dag_run) == {"flaky_extract": "failed"}
    (message,) = sandbox.messages()
    assert message["toUser"] == ["1000"]
    text = message["message"]["content"]
    assert text.startswith(f"Task flaky_extract in fxiaoke_failure_alert failed ({dag_run.run_id}). Log: ")
    assert "{{" not in text and len(text.split("Log: ", 1)[1]) > 0


def test_dynamic_groups_send_one_message_per_mapped_task(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = _run_example("fxiaoke_dynamic_groups")

    groups = [["1000", "1001"], ["1002"], ["1003", "1004", "1005"]]
    assert task_states(dag_run) == {
        "teams": "success",
        "notify_team[0]": "success",
        "notify_team[1]": "success",
        "notify_team[2]": "success",
    }
    messages = sandbox.messages()
    assert sorted(m["toUser"] for m in messages) == sorted(groups)
    trace_id_of = {tuple(m["toUser"]): m["traceId"] for m in messages}
    for map_index, group in enumerate(groups):
        trace_id = trace_id_of[tuple(group)]
        assert xcom(dag_run, "notify_team", map_index=map_index) == trace_id
        assert xcom(dag_run, "notify_team", key=TRACE_IDS_XCOM_KEY, map_index=map_index) == [trace_id]
    assert {m["message"]["content"] for m in messages} == {
        f"Regional sales figures for {_ds(dag_run)} are ready."
    }


def _deliveries(sandbox) -> dict[str, int]:
    report = sandbox.deliveries_per_person()
    assert report["unknown_ids"] == {}
    return {person: entry["deliveries"] for person, entry in report["persons"].items()}


def test_department_broadcast_reaches_each_person_once(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = _run_example("fxiaoke_department_broadcast")

    assert task_states(dag_run) == dict.fromkeys(["quarter_close", "sales_floor_only"], "success")
    close = [m for m in sandbox.messages() if "Quarter-close" in m["message"]["content"]]
    # 1000 by employee id; 1001 by a mobile listed twice; 1003 by mobile AND department 3; 1004 by department
    assert [sorted(p for p in m["persons"]) for m in close] == [["1000"], ["1001", "1003", "1004"]]
    assert xcom(dag_run, "quarter_close", key=TRACE_IDS_XCOM_KEY) == [m["traceId"] for m in close]
    floor = [m for m in sandbox.messages() if m not in close]
    assert [sorted(m["persons"]) for m in floor] == [["1001", "1002"]]  # Sales without Sales East
    assert _deliveries(sandbox) == {"1000": 1, "1001": 2, "1002": 1, "1003": 1, "1004": 1}


def test_on_call_is_paged_by_mobile(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = _run_example("fxiaoke_on_call_by_mobile")

    assert task_states(dag_run) == {"page_on_call": "success"}
    (message,) = sandbox.messages()
    assert message["persons"] == ["1002", "1004"]
    assert message["message"]["content"].startswith(f"Warehouse load for {_ds(dag_run)} is late")
    assert xcom(dag_run, "page_on_call") == message["traceId"]


def test_cover_images_are_uploaded_once_and_reused(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = _run_example("fxiaoke_cover_images")

    assert task_states(dag_run) == dict.fromkeys(
        ["render_images", "weekly_digest", "upload_banner", "announce_to_sales"], "success"
    )
    uploads = {upload["filename"]: upload["mediaId"] for upload in sandbox.media()}
    assert sorted(uploads) == ["banner.png", "pipeline.png"]  # the chart of two articles: one upload
    (digest,) = [m for m in sandbox.messages() if m["persons"] == ["1000", "1001"]]
    (announce,) = [m for m in sandbox.messages() if m is not digest and m["traceId"] != digest["traceId"]]
    assert [a["coverImage"] for a in digest["message"]] == [uploads["pipeline.png"]] * 2
    assert all("coverImagePath" not in a for a in digest["message"])
    assert announce["message"][0]["coverImage"] == uploads["banner.png"]
    assert xcom(dag_run, "upload_banner") == uploads["banner.png"]
    assert sorted(announce["persons"]) == ["1001", "1002", "1003", "1004"]


def _run_with_deadline(dag, **kwargs) -> tuple[Any, dict]:
    """``dag.test()`` of a DAG with a deadline: the run, and the run as the REST API shows it (what a
    deadline alert's context holds), both read back from the metadata DB.

    Airflow 3.3.2's ``dag.test()`` raises after a successful run of such a DAG while pruning its
    deadlines ('dict' object has no attribute 'hex', apache/airflow#73428); the run itself is done.
    """
    from airflow.api_fastapi.core_api.datamodels.dag_run import DAGRunResponse
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import StatementError

    try:
        run_dag(dag, **kwargs)
    except StatementError as error:
        if not (isinstance(error.orig, AttributeError) and "'hex'" in str(error.orig)):
            raise
    with create_session() as session:
        query = select(DagRun).where(DagRun.dag_id == dag.dag_id).order_by(DagRun.id.desc()).limit(1)
        dag_run = session.scalars(query).one()
        shown = DAGRunResponse.model_validate(dag_run).model_dump(mode="json")
        session.expunge(dag_run)
    return dag_run, shown


@pytest.mark.skipif(DeadlineAlert is None, reason="deadline alerts exist from Airflow 3.1")
def test_deadline_alert_tells_which_run_is_late(sandbox, use_connection):
    """dag.test() runs the DAG, but sets no queued_at and runs no triggerer, so no deadline passes
    (scripts/deadline_alert.sh shows the real one); the alert's callback then runs in the triggerer's
    own CallbackTrigger with the context the scheduler gives a missed deadline."""
    from airflow.triggers.callback import CallbackTrigger

    use_connection(sandbox)
    dag = load_dag(EXAMPLE_DAGS / "fxiaoke_deadline_alert.py", "fxiaoke_deadline_alert")
    dag_run, shown = _run_with_deadline(dag, run_conf={"work_s": 0})
    assert task_states(dag_run) == {"load_contracts": "success"}
    assert sandbox.messages() == []  # nothing is late

    (alert,) = dag.deadline
    assert alert.interval == timedelta(seconds=30)
    assert alert.callback.path == "fxiaoke_provider.notifications.fxiaoke.FxiaokeNotifier"
    assert alert.callback.kwargs["fxiaoke_conn_id"] == "fxiaoke_default"
    deadline_time = dag_run.start_date + alert.interval
    context = {  # only these two keys: no ti, no task
        "dag_run": {**shown, "state": "running"},  # as it is when a deadline passes
        "deadline": {"id": "0199-deadline", "deadline_time": deadline_time},
    }
    trigger = CallbackTrigger(alert.callback.path, {**alert.callback.kwargs, "context": context})

    async def events() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    states = [str(getattr(e["state"], "value", e["state"])) for e in asyncio.run(events())]
    assert states == ["running", "success"]
    (message,) = sandbox.messages()
    assert message["toUser"] == ["1000"] and message["serviceId"] == SERVICE_ID
    assert message["message"]["content"] == (
        f"Contract load fxiaoke_deadline_alert is late: run {dag_run.run_id} was still running at its "
        f"deadline {deadline_time}."
    )


def test_crm_nightly_export_writes_one_file_per_object(sandbox, use_connection, tmp_path):
    use_connection(sandbox)
    objects = ["AccountObj", "ContactObj", "OpportunityObj"]
    now_ms = int(time.time() * 1000)
    for name in objects:
        sandbox.seed_records(name, 20)  # modified long ago
        recent = [
            {"name": f"Changed {k}h ago", "last_modified_time": now_ms - k * 3_600_000} for k in range(1, 49)
        ]
        sandbox.put_records(name, recent)
    forget_runs("fxiaoke_crm_nightly_export")
    dag = load_dag(EXAMPLE_DAGS / "fxiaoke_crm_nightly_export.py", "fxiaoke_crm_nightly_export")
    dag_run = run_dag(dag, run_conf={"dest": f"file://{tmp_path}"})

    assert task_states(dag_run) == {f"export[{i}]": "success" for i in range(len(objects))}
    # Airflow 3's cron schedule: a zero-length interval, the first run: everything before its end.
    # Airflow 2's: the day's data interval.
    start, end = dag_run.data_interval_start, dag_run.data_interval_end
    start_ms = int(start.timestamp() * 1000) if start < end else None
    end_ms = int(end.timestamp() * 1000)
    for map_index, name in enumerate(objects):
        path = tmp_path / name / f"{_ds(dag_run)}.jsonl"
        written = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        expected = [
            r
            for r in sandbox.records(name)
            if (start_ms is None or start_ms <= r["last_modified_time"]) and r["last_modified_time"] < end_ms
        ]
        assert written == expected and len(expected) >= 20
        assert xcom(dag_run, "export", map_index=map_index) == {
            "path": f"file://{path}",
            "records": len(expected),
        }


def test_leads_from_a_file_are_upserted_once_and_a_rerun_creates_nothing(
    sandbox, use_connection, monkeypatch, tmp_path
):
    use_connection(sandbox)
    monkeypatch.setenv("FXIAOKE_LEADS_LANDING", f"file://{tmp_path}")
    first = _run_example("fxiaoke_leads_from_file")

    assert task_states(first) == dict.fromkeys(["land_form_leads", "upsert_leads"], "success")
    assert xcom(first, "upsert_leads") == {"created": 3, "updated": 0, "refused": 0}
    assert (tmp_path / f"leads-{_ds(first)}.jsonl").exists()
    ids = ["form-1001", "form-1002", "form-1003"]
    leads = list(FxiaokeHook().iter_records("LeadsObj", filters=[("external_id__c", "IN", ids)]))
    assert sorted(lead["external_id__c"] for lead in leads) == ids
    assert sorted(lead["_id"] for lead in leads) == sorted(xcom(first, "upsert_leads", "created_ids"))

    again = _run_example("fxiaoke_leads_from_file")
    assert xcom(again, "upsert_leads") == {"created": 0, "updated": 3, "refused": 0}


@pytest.mark.slow  # a mapped send per contract
def test_contracts_changed_today_send_each_owner_a_card_to_the_record(sandbox, use_connection):
    use_connection(sandbox)
    now_ms = int(time.time() * 1000)
    ages_ms = [1_000, 60_000, *(k * 3 * 3_600_000 for k in range(1, 17))]  # now back to two days ago
    owners = ["1000", "1001", "1002"]
    sandbox.put_records(
        "ContractObj",
        [
            {"name": f"Contract {i}", "owner": [owners[i % 3]], "last_modified_time": now_ms - age}
            for i, age in enumerate(ages_ms)
        ],
    )
    dag_run = _run_example("fxiaoke_contracts_changed_today")

    end = dag_run.data_interval_end or dag_run.run_after
    start_ms = int(end.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)
    end_ms = int(end.timestamp() * 1000)
    changed = [r for r in sandbox.records("ContractObj") if start_ms <= r["last_modified_time"] < end_ms]
    assert changed and len(changed) < len(ages_ms)  # yesterday's are left out
    states = task_states(dag_run)
    assert states.pop("changed_today") == states.pop("contracts_changed_today") == states.pop("cards")
    assert states == {f"tell_owner[{i}]": "success" for i in range(len(changed))}
    assert [len(r) for r in xcom(dag_run, "contracts_changed_today")] == [4] * len(changed)

    sent = {m["message"]["link"]["url"]: m for m in sandbox.messages()}
    assert len(sent) == len(sandbox.messages()) == len(changed)
    for contract in changed:
        target = {"objDescApiName": "ContractObj", "objDataId": contract["_id"]}
        message = sent[CRM_RECORD_LINK_PREFIX + json.dumps(target, separators=(",", ":"))]
        assert message["msgType"] == "composite"
        assert message["toUser"] == contract["owner"]
        assert message["message"]["first"] == {"content": contract["name"]}
