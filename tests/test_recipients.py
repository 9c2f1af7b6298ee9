"""Recipients by mobile number and department, mixed with ``to_users``: each person once, nothing sent
before every lookup worked. Real HTTP to the sandbox, whose directory knows both ids of each person."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fxiaoke_provider.exceptions import FxiaokeInvalidInputError, FxiaokePermanentError
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging.wire import (
    CONVERT_USER_ID_FIELD,
    DEPARTMENT_LIST_PATH,
    MAX_RECIPIENTS_PER_REQUEST,
    TO_USER_FIELD,
    USER_BY_MOBILE_PATH,
    USER_SIMPLE_LIST_PATH,
)
from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier
from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator
from fxiaoke_provider.sandbox import DEFAULT_DIRECTORY, Department, Directory, Person, SandboxGateway
from tests.airflow_helpers import load_dag, run_dag, task_states
from tests.support import TEST_DAGS

MOBILE = {person.employee_id: person.mobile for person in DEFAULT_DIRECTORY.people}
OPEN_ID = {person.employee_id: person.open_user_id for person in DEFAULT_DIRECTORY.people}
UNKNOWN_MOBILE = "13899999999"
SALES, SALES_EAST = 2, 3  # Sales: 1001, 1002; Sales East (below Sales): 1003, 1004


@pytest.fixture
def hook(sandbox: SandboxGateway, use_connection) -> FxiaokeHook:
    use_connection(sandbox)
    return FxiaokeHook()


def deliveries(sandbox: SandboxGateway) -> dict[str, int]:
    """Deliveries per person (employee id), whichever id kind reached them; unknown ids must be none."""
    report = sandbox.deliveries_per_person()
    assert report["unknown_ids"] == {}
    return {key: person["deliveries"] for key, person in report["persons"].items()}


def paths(sandbox: SandboxGateway) -> list[str]:
    return [record["path"] for record in sandbox.requests()]


def record_bodies(hook: FxiaokeHook) -> list[dict[str, Any]]:
    """The JSON bodies the hook's session posts (still sent for real): for what the sandbox ignores."""
    bodies: list[dict[str, Any]] = []
    post = hook.session.post

    def recording(url: str, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("data"), bytes):
            bodies.append(json.loads(kwargs["data"]))
        return post(url, **kwargs)

    hook.session.post = recording  # type: ignore[method-assign]
    return bodies


# --- mixed kinds -------------------------------------------------------------------------------
def test_users_mobiles_and_departments_reach_each_person_once(sandbox, hook) -> None:
    answers = hook.send_message(
        ["1000", OPEN_ID["1004"]],  # an employee id, and an open id that department 3 also holds
        "stand-up moved to 10:00",
        to_mobiles=[MOBILE["1001"], MOBILE["1001"], MOBILE["1003"]],  # a repeated mobile
        to_departments=[SALES_EAST],  # 1003 (also by mobile) and 1004 (also in to_users)
    )

    assert deliveries(sandbox) == {"1000": 1, "1001": 1, "1002": 0, "1003": 1, "1004": 1}
    employees, open_ids = sandbox.messages()
    assert employees["toUser"] == ["1000"]
    assert open_ids["toUser"] == [OPEN_ID[key] for key in ("1004", "1001", "1003")]
    assert [answer["traceId"] for answer in answers] == [employees["traceId"], open_ids["traceId"]]
    assert paths(sandbox).count(USER_BY_MOBILE_PATH) == 2  # the repeated mobile is asked once


def test_open_ids_go_with_convert_user_id_and_employee_ids_without(sandbox, hook) -> None:
    bodies = record_bodies(hook)
    hook.send_message(["1000"], "hi", to_mobiles=[MOBILE["1002"]])

    sends = [body for body in bodies if TO_USER_FIELD in body]
    assert [(body[TO_USER_FIELD], CONVERT_USER_ID_FIELD in body) for body in sends] == [
        (["1000"], False),
        ([OPEN_ID["1002"]], True),
    ]
    assert sends[1][CONVERT_USER_ID_FIELD] is True


def test_legacy_style_sends_looked_up_open_ids_as_they_are(sandbox, use_connection) -> None:
    use_connection(sandbox, auth_style="legacy", user_id=OPEN_ID["1000"])
    hook = FxiaokeHook()
    bodies = record_bodies(hook)
    hook.send_message([OPEN_ID["1001"]], "hi", to_mobiles=[MOBILE["1001"]], to_departments=[SALES_EAST])

    (message,) = sandbox.messages()  # one kind of id: one request
    assert message["auth_style"] == "legacy"
    assert message["toUser"] == [OPEN_ID[key] for key in ("1001", "1003", "1004")]
    (send,) = [body for body in bodies if TO_USER_FIELD in body]
    assert CONVERT_USER_ID_FIELD not in send


def test_sub_departments_are_included_unless_turned_off(sandbox, hook) -> None:
    hook.send_message(None, "all of sales", to_departments=[SALES])
    assert deliveries(sandbox) == {"1000": 0, "1001": 1, "1002": 1, "1003": 1, "1004": 1}

    sandbox.reset()
    hook.send_message(None, "sales only", to_departments=[str(SALES)], include_sub_departments=False)
    assert deliveries(sandbox) == {"1000": 0, "1001": 1, "1002": 1, "1003": 0, "1004": 0}


def test_a_department_of_600_goes_out_in_requests_of_at_most_500(use_connection) -> None:
    people = [
        Person(str(2000 + i), f"FSUID_BULK{i:04d}", f"Member {i}", f"1390000{i:04d}", (9,))
        for i in range(600)
    ]
    directory = Directory(people, [Department(9, "Field force")])
    with SandboxGateway(port=0, token_delay_s=0.0, directory=directory) as sandbox:
        use_connection(sandbox)
        answers = FxiaokeHook().send_message(["1000"], "quarter closed", to_departments=[9])

        sizes = [len(message["toUser"]) for message in sandbox.messages()]
        assert sizes == [1, MAX_RECIPIENTS_PER_REQUEST, 100]
        assert len(answers) == 3
        counts = {
            key: person["deliveries"] for key, person in sandbox.deliveries_per_person()["persons"].items()
        }
        assert set(counts.values()) == {1}


def test_lookups_are_cached_per_hook(sandbox, hook) -> None:
    for _ in range(3):
        hook.send_message(None, "ping", to_mobiles=[MOBILE["1001"]], to_departments=[SALES_EAST])

    assert paths(sandbox).count(USER_BY_MOBILE_PATH) == 1
    assert paths(sandbox).count(USER_SIMPLE_LIST_PATH) == 1
    assert deliveries(sandbox) == {"1000": 0, "1001": 3, "1002": 0, "1003": 3, "1004": 3}


# --- refused before any message ----------------------------------------------------------------
def test_unknown_mobile_is_bad_input_and_nothing_is_sent(sandbox, hook) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        hook.send_message(["1000"], "hi", to_mobiles=[MOBILE["1001"], UNKNOWN_MOBILE])

    assert caught.value.field == "to_mobiles[1]"
    assert f"no employee has mobile '{UNKNOWN_MOBILE}'" in str(caught.value)
    assert caught.value.retryable_by_airflow is False
    assert sandbox.messages() == []
    assert paths(sandbox).count(USER_BY_MOBILE_PATH) == 2  # resolved all the way to the unknown one


def test_department_without_members_is_bad_input_naming_it(use_connection) -> None:
    directory = Directory(
        DEFAULT_DIRECTORY.people, [*DEFAULT_DIRECTORY.departments, Department(7, "Empty", 1)]
    )
    with SandboxGateway(port=0, token_delay_s=0.0, directory=directory) as sandbox:
        use_connection(sandbox)
        with pytest.raises(FxiaokeInvalidInputError) as caught:
            FxiaokeHook().send_message(["1000"], "hi", to_departments=[SALES, 7])

        assert caught.value.field == "to_departments[1]"
        assert "department 7 or its sub-departments has no members" in str(caught.value)
        assert sandbox.messages() == []


def test_unknown_department_is_the_gateways_permanent_refusal(sandbox, hook) -> None:
    with pytest.raises(FxiaokePermanentError) as caught:
        hook.send_message(["1000"], "hi", to_departments=[404])
    assert caught.value.path == USER_SIMPLE_LIST_PATH
    assert sandbox.messages() == []


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        ({"to_mobiles": ["138.0000.1001"]}, "to_mobiles[0]", "must be a mobile number"),
        ({"to_mobiles": [MOBILE["1001"], "call me"]}, "to_mobiles[1]", "must be a mobile number"),
        ({"to_mobiles": ["12345"]}, "to_mobiles[0]", "6 to 15 digits"),
        ({"to_mobiles": ["+1234567890123456"]}, "to_mobiles[0]", "6 to 15 digits"),
        ({"to_mobiles": [True]}, "to_mobiles[0]", "must be a mobile number"),
        ({"to_mobiles": MOBILE["1001"]}, "to_mobiles", "must be a list of mobile numbers"),
        ({"to_departments": ["sales"]}, "to_departments[0]", "must be a department id"),
        ({"to_departments": [-1]}, "to_departments[0]", "must be a department id"),
        ({"to_departments": [2.5]}, "to_departments[0]", "must be a department id"),
        ({"to_users": [], "to_mobiles": [], "to_departments": []}, "to_users", "at least one id"),
        ({"to_users": None}, "to_users", "must be a list of ids"),
        ({"to_users": ["alice"], "to_mobiles": [MOBILE["1001"]]}, "to_users[0]", "CRM employee id"),
    ],
)
def test_malformed_recipients_are_refused_before_any_request(sandbox, hook, kwargs, field, rule) -> None:
    call = {"to_users": ["1000"], **kwargs}
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        hook.send_message(call.pop("to_users"), "hi", **call)

    assert caught.value.field == field
    assert rule in caught.value.rule
    assert sandbox.requests() == []  # not even a token call


def test_mobile_format_is_permissive_about_plus_and_integers(sandbox, hook) -> None:
    """A leading +, spaces, dashes and integers pass the local rule; the address book decides."""
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        hook.send_message(None, "hi", to_mobiles=[" 138 0000-1001 ", int(MOBILE["1002"]), "+8613800001003"])
    assert caught.value.field == "to_mobiles[2]"  # the sandbox holds mobiles without a country code
    assert [r["path"] for r in sandbox.requests()].count(USER_BY_MOBILE_PATH) == 3


# --- hook helpers ------------------------------------------------------------------------------
def test_address_book_helpers(sandbox, hook) -> None:
    employee = hook.get_user_by_mobile(MOBILE["1003"])
    assert employee is not None and employee["openUserId"] == OPEN_ID["1003"]
    assert hook.get_user_by_mobile(UNKNOWN_MOBILE) is None

    assert [d["id"] for d in hook.list_departments()] == [1, 2, 3]
    assert {u["openUserId"] for u in hook.list_department_users(SALES)} == {
        OPEN_ID[key] for key in ("1001", "1002", "1003", "1004")
    }
    assert {u["openUserId"] for u in hook.list_department_users(SALES, fetch_child=False)} == {
        OPEN_ID[key] for key in ("1001", "1002")
    }
    assert paths(sandbox).count(DEPARTMENT_LIST_PATH) == 1


def test_helpers_share_the_calls_retry_policy(sandbox, hook) -> None:
    sandbox.add_fault(USER_BY_MOBILE_PATH, "error", code=30004)
    sandbox.add_fault(USER_SIMPLE_LIST_PATH, "expired-token")

    assert hook.get_user_by_mobile(MOBILE["1001"])["openUserId"] == OPEN_ID["1001"]
    assert len(hook.list_department_users(SALES_EAST)) == 2
    assert paths(sandbox).count(USER_BY_MOBILE_PATH) == 2  # the rate-limited try, then the retry
    assert paths(sandbox).count(USER_SIMPLE_LIST_PATH) == 2  # 20016: one renewal, then the call again


# --- operator and notifier ---------------------------------------------------------------------
def test_operator_checks_plain_recipients_when_the_dag_is_parsed() -> None:
    with pytest.raises(FxiaokeInvalidInputError, match=r"to_mobiles\[0\]: must be a mobile number"):
        FxiaokeSendMessageOperator(task_id="t", message="hi", to_mobiles=["n/a"])
    with pytest.raises(FxiaokeInvalidInputError, match=r"to_departments\[0\]"):
        FxiaokeSendMessageOperator(task_id="t", message="hi", to_departments=["sales"])
    with pytest.raises(FxiaokeInvalidInputError, match="to_users: must be a list of ids"):
        FxiaokeSendMessageOperator(task_id="t", message="hi")
    # templated kinds wait for rendering
    FxiaokeSendMessageOperator(task_id="t", message="hi", to_mobiles="{{ params.on_call }}")


def test_notifier_reaches_people_by_mobile_and_department(sandbox, use_connection) -> None:
    use_connection(sandbox)
    notifier = FxiaokeNotifier(
        message="load failed", to_mobiles=[MOBILE["1000"]], to_departments=[SALES_EAST], to_users=None
    )
    notifier.notify({})

    assert deliveries(sandbox) == {"1000": 1, "1001": 0, "1002": 0, "1003": 1, "1004": 1}


def test_unknown_mobile_fails_the_task_on_try_1_without_sending(sandbox, use_connection) -> None:
    use_connection(sandbox)
    dag_run = run_dag(load_dag(TEST_DAGS / "fxiaoke_it_recipients.py", "fxiaoke_it_recipients"))

    assert task_states(dag_run) == {"page_on_call": "failed"}
    assert {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()} == {"page_on_call": 1}
    assert sandbox.messages() == []
    assert paths(sandbox).count(USER_BY_MOBILE_PATH) == 2
