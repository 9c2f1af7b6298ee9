# ruff: noqa: RUF001  (the Chinese texts use full-width punctuation)
"""The notifier's default alerts, rendered by real ``dag.test()`` runs and delivered to the sandbox.

One DAG (``tests/dags/fxiaoke_notifier_defaults.py``) fires every task event and the DAG-level
failure; the texts are compared whole, in English and in Chinese, so a wording, fact or link
change shows up here. Language errors are configuration errors that name the field.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import pytest

from fxiaoke_provider.airflow_support import alerts
from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS
from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError, FxiaokeInvalidInputError
from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier
from tests.airflow_helpers import load_dag, run_dag, task_states
from tests.support import TEST_DAGS

DEFAULTS_DAG = TEST_DAGS / "fxiaoke_notifier_defaults.py"
DAG_ID = "fxiaoke_notifier_defaults"


def _is_log_url(url: str, run_id: str, task_id: str) -> bool:
    """``ti.log_url`` of this task in this run (Airflow 3: the task page; 2.11: the grid's log tab)."""
    return url.startswith("http://localhost:8080/dags/" + DAG_ID) and quote(run_id) in url and task_id in url


def _run_url(run_id: str) -> str:
    if AIRFLOW_V_3_0_PLUS:
        return f"http://localhost:8080/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"
    return f"http://localhost:8080/dags/{DAG_ID}/grid?dag_run_id={quote(run_id, safe='')}"


def _run(sandbox, use_connection, **extra) -> tuple[str, dict[str, dict]]:
    use_connection(sandbox, **extra)
    dag_run = run_dag(load_dag(DEFAULTS_DAG, DAG_ID))
    assert task_states(dag_run) == {"extract": "failed", "load": "success", "report": "success"}
    by_user = {m["toUser"][0]: m for m in sandbox.messages()}
    assert set(by_user) == {"1000", "1001", "1002", "1009"}
    return dag_run.run_id, by_user


def _split_link(text: str, marker: str) -> tuple[str, str]:
    head, _, url = text.partition(marker)
    return head, url


def test_english_default_alerts_say_what_happened(sandbox, use_connection):
    run_id, sent = _run(sandbox, use_connection)
    print("\n" + sent["1000"]["message"]["content"])

    failed, url = _split_link(sent["1000"]["message"]["content"], " Log: ")
    assert failed == (
        f"Airflow: task extract in DAG {DAG_ID} failed on try 1 (run {run_id}). "
        "Reason: RuntimeError: source database unreachable."
    )
    assert _is_log_url(url, run_id, "extract")

    retry, url = _split_link(sent["1001"]["message"]["content"], " Log: ")
    assert retry == (
        f"Airflow: task load in DAG {DAG_ID} failed on try 1 of 2 and will be retried (run {run_id}). "
        "Reason: ConnectionError: warehouse busy, try again."
    )
    assert _is_log_url(url, run_id, "load")

    card = sent["1002"]
    assert card["msgType"] == "composite"
    assert card["message"]["head"] == {"title": "Task succeeded: report"}
    assert card["message"]["first"]["content"] == (
        f"Airflow: task report in DAG {DAG_ID} succeeded on try 1 (run {run_id})."
    )
    assert card["message"]["form"] == [
        {"label": "DAG", "value": DAG_ID},
        {"label": "Task", "value": "report"},
        {"label": "Run", "value": run_id},
        {"label": "Try", "value": "try 1"},
    ]
    assert card["message"]["link"]["title"] == "View log"
    assert _is_log_url(card["message"]["link"]["url"], run_id, "report")

    assert sent["1009"]["message"]["content"] == (
        f"Airflow: DAG {DAG_ID} failed (run {run_id}). Failed tasks: extract. Details: {_run_url(run_id)}"
    )
    for message in sent.values():
        text = str(message["message"])
        assert "None" not in text and "TaskInstanceState" not in text
        assert "second line" not in text  # only the first line of the exception


def test_chinese_default_alerts_from_the_connection_language(sandbox, use_connection):
    run_id, sent = _run(sandbox, use_connection, language="zh-CN")
    print("\n" + sent["1000"]["message"]["content"])

    failed, url = _split_link(sent["1000"]["message"]["content"], "日志：")
    assert failed == (
        f"【Airflow】DAG {DAG_ID} 的任务 extract 执行失败（第 1 次尝试，运行 ID：{run_id}）。"
        "原因：RuntimeError: source database unreachable。"
    )
    assert _is_log_url(url, run_id, "extract")
    retry, _ = _split_link(sent["1001"]["message"]["content"], "日志：")
    assert retry == (
        f"【Airflow】DAG {DAG_ID} 的任务 load 执行失败，即将重试（第 1 次尝试，共 2 次，运行 ID：{run_id}）。"
        "原因：ConnectionError: warehouse busy, try again。"
    )
    card = sent["1002"]["message"]
    assert card["head"] == {"title": "任务成功：report"}
    assert card["first"]["content"] == (
        f"【Airflow】DAG {DAG_ID} 的任务 report 已成功完成（第 1 次尝试，运行 ID：{run_id}）。"
    )
    assert [row["label"] for row in card["form"]] == ["DAG", "任务", "运行 ID", "尝试次数"]
    assert card["link"]["title"] == "查看日志"
    assert sent["1009"]["message"]["content"] == (
        f"【Airflow】DAG {DAG_ID} 本次运行失败（运行 ID：{run_id}）。失败的任务：extract。"
        f"详情：{_run_url(run_id)}"
    )


def test_dag_success_default_alert(sandbox, use_connection):
    use_connection(sandbox)
    dag = load_dag(TEST_DAGS / "fxiaoke_notifier_dag_success.py")
    dag.on_success_callback = FxiaokeNotifier(to_users=["1000"], language="zh-CN")
    dag_run = run_dag(dag)

    [message] = sandbox.messages()
    assert message["message"]["content"] == (
        f"【Airflow】DAG fxiaoke_notifier_dag_success 本次运行已成功完成（运行 ID：{dag_run.run_id}）。"
        f"详情：{_run_url(dag_run.run_id).replace(DAG_ID, 'fxiaoke_notifier_dag_success')}"
    )


def test_notifier_language_wins_and_user_messages_are_sent_as_written(sandbox, use_connection):
    use_connection(sandbox, language="zh-CN")
    dag = load_dag(TEST_DAGS / "fxiaoke_notifier_dag_success.py")
    notifier_en = FxiaokeNotifier(to_users=["1000"], language="en")
    written = FxiaokeNotifier(to_users=["1001"], message="Nightly load done: {{ run_id }}", language="zh-CN")
    context = {"dag": dag, "run_id": "r1", "reason": "success"}
    notifier_en(context)
    written(context)

    texts = {m["toUser"][0]: m["message"]["content"] for m in sandbox.messages()}
    assert texts["1000"].startswith("Airflow: DAG fxiaoke_notifier_dag_success succeeded (run r1).")
    assert texts["1001"] == "Nightly load done: r1"


def test_unknown_language_argument_is_a_clear_error():
    with pytest.raises(FxiaokeInvalidInputError, match=r"language.*en, zh-CN.*'fr'"):
        FxiaokeNotifier(to_users=["1000"], language="fr")
    assert FxiaokeNotifier(to_users=["1000"], language="ZH-cn").language == "zh-CN"


def test_unknown_language_extra_is_a_config_error_logged_by_the_notifier(
    sandbox, use_connection, caplog, capfd
):
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    use_connection(sandbox, language="klingon")
    with pytest.raises(FxiaokeConnectionConfigError, match=r"extra 'language'.*en, zh-cn.*'klingon'"):
        FxiaokeHook().config  # noqa: B018

    caplog.set_level(logging.INFO)
    dag = load_dag(TEST_DAGS / "fxiaoke_notifier_dag_success.py")
    FxiaokeNotifier(to_users=["1000"])({"dag": dag, "run_id": "r1", "reason": "success"})
    assert sandbox.messages() == []
    logs = caplog.text + capfd.readouterr().out  # Airflow 3 logs through structlog to stdout
    assert re.search(
        r"(ERROR|\[error\s*\]).*Fxiaoke notification was not sent "
        r"\(FxiaokeConnectionConfigError: connection 'fxiaoke_default' extra 'language'",
        logs,
    ), logs


def test_articles_need_a_message():
    with pytest.raises(FxiaokeInvalidInputError, match=r"message.*articles"):
        FxiaokeNotifier(to_users=["1000"], msg_type="articles")


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_event_has_every_fact_in_both_languages(language):
    """Same facts in both languages: each rendered text names every fact it was given."""
    facts = {
        alerts.TASK_FAILED: alerts.AlertFacts(
            alerts.TASK_FAILED, "d1", "r1", "t1", 2, 3, "ValueError: bad row", "http://x/log"
        ),
        alerts.TASK_RETRY: alerts.AlertFacts(
            alerts.TASK_RETRY, "d1", "r1", "t1", 2, 3, "ValueError: bad row", "http://x/log"
        ),
        alerts.TASK_SUCCESS: alerts.AlertFacts(
            alerts.TASK_SUCCESS, "d1", "r1", "t1", 2, 3, None, "http://x/log"
        ),
        alerts.DAG_FAILED: alerts.AlertFacts(
            alerts.DAG_FAILED, "d1", "r1", url="http://x/run", failed_tasks=["t1", "t2"]
        ),
        alerts.DAG_SUCCESS: alerts.AlertFacts(alerts.DAG_SUCCESS, "d1", "r1", url="http://x/run"),
        alerts.DEADLINE_MISSED: alerts.AlertFacts(
            alerts.DEADLINE_MISSED, "d1", "r1", url="http://x/run", state="running", deadline="2026-01-01"
        ),
    }
    assert set(facts) == set(alerts.WORDING[language].headline)
    for event, fact in facts.items():
        text = alerts.render_text(fact, language)
        card = alerts.render_card(fact, language)
        wanted = [
            v for v in (fact.dag_id, fact.run_id, fact.task_id, fact.reason, fact.state, fact.deadline) if v
        ]
        wanted += fact.failed_tasks
        if fact.try_number:
            wanted.append(str(fact.try_number))
        for value in wanted:
            assert value in text, (event, value, text)
            assert value in str(card["form"]), (event, value, card)
        assert fact.url in text and card["link"]["url"] == fact.url
        assert "None" not in text + str(card)


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="supervised processes exist from Airflow 3")
def test_failed_tasks_in_a_supervised_process_are_asked_through_the_contexts_ti(monkeypatch):
    """The DAG processor runs DAG callbacks in a supervised process without DB access: the list comes
    from the supervisor through the public ``ti.get_task_states`` (the DB path is what ``dag.test()``
    above proves)."""
    task_runner = pytest.importorskip("airflow.sdk.execution_time.task_runner")
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", object(), raising=False)
    asked: list[dict] = []

    class SupervisedTI:
        task_id = "load"

        def get_task_states(self, **query: object) -> dict[str, dict[str, str]]:
            asked.append(query)
            return {"r1": {"extract": "failed", "load": "success", "report": "failed"}}

    context = {"dag_run": {"dag_id": DAG_ID, "run_id": "r1"}, "reason": "task_failure", "ti": SupervisedTI()}
    facts = alerts.facts_from_context(context)

    assert facts.failed_tasks == ["extract", "report"]
    assert asked == [{"dag_id": DAG_ID, "run_ids": ["r1"]}]
    without_ti = alerts.facts_from_context({k: v for k, v in context.items() if k != "ti"})
    assert without_ti.failed_tasks == []  # left out, not looked for in a DB the process cannot reach
