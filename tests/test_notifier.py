"""``FxiaokeNotifier`` in real callbacks: task and DAG level, templated text, and failures that stay quiet.

The DAGs in ``tests/dags/`` run with ``dag.test()`` against the sandbox gateway. Both Airflow
generations run DAG-level callbacks inside ``dag.test()`` (2.11: ``DAG.handle_callback``; 3.x:
``DagRun.execute_dag_callbacks``); on Airflow 3 the DAG processor's own callback runner is checked too.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

import pytest

from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS, BaseNotifier
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.get_provider_info import get_provider_info
from fxiaoke_provider.messaging import wire
from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier, send_fxiaoke_notification
from fxiaoke_provider.sandbox import DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE
from tests.airflow_helpers import load_dag, run_dag, task_states
from tests.support import SERVICE_ID, TEST_DAGS, free_port, requests_to

CALLBACKS_DAG = TEST_DAGS / "fxiaoke_notifier_callbacks.py"
SEND_PATH = wire.SERVICE_MESSAGE_SEND_PATH  # the test connection has a default service account


@pytest.fixture
def record(monkeypatch, tmp_path):
    """What the DAG's ``record`` callbacks saw (task id, exception, reason), in call order."""
    path = tmp_path / "callbacks.jsonl"
    monkeypatch.setenv("FXIAOKE_CALLBACK_RECORD", str(path))

    def read() -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return read


@pytest.fixture
def captured(caplog, capfd):
    """All log text of the run: Airflow 2 logs through ``logging``, Airflow 3's task runner to stdout."""
    caplog.set_level(logging.INFO)

    def text() -> str:
        out, err = capfd.readouterr()
        return caplog.text + out + err

    return text


def _by_prefix(gateway) -> dict[str, dict]:
    """Delivered messages keyed by the first ``|``-separated word of their text."""
    return {m["message"]["content"].split(" | ")[0]: m for m in gateway.messages()}


def _exceptions(entries: list[dict]) -> dict[str, str | None]:
    return {e["task_id"]: e["exception"] for e in entries if e["reason"] is None}


def test_task_callbacks_and_dag_failure_callback_send_rendered_messages(sandbox, use_connection, record):
    use_connection(sandbox)
    dag_run = run_dag(load_dag(CALLBACKS_DAG, "fxiaoke_notifier_callbacks"))

    assert task_states(dag_run) == {"extract": "failed", "load": "success", "report": "success"}
    sent = _by_prefix(sandbox)
    assert set(sent) == {"failed", "retry", "success", "dag-failed"}
    run_id = dag_run.run_id
    for prefix, task_id, to_user in (("failed", "extract", "1000"), ("retry", "load", "1001")):
        fields = sent[prefix]["message"]["content"].split(" | ")
        assert fields[1:3] == [task_id, "fxiaoke_notifier_callbacks"]
        assert fields[3] == run_id
        # ti.log_url points at this very task instance of this run
        assert f"/tasks/{task_id}" in fields[4] or f"task_id={task_id}" in fields[4]
        assert quote(run_id, safe="") in fields[4] or run_id in fields[4]
        assert sent[prefix]["toUser"] == [to_user]
        assert sent[prefix]["serviceId"] == SERVICE_ID
    assert sent["success"]["message"]["content"].startswith("success | report | fxiaoke_notifier_callbacks")
    assert sent["success"]["serviceId"] == "FSAID_reports"
    assert sent["dag-failed"]["message"]["content"] == f"dag-failed | fxiaoke_notifier_callbacks | {run_id}"
    # callbacks after the notifier ran too, and saw the task's own exception
    entries = record()
    assert _exceptions(entries) == {
        "extract": "RuntimeError('source database unreachable')",
        "load": "ConnectionError('warehouse busy, try again')",
        "report": None,
    }
    assert [e["reason"] for e in entries if e["reason"]] == ["task_failure"]


def test_dag_success_callback(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = run_dag(load_dag(TEST_DAGS / "fxiaoke_notifier_dag_success.py", "fxiaoke_notifier_dag_success"))

    assert task_states(dag_run) == {"nightly_load": "success"}
    [message] = sandbox.messages()
    assert message["message"]["content"] == (
        f"dag-succeeded | fxiaoke_notifier_dag_success | {dag_run.run_id} | success"
    )
    assert message["toUser"] == ["1000", "1001"]


def test_shared_notifier_renders_each_task_own_text(sandbox, use_connection):
    """``default_args`` hand the same notifier object to every task: no task may get another's text."""
    use_connection(sandbox)
    dag_run = run_dag(load_dag(TEST_DAGS / "fxiaoke_notifier_shared.py", "fxiaoke_notifier_shared"))

    assert task_states(dag_run) == {"extract_orders": "failed", "extract_invoices": "failed"}
    texts = sorted(m["message"]["content"] for m in sandbox.messages())
    assert texts == [
        "failed | extract_invoices | fxiaoke_notifier_shared",
        "failed | extract_orders | fxiaoke_notifier_shared",
    ]


def test_gateway_error_is_logged_and_task_outcomes_stay(sandbox, use_connection, record, captured):
    """30002 (daily quota) on every send: no message, each task keeps its own state and exception."""
    use_connection(sandbox)
    sandbox.add_fault(SEND_PATH, "error", count=100, code=protocol.DAILY_QUOTA_EXHAUSTED)

    dag_run = run_dag(load_dag(CALLBACKS_DAG, "fxiaoke_notifier_callbacks"))

    assert task_states(dag_run) == {"extract": "failed", "load": "success", "report": "success"}
    assert sandbox.messages() == []
    sends = requests_to(sandbox, SEND_PATH)
    assert len(sends) == 4  # failure, retry, success and DAG failure: each tried, none retried (permanent)
    assert _exceptions(record()) == {
        "extract": "RuntimeError('source database unreachable')",
        "load": "ConnectionError('warehouse busy, try again')",
        "report": None,
    }
    logs = captured()
    assert logs.count("Fxiaoke notification was not sent") >= 4
    assert str(protocol.DAILY_QUOTA_EXHAUSTED) in logs
    assert DEFAULT_APP_SECRET not in logs
    assert DEFAULT_PERMANENT_CODE not in logs


def test_gateway_down_is_logged_and_task_outcomes_stay(
    sandbox, use_connection, record, captured, monkeypatch
):
    conn = use_connection(sandbox, retry_max_attempts=1, timeout=2)
    conn["host"] = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AIRFLOW_CONN_FXIAOKE_DEFAULT", json.dumps(conn))

    dag_run = run_dag(load_dag(CALLBACKS_DAG, "fxiaoke_notifier_callbacks"))

    assert task_states(dag_run) == {"extract": "failed", "load": "success", "report": "success"}
    assert sandbox.requests() == []
    assert _exceptions(record())["extract"] == "RuntimeError('source database unreachable')"
    assert captured().count("Fxiaoke notification was not sent") >= 4


@pytest.mark.skipif(
    not AIRFLOW_V_3_0_PLUS, reason="Airflow 2.11 runs DAG callbacks only via DAG.handle_callback"
)
def test_dag_processor_runs_dag_callback_with_rendered_text(sandbox, use_connection):
    """Outside ``dag.test()``, Airflow 3 runs DAG callbacks in the DAG processor from a callback request."""
    import structlog
    from airflow.dag_processing.dagbag import DagBag
    from airflow.dag_processing.processor import _execute_dag_callbacks
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    use_connection(sandbox)
    dag = load_dag(TEST_DAGS / "fxiaoke_notifier_dag_success.py")
    dag_run = run_dag(dag)
    sandbox.reset()
    dagbag = DagBag(dag_folder=str(TEST_DAGS / "fxiaoke_notifier_dag_success.py"))

    with create_session() as session:
        run = session.get(DagRun, dag_run.id)
        [ti] = run.get_task_instances(session=session)
        request = run.produce_dag_callback(
            dag=dag, success=True, relevant_ti=ti, reason="success", execute=False
        )
        _execute_dag_callbacks(dagbag, request, structlog.get_logger())

    [message] = sandbox.messages()
    assert message["message"]["content"] == (
        f"dag-succeeded | fxiaoke_notifier_dag_success | {dag_run.run_id} | success"
    )


def test_notifier_is_declared_and_importable():
    path = "fxiaoke_provider.notifications.fxiaoke.FxiaokeNotifier"
    assert path in get_provider_info()["notifications"]
    from airflow.providers_manager import ProvidersManager

    # a list of NotificationInfo on 2.11, of class paths on Airflow 3
    declared = {getattr(info, "notification_class_name", info) for info in ProvidersManager().notification}
    assert path in declared
    assert issubclass(FxiaokeNotifier, BaseNotifier)
    assert send_fxiaoke_notification is FxiaokeNotifier


def test_direct_call_renders_without_changing_the_notifier(sandbox, use_connection):
    """A notifier called by hand (as Airflow does) renders a copy: the template survives for the next call."""
    use_connection(sandbox)
    dag = load_dag(TEST_DAGS / "fxiaoke_notifier_dag_success.py")
    notifier = FxiaokeNotifier(to_users="{{ params.user }}", message="run {{ run_id }}")
    for run_id, user in (("first", "1000"), ("second", "1001")):
        notifier({"dag": dag, "run_id": run_id, "params": {"user": user}})

    assert [(m["toUser"], m["message"]["content"]) for m in sandbox.messages()] == [
        (["1000"], "run first"),
        (["1001"], "run second"),
    ]
    assert notifier.message == "run {{ run_id }}"


def test_invalid_message_fails_at_definition_not_in_the_callback():
    with pytest.raises(FxiaokeInvalidInputError):
        FxiaokeNotifier(to_users=["1000"], message="hello", msg_type="video")


def test_defining_a_notifier_needs_no_connection():
    """DAG files parse where the connection is not defined (DAG processor, CI): nothing is looked up."""
    notifier = FxiaokeNotifier(to_users=["1000"], fxiaoke_conn_id="does_not_exist")
    assert "hook" not in vars(notifier)


# --- awaited: the triggerer (deadline alerts) -----------------------------------------------------
AWAITABLE = pytest.mark.skipif(
    not AIRFLOW_V_3_0_PLUS, reason="Airflow 2's BaseNotifier is not awaitable (no triggerer callbacks)"
)
DEADLINE_CONTEXT = {
    # what the scheduler hands a deadline callback (Deadline.handle_miss: DAGRunResponse + deadline)
    "dag_run": {"dag_id": "nightly_contracts", "dag_run_id": "scheduled__2026-11-24", "state": "running"},
    "deadline": {"id": "0199", "deadline_time": "2026-11-24T06:00:00+00:00"},
}
DEADLINE_TEXT = (
    "Airflow: DAG nightly_contracts missed its deadline of 2026-11-24 06:00:00 UTC "
    "(run scheduled__2026-11-24, state running)."
)


@AWAITABLE
def test_awaited_notifier_sends_without_blocking_the_event_loop(sandbox, use_connection):
    """While the gateway takes 0.5 s to answer, other coroutines keep running (the triggerer's loop)."""
    import asyncio

    use_connection(sandbox)
    sandbox.add_fault(SEND_PATH, "delay", seconds=0.5)
    ticks: list[int] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(1)
            await asyncio.sleep(0.01)

    async def main() -> None:
        stop = asyncio.Event()
        background = asyncio.create_task(ticker(stop))
        await FxiaokeNotifier(to_users=["1000"], context=dict(DEADLINE_CONTEXT))
        stop.set()
        await background

    asyncio.run(main())

    [message] = sandbox.messages()
    assert message["message"]["content"].startswith(DEADLINE_TEXT)
    assert len(ticks) >= 20  # a blocking send would have let the ticker run about once


@AWAITABLE
def test_awaited_notifier_logs_a_failed_send_and_does_not_raise(sandbox, use_connection, captured):
    import asyncio

    use_connection(sandbox)
    sandbox.add_fault(SEND_PATH, "error", count=5, code=protocol.DAILY_QUOTA_EXHAUSTED)

    async def main() -> None:
        await FxiaokeNotifier(
            to_users=["1000"], message="deadline missed: {{ dag_run.dag_id }}", context={**DEADLINE_CONTEXT}
        )

    asyncio.run(main())
    assert sandbox.messages() == []
    logs = captured()
    assert "Fxiaoke notification was not sent (" in logs  # the reason on the ERROR line itself
    assert str(protocol.DAILY_QUOTA_EXHAUSTED) in logs
    assert DEFAULT_APP_SECRET not in logs


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="deadline alerts and the callback trigger exist from 3.x")
def test_deadline_alert_callback_runs_in_airflows_callback_trigger(sandbox, use_connection):
    """What the triggerer runs for an ``AsyncCallback`` deadline alert: Airflow's own ``CallbackTrigger``."""
    import asyncio

    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.triggers.callback import CallbackTrigger

    use_connection(sandbox)
    callback = AsyncCallback(FxiaokeNotifier, kwargs={"to_users": ["1000"], "language": "zh-CN"})
    trigger = CallbackTrigger(callback.path, {**callback.kwargs, "context": dict(DEADLINE_CONTEXT)})

    async def events() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    states = [str(getattr(e["state"], "value", e["state"])) for e in asyncio.run(events())]

    assert states == ["running", "success"]
    [message] = sandbox.messages()
    assert message["message"]["content"].startswith(
        "【Airflow】DAG nightly_contracts 未在截止时间 2026-11-24 06:00:00 UTC 前完成"
        "（运行 ID：scheduled__2026-11-24，当前状态：running）。"  # noqa: RUF001
    )


# --- the connection id and hook settings -----------------------------------------------------------
def test_connection_id_is_rendered_before_the_hook_is_made(sandbox, use_connection):
    """One connection per DAG: ``fxiaoke_{{ dag.dag_id }}`` names a connection only once rendered."""
    dag = load_dag(TEST_DAGS / "fxiaoke_notifier_dag_success.py")
    use_connection(sandbox, f"fxiaoke_{dag.dag_id}")
    notifier = FxiaokeNotifier(to_users=["1000"], message="hello", fxiaoke_conn_id="fxiaoke_{{ dag.dag_id }}")
    notifier({"dag": dag, "run_id": "r1"})

    assert [m["message"]["content"] for m in sandbox.messages()] == ["hello"]
    assert notifier.fxiaoke_conn_id == "fxiaoke_{{ dag.dag_id }}"  # the template survives for the next call


def test_hook_params_reach_the_hook_and_win_over_the_connection(sandbox, use_connection, captured):
    """``retry_max_attempts=1``: a refused send is not retried, although the connection allows 7."""
    use_connection(sandbox)
    sandbox.add_fault(SEND_PATH, "error", count=2, code=protocol.RATE_LIMITED)
    dag = load_dag(TEST_DAGS / "fxiaoke_notifier_dag_success.py")

    FxiaokeNotifier(to_users=["1000"], message="hello", hook_params={"retry_max_attempts": 1})(
        {"dag": dag, "run_id": "r1"}
    )
    assert len(requests_to(sandbox, SEND_PATH)) == 1 and sandbox.messages() == []
    assert "Fxiaoke notification was not sent" in captured()

    FxiaokeNotifier(to_users=["1000"], message="again")({"dag": dag, "run_id": "r1"})
    assert [m["message"]["content"] for m in sandbox.messages()] == ["again"]  # the extra's 7 attempts


@pytest.mark.parametrize(
    ("hook_params", "rule"),
    [
        ({"sleep": 1}, "unknown setting 'sleep'"),
        ({"timeout": object()}, "must hold plain JSON values"),
        ({"timeout": float("nan")}, "must hold plain JSON values"),
        (["timeout", 5], "must be a dict"),
    ],
)
def test_hook_params_must_be_plain_json_settings_of_the_hook(hook_params, rule):
    """A deadline alert's arguments are stored as JSON with the serialized DAG: checked at parse time."""
    with pytest.raises(FxiaokeInvalidInputError, match=rule) as caught:
        FxiaokeNotifier(to_users=["1000"], hook_params=hook_params)
    assert caught.value.field == "hook_params"


# --- templates that cannot be rendered with the context at hand --------------------------------------
@AWAITABLE
def test_deadline_alert_with_a_task_template_sends_the_default_alert(sandbox, use_connection, captured):
    """A deadline alert's context has no ``ti``: the message cannot render, the default alert goes out."""
    import asyncio

    use_connection(sandbox)

    async def main() -> None:
        await FxiaokeNotifier(
            to_users=["1000"], message="{{ ti.task_id }} is late", context=dict(DEADLINE_CONTEXT)
        )

    asyncio.run(main())
    [message] = sandbox.messages()
    assert message["message"]["content"].startswith(DEADLINE_TEXT)
    logs = captured()
    assert "message could not be rendered" in logs and "'ti' is undefined" in logs


@AWAITABLE
def test_deadline_alert_with_unrenderable_recipients_is_logged_and_sends_nothing(
    sandbox, use_connection, captured
):
    import asyncio

    use_connection(sandbox)

    async def main() -> None:
        await FxiaokeNotifier(to_users="{{ ti.xcom_pull('owners') }}", context=dict(DEADLINE_CONTEXT))

    asyncio.run(main())  # does not raise
    assert sandbox.requests() == []
    logs = captured()
    assert "Fxiaoke notification was not sent (templates could not be rendered (to_users: " in logs


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="deadline alerts and the callback trigger exist from 3.x")
def test_deadline_alert_with_templated_connection_and_hook_params(sandbox, use_connection, monkeypatch):
    """Through Airflow's ``CallbackTrigger``: kwargs as stored with the DAG (plain JSON), the connection
    id rendered from the deadline's context."""
    import asyncio

    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.triggers.callback import CallbackTrigger

    use_connection(sandbox, "fxiaoke_nightly_contracts")
    monkeypatch.delenv("AIRFLOW_CONN_FXIAOKE_DEFAULT", raising=False)
    sandbox.add_fault(SEND_PATH, "error", count=1, code=protocol.RATE_LIMITED)
    kwargs = {
        "to_users": ["1000"],
        "fxiaoke_conn_id": "fxiaoke_{{ dag_run.dag_id }}",
        "hook_params": {"retry_max_attempts": 2, "timeout": 5},
    }
    callback = AsyncCallback(FxiaokeNotifier, kwargs=json.loads(json.dumps(kwargs)))
    trigger = CallbackTrigger(callback.path, {**callback.kwargs, "context": dict(DEADLINE_CONTEXT)})

    async def events() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    asyncio.run(events())
    [message] = sandbox.messages()
    assert message["message"]["content"].startswith(DEADLINE_TEXT)
    assert len(requests_to(sandbox, SEND_PATH)) == 2  # the refused one retried within 2 attempts
