"""CRM reading, unit layer: the bodies sent, the keyset cursor, legacy ``currentOpenUserId``, limits.

A scripted gateway records every body; what the real gateway does with them is tested against
the sandbox. Filter validation itself is in ``test_crm_filters.py``; here only that a refusal
sends nothing.
"""

from __future__ import annotations

import pickle
import re
from typing import Any

import pytest

from fxiaoke_provider.crm import Crm, FxiaokeTooManyRecordsError, reading
from fxiaoke_provider.exceptions import (
    FxiaokeConnectionConfigError,
    FxiaokeInvalidInputError,
    FxiaokeProtocolError,
)
from tests.support import ScriptedGateway

OPEN_ID = "FSUID_0123456789ABCDEF"
QUERY = "/cgi/crm/v2/data/query"
CUSTOM_QUERY = "/cgi/crm/custom/v2/data/query"


def rid(n: int) -> str:
    """The n-th record id: 24 lower-case hex digits, ascending with n."""
    return f"{n:024x}"


def answer(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"errorCode": 0, "errorMessage": "OK", "traceId": "E-O.1", "data": {"dataList": records}}


def records(*numbers: int) -> list[dict[str, Any]]:
    return [{"_id": rid(n), "name": f"Account {n}"} for n in numbers]


def serve(count: int) -> Any:
    """An in-memory object of ``count`` records answering ``_id GT`` / ``_id EQ`` queries with ``limit``."""
    table = records(*range(1, count + 1))
    tests = {"GT": lambda a, b: a > b, "EQ": lambda a, b: a == b}

    def respond(path: str, body: dict[str, Any]) -> dict[str, Any]:
        query = body["data"]["search_query_info"]
        on_id = [(f["operator"], f["field_values"][0]) for f in query["filters"] if f["field_name"] == "_id"]
        found = [r for r in table if all(tests[op](r["_id"], value) for op, value in on_id)]
        return answer(found[: query["limit"]])

    return respond


def search(call: Any) -> dict[str, Any]:
    return call.body["data"]["search_query_info"]


def test_the_query_body_is_the_manuals() -> None:
    gateway = ScriptedGateway(answer(records(1)))
    result = list(
        reading.iter_records(
            gateway, "AccountObj", filters=[("last_modified_time", "GTE", 1764547200000)], fields=["name"]
        )
    )
    assert result == records(1)
    assert [(c.path, c.repeatable) for c in gateway.calls] == [(QUERY, True)]
    assert gateway.calls[0].body == {
        "data": {
            "dataObjectApiName": "AccountObj",
            "find_explicit_total_num": False,
            "search_query_info": {
                "limit": 100,
                "offset": 0,
                "filters": [
                    {"field_name": "last_modified_time", "operator": "GTE", "field_values": [1764547200000]}
                ],
                "orders": [{"fieldName": "_id", "isAsc": True}],
                "fieldProjection": ["_id", "name"],
            },
        }
    }


def test_no_fields_means_no_projection() -> None:
    gateway = ScriptedGateway(answer([]))
    assert list(reading.iter_records(gateway, "AccountObj")) == []
    assert "fieldProjection" not in search(gateway.calls[0])
    assert search(gateway.calls[0])["filters"] == []


def test_custom_objects_query_the_custom_path() -> None:
    gateway = ScriptedGateway(answer([]))
    list(reading.iter_records(gateway, "object_x__c"))
    assert gateway.calls[0].path == CUSTOM_QUERY
    assert gateway.calls[0].body["data"]["dataObjectApiName"] == "object_x__c"


def test_keyset_paging_reads_every_record_once_with_offset_zero() -> None:
    gateway = ScriptedGateway(serve(250))
    ids = [r["_id"] for r in reading.iter_records(gateway, "AccountObj", filters=[("name", "LIKE", "Acc")])]
    assert ids == [rid(n) for n in range(1, 251)]
    assert [search(c)["limit"] for c in gateway.calls] == [100, 100, 100]  # the third page is short: done
    assert {search(c)["offset"] for c in gateway.calls} == {0}
    user = {"field_name": "name", "operator": "LIKE", "field_values": ["Acc"]}
    assert [search(c)["filters"] for c in gateway.calls] == [
        [user],
        [user, {"field_name": "_id", "operator": "GT", "field_values": [rid(100)]}],
        [user, {"field_name": "_id", "operator": "GT", "field_values": [rid(200)]}],
    ]


def test_a_full_last_page_costs_one_empty_page() -> None:
    gateway = ScriptedGateway(serve(200))
    assert sum(1 for _ in reading.iter_records(gateway, "AccountObj")) == 200
    assert len(gateway.calls) == 3


def test_the_stream_holds_one_page() -> None:
    gateway = ScriptedGateway(serve(1000))
    stream = reading.iter_records(gateway, "AccountObj", page_size=10)
    assert [next(stream)["_id"] for _ in range(10)] == [rid(n) for n in range(1, 11)]
    assert len(gateway.calls) == 1  # the next page is asked for only when this one is used up
    next(stream)
    assert len(gateway.calls) == 2


def test_after_id_resumes_strictly_after_it_and_a_users_id_filter_stays() -> None:
    gateway = ScriptedGateway(serve(30))
    own = ("_id", "GT", rid(5))
    got = list(reading.iter_records(gateway, "AccountObj", filters=[own], page_size=10, after_id=rid(12)))
    assert [r["_id"] for r in got][:3] == [rid(13), rid(14), rid(15)]
    assert [r["_id"] for r in got][-1] == rid(30)
    first = search(gateway.calls[0])["filters"]
    assert first == [
        {"field_name": "_id", "operator": "GT", "field_values": [rid(5)]},
        {"field_name": "_id", "operator": "GT", "field_values": [rid(12)]},
    ]


def test_a_record_at_or_before_the_cursor_stops_the_stream() -> None:
    # A gateway that ignores ``_id GT`` would serve page one forever: the stream stops instead.
    gateway = ScriptedGateway(answer(records(1, 2)), answer(records(1, 2)))
    stream = reading.iter_records(gateway, "AccountObj", page_size=2)
    assert [next(stream)["_id"], next(stream)["_id"]] == [rid(1), rid(2)]
    with pytest.raises(FxiaokeProtocolError, match="at or before"):
        next(stream)


@pytest.mark.parametrize(
    ("page", "words"),
    [
        ({"errorCode": 0, "data": {}}, "data.dataList"),
        ({"errorCode": 0}, "data.dataList"),
        (answer([{"name": "no id"}]), "no _id"),
        (answer(["not a record"]), "no _id"),
        (answer(records(2, 1)), "at or before"),
    ],
)
def test_answers_without_what_the_reference_promises_are_errors(page: dict, words: str) -> None:
    gateway = ScriptedGateway(page)
    with pytest.raises(FxiaokeProtocolError, match=re.escape(words)) as caught:
        list(reading.iter_records(gateway, "AccountObj"))
    assert caught.value.path == QUERY


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"filters": [("name", "EQ", "a"), ("t", "BETWEEN", [1])]}, "filters[1].field_values"),
        ({"page_size": 101}, "page_size"),
        ({"fields": "name"}, "fields"),
        ({"after_id": ""}, "after_id"),
        ({"object_api_name": "Account Obj"}, "object_api_name"),
    ],
)
def test_bad_input_is_refused_when_called_and_sends_nothing(kwargs: dict, field: str) -> None:
    gateway = ScriptedGateway()
    name = kwargs.pop("object_api_name", "AccountObj")
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        reading.iter_records(gateway, name, **kwargs)  # not iterated: refused at the call
    assert caught.value.field == field
    assert gateway.calls == []


# --- legacy style -----------------------------------------------------------------------------
def test_legacy_style_carries_the_acting_open_user_id_on_every_read() -> None:
    gateway = ScriptedGateway(
        answer(records(1)),
        answer(records(1)),
        {"errorCode": 0, "data": {"describe": {"fields": {}}}},
        {"errorCode": 0, "data": []},
        auth_style="legacy",
        user_id=OPEN_ID,
    )
    list(reading.iter_records(gateway, "AccountObj"))
    reading.get_record(gateway, "AccountObj", rid(1))
    reading.describe_object(gateway, "AccountObj")
    reading.list_objects(gateway)
    assert [c.body["currentOpenUserId"] for c in gateway.calls] == [OPEN_ID] * 4
    assert all(c.repeatable for c in gateway.calls)


def test_header_style_leaves_the_acting_user_to_the_gateway() -> None:
    gateway = ScriptedGateway(answer([]))
    list(reading.iter_records(gateway, "AccountObj"))
    assert set(gateway.calls[0].body) == {"data"}


def test_legacy_without_user_id_is_a_configuration_error_before_any_call() -> None:
    gateway = ScriptedGateway(auth_style="legacy", user_id=None, conn_id="fxiaoke_legacy")
    with pytest.raises(FxiaokeConnectionConfigError) as caught:
        reading.iter_records(gateway, "AccountObj")
    assert caught.value.conn_id == "fxiaoke_legacy"
    assert caught.value.field == "connection 'fxiaoke_legacy' user_id"
    assert "currentOpenUserId" in caught.value.rule
    assert gateway.calls == []


def test_legacy_without_user_id_outside_airflow_names_the_field() -> None:
    gateway = ScriptedGateway(auth_style="legacy", user_id=None, conn_id=None)
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        reading.list_objects(gateway)
    assert not isinstance(caught.value, FxiaokeConnectionConfigError)
    assert caught.value.field == "user_id"
    assert gateway.calls == []


def test_legacy_user_id_must_be_an_open_id() -> None:
    gateway = ScriptedGateway(auth_style="legacy", user_id="1000")
    with pytest.raises(FxiaokeConnectionConfigError, match="FSUID_"):
        reading.describe_object(gateway, "AccountObj")
    assert gateway.calls == []


# --- query_records: a small result or an error that points to the export ----------------------
def test_query_records_returns_up_to_max_records() -> None:
    gateway = ScriptedGateway(serve(7))
    assert len(reading.query_records(gateway, "AccountObj", max_records=7)) == 7
    assert [search(c)["limit"] for c in gateway.calls] == [8]


def test_query_records_reads_at_most_one_more_than_max_records() -> None:
    gateway = ScriptedGateway(serve(10_000))
    with pytest.raises(FxiaokeTooManyRecordsError) as caught:
        reading.query_records(gateway, "AccountObj", max_records=250)
    assert [search(c)["limit"] for c in gateway.calls] == [100, 100, 51]
    assert "FxiaokeToObjectStorageOperator" in str(caught.value)
    assert "250" in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (type(again), str(again), again.max_records) == (
        FxiaokeTooManyRecordsError,
        str(caught.value),
        250,
    )


@pytest.mark.parametrize("max_records", [0, -1, True, 1.5, "10"])
def test_query_records_refuses_a_bad_max_records(max_records: object) -> None:
    gateway = ScriptedGateway()
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        reading.query_records(gateway, "AccountObj", max_records=max_records)  # type: ignore[arg-type]
    assert caught.value.field == "max_records"
    assert gateway.calls == []


# --- one record, describe, list ---------------------------------------------------------------
def test_get_record_is_a_one_record_query_on_the_id() -> None:
    gateway = ScriptedGateway(answer(records(5)), answer([]))
    assert reading.get_record(gateway, "object_x__c", rid(5)) == records(5)[0]
    assert reading.get_record(gateway, "object_x__c", rid(6)) is None
    first = gateway.calls[0]
    assert (first.path, first.repeatable) == (CUSTOM_QUERY, True)
    assert search(first)["limit"] == 1
    assert search(first)["filters"] == [{"field_name": "_id", "operator": "EQ", "field_values": [rid(5)]}]


def test_get_record_refuses_another_record() -> None:
    gateway = ScriptedGateway(answer(records(6)))
    with pytest.raises(FxiaokeProtocolError, match="another record"):
        reading.get_record(gateway, "AccountObj", rid(5))


def test_describe_returns_the_field_map() -> None:
    fields = {"name": {"label": "Name", "type": "text"}, "industry": {"type": "select_one", "options": []}}
    gateway = ScriptedGateway({"errorCode": 0, "data": {"describe": {"fields": fields}}})
    assert reading.describe_object(gateway, "object_x__c") == fields
    call = gateway.calls[0]
    assert (call.path, call.repeatable) == ("/cgi/crm/v2/object/describe", True)  # one path for both kinds
    assert call.body == {"data": {"apiName": "object_x__c", "includeDetail": True}}


def test_describe_without_the_field_map_is_an_error() -> None:
    gateway = ScriptedGateway({"errorCode": 0, "data": {"describe": {}}, "traceId": "E-O.7"})
    with pytest.raises(FxiaokeProtocolError, match=r"data\.describe\.fields") as caught:
        reading.describe_object(gateway, "AccountObj")
    assert caught.value.trace_id == "E-O.7"


@pytest.mark.parametrize(
    "data",
    [[{"describeApiName": "AccountObj"}], {"objects": [{"describeApiName": "AccountObj"}]}],
)
def test_list_objects_reads_the_one_list_in_data(data: Any) -> None:
    gateway = ScriptedGateway({"errorCode": 0, "data": data})
    assert reading.list_objects(gateway) == [{"describeApiName": "AccountObj"}]
    assert (gateway.calls[0].path, gateway.calls[0].body) == ("/cgi/crm/v2/object/list", {})


@pytest.mark.parametrize("data", [None, {}, {"a": [], "b": []}, "AccountObj"])
def test_list_objects_refuses_to_guess(data: Any) -> None:
    gateway = ScriptedGateway({"errorCode": 0, "data": data})
    with pytest.raises(FxiaokeProtocolError):
        reading.list_objects(gateway)


def test_the_service_object_delegates() -> None:
    gateway = ScriptedGateway(serve(3))
    crm = Crm(gateway)
    assert [r["_id"] for r in crm.iter_records("AccountObj", page_size=2)] == [rid(1), rid(2), rid(3)]
    assert len(crm.query_records("AccountObj", max_records=5)) == 3
    assert crm.get_record("AccountObj", rid(2)) is not None
