"""CRM writing, unit layer: the bodies sent, which writes are repeatable, the local field rules.

A scripted gateway records every body. That a create with a lost answer raises the outcome-unknown
error (and is not sent again) is the gateway's contract for calls not declared repeatable; here
only that a create is not declared repeatable. The end-to-end behaviour is tested on the sandbox.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import pytest

from fxiaoke_provider.crm import Crm, writing
from fxiaoke_provider.exceptions import (
    FxiaokeConnectionConfigError,
    FxiaokeInvalidInputError,
    FxiaokeOutcomeUnknownError,
    FxiaokeProtocolError,
)
from tests.support import ScriptedGateway

OPEN_ID = "FSUID_0123456789ABCDEF"
RECORD_ID = "69ad3d697b29ec0007111128"
OK = {"errorCode": 0, "errorMessage": "OK", "traceId": "E-O.2"}


def created(record_id: str = RECORD_ID) -> dict[str, Any]:
    return {**OK, "dataId": record_id}


def test_create_sends_the_reference_body_once_and_returns_the_data_id() -> None:
    gateway = ScriptedGateway(created())
    fields = {"name": "ACME", "mobile": "13800000000", "owner": ["1000"]}
    assert writing.create_record(gateway, "LeadsObj", fields) == RECORD_ID
    [call] = gateway.calls
    assert (call.path, call.repeatable) == ("/cgi/crm/v2/data/create", False)
    assert call.body == {
        "data": {
            "object_data": {
                "dataObjectApiName": "LeadsObj",
                "name": "ACME",
                "mobile": "13800000000",
                "owner": ["1000"],
            },
            "details": {},
        }
    }
    assert fields == {"name": "ACME", "mobile": "13800000000", "owner": ["1000"]}  # not changed


def test_a_create_whose_outcome_is_unknown_is_not_sent_again() -> None:
    lost = FxiaokeOutcomeUnknownError("read timeout", third_trace_id="0b6c3f2e-6a8d-4f0e-9a43-1c1f9f0d2b7a")
    gateway = ScriptedGateway(lost)
    with pytest.raises(FxiaokeOutcomeUnknownError) as caught:
        writing.create_record(gateway, "LeadsObj", {"name": "ACME"})
    assert caught.value.third_trace_id == "0b6c3f2e-6a8d-4f0e-9a43-1c1f9f0d2b7a"
    assert len(gateway.calls) == 1


def test_custom_objects_write_on_the_custom_paths() -> None:
    gateway = ScriptedGateway(created(), OK, OK)
    writing.create_record(gateway, "object_x__c", {"name": "A"})
    writing.update_record(gateway, "object_x__c", RECORD_ID, {"score__c": 3})
    writing.invalidate_record(gateway, "object_x__c", RECORD_ID)
    assert [c.path for c in gateway.calls] == [
        "/cgi/crm/custom/v2/data/create",
        "/cgi/crm/custom/v2/data/update",
        "/cgi/crm/custom/v2/data/invalid",
    ]


def test_a_create_answer_without_data_id_is_an_error_that_says_the_record_may_exist() -> None:
    gateway = ScriptedGateway(OK)
    with pytest.raises(FxiaokeProtocolError, match="look it up before creating it again") as caught:
        writing.create_record(gateway, "LeadsObj", {"name": "ACME"})
    assert (caught.value.path, caught.value.trace_id) == ("/cgi/crm/v2/data/create", "E-O.2")


def test_update_sends_the_reference_body_and_is_repeatable() -> None:
    gateway = ScriptedGateway(OK, OK)
    writing.update_record(gateway, "AccountObj", RECORD_ID, {"industry": "retail"})
    writing.update_record(gateway, "AccountObj", RECORD_ID, {"_id": RECORD_ID, "industry": "retail"})
    assert [(c.path, c.repeatable) for c in gateway.calls] == [("/cgi/crm/v2/data/update", True)] * 2
    expected = {
        "data": {"object_data": {"dataObjectApiName": "AccountObj", "_id": RECORD_ID, "industry": "retail"}}
    }
    assert [c.body for c in gateway.calls] == [expected, expected]


def test_invalidate_sends_the_reference_body_and_is_repeatable() -> None:
    gateway = ScriptedGateway(OK)
    writing.invalidate_record(gateway, "AccountObj", RECORD_ID)
    [call] = gateway.calls
    assert (call.path, call.repeatable) == ("/cgi/crm/v2/data/invalid", True)
    assert call.body == {"data": {"dataObjectApiName": "AccountObj", "object_data_id": RECORD_ID}}


def test_legacy_writes_carry_the_acting_open_user_id() -> None:
    gateway = ScriptedGateway(created(), OK, OK, auth_style="legacy", user_id=OPEN_ID)
    writing.create_record(gateway, "LeadsObj", {"name": "A"})
    writing.update_record(gateway, "LeadsObj", RECORD_ID, {"name": "B"})
    writing.invalidate_record(gateway, "LeadsObj", RECORD_ID)
    assert [c.body["currentOpenUserId"] for c in gateway.calls] == [OPEN_ID] * 3


def test_a_legacy_write_without_user_id_sends_nothing() -> None:
    gateway = ScriptedGateway(auth_style="legacy", user_id=None)
    with pytest.raises(FxiaokeConnectionConfigError) as caught:
        writing.create_record(gateway, "LeadsObj", {"name": "A"})
    assert caught.value.field.endswith("user_id")
    assert gateway.calls == []


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"mobile": "1"}, "fields['name']", "required on create"),
        ({"name": ""}, "fields['name']", "must not be empty"),
        ({"name": "   "}, "fields['name']", "must not be empty"),
        ({"name": None}, "fields['name']", "required on create"),
        ({"name": "A", "_id": RECORD_ID}, "fields['_id']", "assigned by the gateway"),
        ({"name": "A", "dataObjectApiName": "ContactObj"}, "fields['dataObjectApiName']", "object_api_name"),
        ({"name": "A", "": 1}, "fields['']", "field's API name"),
        ({"name": "A", 5: 1}, "fields[5]", "field's API name"),
        ({"name": "A", "t": datetime.date(2026, 1, 1)}, "fields['t']", "epoch milliseconds"),
        ({"name": "A", "tags": {"a", "b"}}, "fields['tags']", "must be JSON"),
        ({"name": "A", "amount": math.inf}, "fields['amount']", "must be JSON"),
        ([("name", "A")], "fields", "mapping"),
    ],
)
def test_create_refuses_bad_fields_by_name_before_any_call(fields: Any, field: str, words: str) -> None:
    gateway = ScriptedGateway()
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        writing.create_record(gateway, "LeadsObj", fields)
    assert caught.value.field == field
    assert words in caught.value.rule
    assert gateway.calls == []


@pytest.mark.parametrize(
    ("record_id", "fields", "field"),
    [
        ("", {"name": "A"}, "record_id"),
        (None, {"name": "A"}, "record_id"),
        (RECORD_ID, {}, "fields"),
        (RECORD_ID, {"_id": RECORD_ID}, "fields"),
        (RECORD_ID, {"_id": "69ad3d697b29ec0007111129", "name": "A"}, "fields['_id']"),
        (RECORD_ID, {"dataObjectApiName": "AccountObj", "name": "A"}, "fields['dataObjectApiName']"),
        (RECORD_ID, {"name": object()}, "fields['name']"),
    ],
)
def test_update_refuses_bad_input_by_name_before_any_call(record_id: Any, fields: Any, field: str) -> None:
    gateway = ScriptedGateway()
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        writing.update_record(gateway, "AccountObj", record_id, fields)
    assert caught.value.field == field
    assert gateway.calls == []


@pytest.mark.parametrize(
    ("name", "record_id", "field"),
    [("Bad Obj", RECORD_ID, "object_api_name"), ("AccountObj", " ", "record_id")],
)
def test_invalidate_refuses_bad_input_before_any_call(name: str, record_id: str, field: str) -> None:
    gateway = ScriptedGateway()
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        writing.invalidate_record(gateway, name, record_id)
    assert caught.value.field == field
    assert gateway.calls == []


def test_the_service_object_delegates_writes() -> None:
    gateway = ScriptedGateway(created(), OK, OK)
    crm = Crm(gateway)
    assert crm.create_record("LeadsObj", {"name": "A"}) == RECORD_ID
    assert crm.update_record("LeadsObj", RECORD_ID, {"name": "B"}) is None
    assert crm.invalidate_record("LeadsObj", RECORD_ID) is None
    assert [c.path.rsplit("/", 1)[1] for c in gateway.calls] == ["create", "update", "invalid"]
