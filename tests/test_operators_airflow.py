"""The operators inside real Airflow: ``dag.test()`` on the SQLite metadata DB, the sandbox over loopback.

Retries: ``dag.test()`` loops until the run is finished and reruns a task that is up for retry as
soon as its ``retry_delay`` (0 here) has passed, on Airflow 2.11 and 3 alike. The intermediate
``up_for_retry`` state cannot be observed from outside, so whether Airflow retried is read from
the final ``try_number`` and from how many requests the sandbox saw.
"""

from __future__ import annotations

import json

import pytest

from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.gateway.protocol import DAILY_QUOTA_EXHAUSTED, NO_PERMISSION, SYSTEM_BUSY, TOKEN_PATH
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging.wire import (
    ARTICLE_TITLE_MAX,
    CRM_RECORD_LINK_PREFIX,
    MAX_RECIPIENTS_PER_REQUEST,
    SERVICE_MESSAGE_SEND_PATH,
)
from fxiaoke_provider.operators.fxiaoke import (
    MESSAGE_IDS_XCOM_KEY,
    TRACE_IDS_XCOM_KEY,
    FxiaokeSendMessageOperator,
)
from fxiaoke_provider.sandbox import DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE
from tests.airflow_helpers import all_xcoms, load_dag, run_dag, task_states, xcom, xcoms_holding
from tests.support import SERVICE_ID, TEST_DAGS, article, requests_to

DAGS = TEST_DAGS


def _ds(dag_run) -> str:
    return dag_run.logical_date.strftime("%Y-%m-%d")


def _try_numbers(dag_run) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()}


def _paths(sandbox) -> list[str]:
    return [record["path"] for record in sandbox.requests()]


# --- one run: templates everywhere, XCom of single and split sends, downstream use, revoke ---------
def test_templated_sends_xcom_revoke_and_no_secret_in_xcom(sandbox, use_connection):
    use_connection(sandbox)
    sandbox.set_message_ids(True)  # this tenant's gateway answers sends with a messageId
    dag_run = run_dag(load_dag(DAGS / "fxiaoke_it_operators.py", "fxiaoke_it_operators"))

    assert task_states(dag_run) == dict.fromkeys(
        ["card", "digest", "broadcast", "read_trace_id", "revoke_card"], "success"
    )
    ds = _ds(dag_run)
    by_type: dict[str, list[dict]] = {}
    for message in sandbox.messages():
        by_type.setdefault(message["msgType"], []).append(message)

    # composite: Jinja inside a dict inside a list (form rows), templated recipients and service id
    (card,) = by_type["composite"]
    assert card["toUser"] == ["1007", "1001"]
    assert card["serviceId"] == "FSAID_service_templated"
    account_link = json.dumps(
        {"objDescApiName": "AccountObj", "objDataId": "64a1b2c3d4e5f60718293a4b"}, separators=(",", ":")
    )
    assert card["message"] == {
        "head": {"title": f"Load of {ds}"},
        "first": {"content": "Owner 1007"},
        "form": [{"label": "Rows", "value": "1284"}, {"label": "Run", "value": dag_run.run_id}],
        "link": {"title": "Open account", "url": CRM_RECORD_LINK_PREFIX + account_link},
    }

    # articles: a list of dicts rendered item by item; recipients rendered to a JSON list by tojson
    (digest,) = by_type["articles"]
    assert digest["toUser"] == ["1000", "1001"]
    assert digest["serviceId"] == SERVICE_ID  # the connection's default
    assert digest["message"] == [
        {"title": f"Digest {ds}", "coverImage": "media-1284", "type": "TEXT", "content": "1284 rows"},
        {
            "title": "Account",
            "coverImage": "media-0002",
            "type": "URL",
            "content": "https://bi.example.com/accounts/64a1b2c3d4e5f60718293a4b",
        },
    ]

    # 1234 recipients: three requests in order, the list of traceIds as return value
    broadcast = by_type["text"]
    roster = [str(10_000 + i) for i in range(1234)]
    assert [len(m["toUser"]) for m in broadcast] == [MAX_RECIPIENTS_PER_REQUEST] * 2 + [234]
    assert [user for m in broadcast for user in m["toUser"]] == roster
    assert {m["message"]["content"] for m in broadcast} == {f"All hands on {ds}"}
    broadcast_ids = [m["traceId"] for m in broadcast]
    assert xcom(dag_run, "broadcast") == broadcast_ids
    assert xcom(dag_run, "broadcast", key=TRACE_IDS_XCOM_KEY) == broadcast_ids

    # single request: return value is the traceId string the sandbox issued; the list is under a key
    assert xcom(dag_run, "card") == card["traceId"]
    assert isinstance(xcom(dag_run, "card"), str)
    assert xcom(dag_run, "card", key=TRACE_IDS_XCOM_KEY) == [card["traceId"]]
    assert xcom(dag_run, "digest") == digest["traceId"]
    assert xcom(dag_run, "read_trace_id") == {"arg": card["traceId"], "list": [card["traceId"]]}

    # message ids: aligned with the traceIds, one per request
    assert xcom(dag_run, "card", key=MESSAGE_IDS_XCOM_KEY) == [card["messageId"]]
    assert xcom(dag_run, "broadcast", key=MESSAGE_IDS_XCOM_KEY) == [m["messageId"] for m in broadcast]
    assert card["messageId"] and card["messageId"] != card["traceId"]

    # revoke: the messageId templated from the send's XCom; the sandbox marks that very message revoked
    (revoke,) = sandbox.revokes()
    assert revoke["messageId"] == card["messageId"]
    assert revoke["serviceId"] == "FSAID_service_templated"
    assert revoke["matched"] is True
    assert [m["revoked"] for m in sandbox.messages() if m["traceId"] == card["traceId"]] == [True]
    assert xcom(dag_run, "revoke_card") == revoke["traceId"]

    # no credential and no token in any XCom of the run (the token is the one the gateway hands out
    # again within its renewal window, so asking now returns the value the tasks used)
    token = FxiaokeHook().fetch_token().value
    assert len(all_xcoms(dag_run)) >= 9
    assert ("card", -1, "return_value") in xcoms_holding(dag_run, [card["traceId"]])  # the scan sees values
    assert xcoms_holding(dag_run, [DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, token]) == []


# --- validation: when the DAG file is parsed if there is nothing to render, after rendering otherwise --
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"msg_type": "markdown"}, "msg_type"),
        ({"msg_type": "articles", "message": [article(title="x" * 46)]}, "message[0].title"),
        ({"to_users": []}, "to_users"),
    ],
    ids=["msg_type", "message", "to_users"],
)
def test_plain_invalid_message_rejected_when_the_operator_is_built(kwargs, field):
    """Each of the three checks the operator runs at parse time; the rules: ``test_messages.py``."""
    kwargs = {"to_users": ["1000"], "message": "hi", **kwargs}
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        FxiaokeSendMessageOperator(task_id="bad", **kwargs)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_templated_message_is_checked_only_after_rendering():
    """A template may break a rule as written and keep it once rendered: no error at parse time.

    The same article written out literally is refused, so the difference is the template alone.
    """
    title = "{{ params.digest_title_for_the_quarterly_review_meeting }}"  # renders to a short title
    assert len(title) > ARTICLE_TITLE_MAX
    operator = FxiaokeSendMessageOperator(
        task_id="later", to_users=["1000"], msg_type="articles", message=[article(title=title)]
    )
    assert operator.message[0]["title"] == title
    with pytest.raises(FxiaokeInvalidInputError, match=r"message\[0\]\.title"):
        FxiaokeSendMessageOperator(
            task_id="now", to_users=["1000"], msg_type="articles", message=[article(title="x" * len(title))]
        )


def test_templated_message_invalid_after_rendering_fails_without_sending(sandbox, use_connection):
    use_connection(sandbox)
    dag_run = run_dag(load_dag(DAGS / "fxiaoke_it_render_errors.py", "fxiaoke_it_render_errors"))

    tasks = ["empty_text", "card_without_url", "article_title_too_long", "recipients_not_json"]
    assert task_states(dag_run) == dict.fromkeys(tasks, "failed")
    assert _try_numbers(dag_run) == dict.fromkeys(tasks, 1)  # retries=1, but bad input is final
    assert sandbox.requests() == []  # nothing sent, not even a token asked for
    assert sandbox.messages() == []


# --- failure semantics: permanent errors fail at once, transient ones are left to Airflow retries ---
@pytest.mark.parametrize("code", [DAILY_QUOTA_EXHAUSTED, NO_PERMISSION])
def test_permanent_gateway_error_fails_task_without_airflow_retry(sandbox, use_connection, code):
    use_connection(sandbox)
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "error", count=3, code=code)  # enough for every retry
    dag_run = run_dag(load_dag(DAGS / "fxiaoke_it_failures.py", "fxiaoke_it_failures"))

    assert task_states(dag_run) == {"send": "failed"}
    assert _try_numbers(dag_run) == {"send": 1}  # retries=2 on the task, none used
    sends = requests_to(sandbox, SERVICE_MESSAGE_SEND_PATH)
    assert [r["errorCode"] for r in sends] == [code]  # exactly one business request
    assert sandbox.messages() == []
    assert xcom(dag_run, "send") is None


def test_transient_error_outlasting_hook_retries_is_retried_by_airflow(sandbox, use_connection):
    use_connection(sandbox, retry_max_attempts=2)
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "error", count=2, code=SYSTEM_BUSY)  # all of try 1
    dag_run = run_dag(load_dag(DAGS / "fxiaoke_it_failures.py", "fxiaoke_it_failures"))

    assert task_states(dag_run) == {"send": "success"}
    assert _try_numbers(dag_run) == {"send": 2}  # Airflow's own retry delivered it
    sends = requests_to(sandbox, SERVICE_MESSAGE_SEND_PATH)
    assert [r["errorCode"] for r in sends] == [SYSTEM_BUSY, SYSTEM_BUSY, 0]
    (message,) = sandbox.messages()
    assert message["message"] == {"content": f"Load finished on {_ds(dag_run)}"}
    assert xcom(dag_run, "send") == message["traceId"]
    assert _paths(sandbox).count(TOKEN_PATH) == 1  # the token is reused across tries
