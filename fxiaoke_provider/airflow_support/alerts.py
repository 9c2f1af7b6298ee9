"""The notifier's default alerts: what happened, read from the callback's context, said in a sentence.

One set of facts per event (task failed, will be retried, succeeded; DAG run failed or succeeded;
DAG run missed its deadline), told as text or as a card, in English or Simplified Chinese. Facts
that the context does not hold are left out rather than shown as ``None``. Users' own messages
never pass through here.
"""

# ruff: noqa: RUF001  (Chinese texts use full-width punctuation on purpose)
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fxiaoke_provider.connection.extras import LANGUAGES
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError

TASK_FAILED, TASK_RETRY, TASK_SUCCESS = "task_failed", "task_retry", "task_success"
DAG_FAILED, DAG_SUCCESS, DEADLINE_MISSED = "dag_failed", "dag_success", "deadline_missed"
REASON_MAX_CHARS = 300


def check_language(value: object, field_name: str = "language") -> str:
    """The canonical spelling of a supported language (``zh-cn`` -> ``zh-CN``); else a clear error."""
    if isinstance(value, str):
        for language in LANGUAGES:
            if value.strip().lower() == language.lower():
                return language
    raise FxiaokeInvalidInputError(field_name, f"must be one of {', '.join(LANGUAGES)}; got {value!r}")


@dataclass
class AlertFacts:
    """What an alert says; ``None`` and empty values are simply not mentioned."""

    event: str
    dag_id: str
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None
    max_tries: int | None = None
    reason: str | None = None
    url: str | None = None
    failed_tasks: list[str] = field(default_factory=list)
    state: str | None = None
    deadline: str | None = None


# --- reading the context -----------------------------------------------------------------------
def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    try:
        return getattr(obj, name, None)
    except Exception:  # a lazy attribute that needs a DB or API it cannot reach
        return None


def _state(value: Any) -> str | None:
    value = getattr(value, "value", value)
    return str(value) if value is not None else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def first_line(error: Any) -> str | None:
    """``Type: first line of the message`` of an exception (or the first line of a text)."""
    if error is None:
        return None
    text = str(error).strip()
    line = text.splitlines()[0].strip() if text else ""
    if isinstance(error, BaseException):
        line = f"{type(error).__name__}: {line}" if line else type(error).__name__
    if not line:
        return None
    return line if len(line) <= REASON_MAX_CHARS else line[: REASON_MAX_CHARS - 1] + "…"


def _base_url() -> str:
    from airflow.configuration import conf

    from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS

    if AIRFLOW_V_3_0_PLUS:
        return conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    return conf.get("webserver", "base_url", fallback="http://localhost:8080").rstrip("/")


def run_url(dag_id: str, run_id: str) -> str:
    """The DAG run's page in the Airflow UI (grid view on Airflow 2)."""
    from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS

    if AIRFLOW_V_3_0_PLUS:
        return f"{_base_url()}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
    return f"{_base_url()}/dags/{dag_id}/grid?dag_run_id={quote(run_id, safe='')}"


def failed_task_ids(dag_id: str, run_id: str, ti: Any = None) -> list[str]:
    """Failed tasks of a run: asked through the callback's task instance inside an Airflow 3 process,
    else read from the metadata DB.

    In a supervised process (the DAG processor runs DAG callbacks in one) the DB is out of reach and
    the supervisor answers; the public way to ask it is the context's ``ti``
    (``RuntimeTaskInstanceProtocol.get_task_states``). Without a ``ti`` there the list is left out.
    Best effort: an alert without the list is better than no alert.
    """
    from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS, in_task_process

    try:
        if AIRFLOW_V_3_0_PLUS and in_task_process():
            if not callable(getattr(ti, "get_task_states", None)):
                return []
            states = ti.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id, {})
            return sorted(task for task, state in states.items() if _state(state) == "failed")
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            query = select(TaskInstance.task_id, TaskInstance.map_index).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.state == "failed",
            )
            rows = session.execute(query).all()
        return sorted(
            {task_id if map_index < 0 else f"{task_id}[{map_index}]" for task_id, map_index in rows}
        )
    except Exception:
        return []


def _deadline_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return str(value)


def facts_from_context(context: Mapping[str, Any]) -> AlertFacts:
    """Tell the event from what Airflow put into the context and gather its facts."""
    dag_run = context.get("dag_run")
    dag_id = _get(context.get("dag"), "dag_id") or _get(dag_run, "dag_id") or "?"
    run_id = context.get("run_id") or _get(dag_run, "run_id") or _get(dag_run, "dag_run_id")
    run_id = str(run_id) if run_id else None

    if "deadline" in context:  # a deadline alert, awaited in the triggerer
        return AlertFacts(
            DEADLINE_MISSED,
            dag_id,
            run_id,
            state=_state(_get(dag_run, "state")),
            deadline=_deadline_text(_get(context.get("deadline"), "deadline_time")),
            url=run_url(dag_id, run_id) if run_id else None,
        )

    ti = context.get("ti") or context.get("task_instance")
    if "reason" in context:  # DAG-level callbacks carry the run's reason; task callbacks do not
        reason = str(context.get("reason") or "")
        if reason == "success":
            return AlertFacts(DAG_SUCCESS, dag_id, run_id, url=run_url(dag_id, run_id) if run_id else None)
        return AlertFacts(
            DAG_FAILED,
            dag_id,
            run_id,
            reason=None if reason in ("", "task_failure") else reason,
            failed_tasks=failed_task_ids(dag_id, run_id, ti) if run_id else [],
            url=run_url(dag_id, run_id) if run_id else None,
        )

    state = _state(_get(ti, "state"))
    event = {"up_for_retry": TASK_RETRY, "success": TASK_SUCCESS}.get(state or "", TASK_FAILED)
    if event == TASK_SUCCESS and context.get("exception") is not None:
        event = TASK_FAILED
    return AlertFacts(
        event,
        dag_id,
        run_id or _get(ti, "run_id"),
        task_id=_get(ti, "task_id") or _get(context.get("task"), "task_id"),
        try_number=_int(_get(ti, "try_number")),
        max_tries=_int(_get(ti, "max_tries")),
        reason=first_line(context.get("exception")) if event != TASK_SUCCESS else None,
        url=_get(ti, "log_url") or (run_url(dag_id, run_id) if run_id else None),
    )


# --- telling the facts -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Wording:
    headline: dict[str, str]
    title: dict[str, str]
    run_reasons: dict[str, str]
    try_of: str
    try_only: str
    reason: str
    failed_tasks: str
    log: str
    details: str
    list_separator: str
    sentence_separator: str
    labels: dict[str, str]
    log_link: str
    run_link: str


WORDING: dict[str, _Wording] = {
    "en": _Wording(
        headline={
            TASK_FAILED: "Airflow: task {task} in DAG {dag} failed on {try_} (run {run}).",
            TASK_RETRY: "Airflow: task {task} in DAG {dag} failed on {try_} and will be retried (run {run}).",
            TASK_SUCCESS: "Airflow: task {task} in DAG {dag} succeeded on {try_} (run {run}).",
            DAG_FAILED: "Airflow: DAG {dag} failed (run {run}).",
            DAG_SUCCESS: "Airflow: DAG {dag} succeeded (run {run}).",
            DEADLINE_MISSED: (
                "Airflow: DAG {dag} missed its deadline of {deadline} (run {run}, state {state})."
            ),
        },
        title={
            TASK_FAILED: "Task failed: {task}",
            TASK_RETRY: "Task will be retried: {task}",
            TASK_SUCCESS: "Task succeeded: {task}",
            DAG_FAILED: "DAG run failed: {dag}",
            DAG_SUCCESS: "DAG run succeeded: {dag}",
            DEADLINE_MISSED: "DAG run missed its deadline: {dag}",
        },
        run_reasons={
            "all_tasks_deadlocked": "its tasks were deadlocked",
            "timed_out": "it ran longer than its dagrun_timeout",
        },
        try_of="try {try_number} of {total}",
        try_only="try {try_number}",
        reason="Reason: {reason}.",
        failed_tasks="Failed tasks: {tasks}.",
        log="Log: {url}",
        details="Details: {url}",
        list_separator=", ",
        sentence_separator=" ",
        labels={
            "dag": "DAG",
            "task": "Task",
            "run": "Run",
            "try": "Try",
            "reason": "Reason",
            "failed_tasks": "Failed tasks",
            "state": "State",
            "deadline": "Deadline",
        },
        log_link="View log",
        run_link="View run",
    ),
    "zh-CN": _Wording(
        headline={
            TASK_FAILED: "【Airflow】DAG {dag} 的任务 {task} 执行失败（{try_}，运行 ID：{run}）。",
            TASK_RETRY: "【Airflow】DAG {dag} 的任务 {task} 执行失败，即将重试（{try_}，运行 ID：{run}）。",
            TASK_SUCCESS: "【Airflow】DAG {dag} 的任务 {task} 已成功完成（{try_}，运行 ID：{run}）。",
            DAG_FAILED: "【Airflow】DAG {dag} 本次运行失败（运行 ID：{run}）。",
            DAG_SUCCESS: "【Airflow】DAG {dag} 本次运行已成功完成（运行 ID：{run}）。",
            DEADLINE_MISSED: (
                "【Airflow】DAG {dag} 未在截止时间 {deadline} 前完成（运行 ID：{run}，当前状态：{state}）。"
            ),
        },
        title={
            TASK_FAILED: "任务失败：{task}",
            TASK_RETRY: "任务即将重试：{task}",
            TASK_SUCCESS: "任务成功：{task}",
            DAG_FAILED: "DAG 运行失败：{dag}",
            DAG_SUCCESS: "DAG 运行成功：{dag}",
            DEADLINE_MISSED: "DAG 运行超时：{dag}",
        },
        run_reasons={
            "all_tasks_deadlocked": "任务相互阻塞，无法继续执行",
            "timed_out": "运行时间超过了 dagrun_timeout",
        },
        try_of="第 {try_number} 次尝试，共 {total} 次",
        try_only="第 {try_number} 次尝试",
        reason="原因：{reason}。",
        failed_tasks="失败的任务：{tasks}。",
        log="日志：{url}",
        details="详情：{url}",
        list_separator="、",
        sentence_separator="",
        labels={
            "dag": "DAG",
            "task": "任务",
            "run": "运行 ID",
            "try": "尝试次数",
            "reason": "原因",
            "failed_tasks": "失败的任务",
            "state": "状态",
            "deadline": "截止时间",
        },
        log_link="查看日志",
        run_link="查看运行详情",
    ),
}


def _try_phrase(facts: AlertFacts, wording: _Wording) -> str | None:
    if facts.try_number is None:
        return None
    if facts.max_tries and facts.max_tries + 1 >= facts.try_number:  # "of N" only when retries exist
        return wording.try_of.format(try_number=facts.try_number, total=facts.max_tries + 1)
    return wording.try_only.format(try_number=facts.try_number)


def _reason(facts: AlertFacts, wording: _Wording) -> str | None:
    if facts.reason is None:
        return None
    if facts.event == DAG_FAILED:
        return wording.run_reasons.get(facts.reason, facts.reason)
    return facts.reason


def _headline(facts: AlertFacts, wording: _Wording) -> str:
    unknown = "?"
    return wording.headline[facts.event].format(
        dag=facts.dag_id,
        task=facts.task_id or unknown,
        run=facts.run_id or unknown,
        try_=_try_phrase(facts, wording) or unknown,
        state=facts.state or unknown,
        deadline=facts.deadline or unknown,
    )


def render_text(facts: AlertFacts, language: str) -> str:
    """One message: the headline, then the reason, the failed tasks and the link when known."""
    wording = WORDING[check_language(language)]
    parts = [_headline(facts, wording)]
    reason = _reason(facts, wording)
    if reason:
        parts.append(wording.reason.format(reason=reason.rstrip(".。")))
    if facts.failed_tasks:
        parts.append(wording.failed_tasks.format(tasks=wording.list_separator.join(facts.failed_tasks)))
    if facts.url:
        is_log = facts.event in (TASK_FAILED, TASK_RETRY, TASK_SUCCESS)
        parts.append((wording.log if is_log else wording.details).format(url=facts.url))
    return wording.sentence_separator.join(parts)


def render_card(facts: AlertFacts, language: str) -> dict[str, Any]:
    """The same facts as a ``composite`` card: title, headline, form rows, a link to the log or run."""
    wording = WORDING[check_language(language)]
    labels = wording.labels
    rows: list[tuple[str, str | None]] = [
        (labels["dag"], facts.dag_id),
        (labels["task"], facts.task_id),
        (labels["run"], facts.run_id),
        (labels["try"], _try_phrase(facts, wording)),
        (labels["state"], facts.state),
        (labels["deadline"], facts.deadline),
        (labels["failed_tasks"], wording.list_separator.join(facts.failed_tasks) or None),
        (labels["reason"], _reason(facts, wording)),
    ]
    is_task = facts.event in (TASK_FAILED, TASK_RETRY, TASK_SUCCESS)
    card: dict[str, Any] = {
        "head": {"title": wording.title[facts.event].format(dag=facts.dag_id, task=facts.task_id or "?")},
        "first": {"content": _headline(facts, wording)},
        "form": [{"label": label, "value": value} for label, value in rows if value],
        "link": {
            "title": wording.log_link if is_task else wording.run_link,
            "url": facts.url or (run_url(facts.dag_id, facts.run_id) if facts.run_id else _base_url()),
        },
    }
    return card


def default_message(context: Mapping[str, Any], msg_type: str, language: str) -> str | dict[str, Any]:
    """The default alert for this callback: text, or a card for ``msg_type="composite"``."""
    facts = facts_from_context(context)
    if msg_type == "composite":
        return render_card(facts, language)
    return render_text(facts, language)


def supports(msg_type: str) -> bool:
    """Whether a default alert exists for ``msg_type`` (articles need the user's own content)."""
    return msg_type in ("text", "composite")


__all__: Sequence[str] = (
    "AlertFacts",
    "check_language",
    "default_message",
    "facts_from_context",
    "render_card",
    "render_text",
)
