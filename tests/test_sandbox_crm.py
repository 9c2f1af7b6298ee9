"""The sandbox's CRM object data behaves as the project's OpenAPI reference says, over real HTTP.

Like ``test_sandbox.py``, the sandbox is tested on its own with plain ``requests`` (never the
provider's client); the reference's numbers are written out literally so a wrong rule shows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from fxiaoke_provider.sandbox import (
    ASSUMPTIONS,
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_CORP_ID,
    DEFAULT_DIRECTORY,
    DEFAULT_EA,
    DEFAULT_PERMANENT_CODE,
    SandboxGateway,
    rules,
)

ROOT = Path(__file__).resolve().parents[1]
QUERY = "/cgi/crm/v2/data/query"
CUSTOM_QUERY = "/cgi/crm/custom/v2/data/query"
GET = "/cgi/crm/v2/data/get"
CREATE = "/cgi/crm/v2/data/create"
UPDATE = "/cgi/crm/v2/data/update"
INVALID = "/cgi/crm/v2/data/invalid"
DELETE = "/cgi/crm/v2/data/delete"
CUSTOM_CREATE = "/cgi/crm/custom/v2/data/create"
DESCRIBE = "/cgi/crm/v2/object/describe"
LIST = "/cgi/crm/v2/object/list"
OK, BAD, OFFSET_CAP, NOT_FOUND, REFUSED = 0, 10002, 10013, 10404, 10422
OPEN_ID = {person.employee_id: person.open_user_id for person in DEFAULT_DIRECTORY.people}
HEX24 = "0123456789abcdef"


class Crm:
    """Plain HTTP calls to the sandbox in one auth style (a fresh thirdTraceId each)."""

    def __init__(self, gateway: SandboxGateway, style: str = "header", user: str | None = None) -> None:
        self.gateway = gateway
        self.style = style
        self.session = requests.Session()
        if style == "header":
            token = self._post(
                "/oauth2.0/token",
                {
                    "appId": DEFAULT_APP_ID,
                    "appSecret": DEFAULT_APP_SECRET,
                    "permanentCode": DEFAULT_PERMANENT_CODE,
                    "grantType": "app_secret",
                },
            ).json()["accessToken"]
            self.headers = {
                "authorization": f"Bearer {token}",
                "x-fs-ea": DEFAULT_EA,
                "x-fs-userid": user or "1000",
            }
            self.extra: dict[str, Any] = {}
        else:
            token = self._post(
                "/cgi/corpAccessToken/get/V2",
                {
                    "appId": DEFAULT_APP_ID,
                    "appSecret": DEFAULT_APP_SECRET,
                    "permanentCode": DEFAULT_PERMANENT_CODE,
                },
            ).json()["corpAccessToken"]
            self.headers = {}
            self.extra = {"corpAccessToken": token, "corpId": DEFAULT_CORP_ID}
            if user is not None:
                self.extra["currentOpenUserId"] = user

    def _post(
        self, path: str, body: Any, headers: dict[str, str] | None = None, **kw: Any
    ) -> requests.Response:
        params = {"thirdTraceId": str(uuid.uuid4())}
        kw.setdefault("timeout", 10)
        return self.session.post(self.gateway.url + path, params=params, json=body, headers=headers, **kw)

    def call(self, path: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        response = self._post(path, {**body, **self.extra}, self.headers, **kw)
        assert response.status_code == 200, response.text
        return response.json()

    def query(self, obj: str = "AccountObj", path: str | None = None, total: bool | None = None, **info: Any):
        data: dict[str, Any] = {"dataObjectApiName": obj, "search_query_info": info}
        if total is not None:
            data["find_explicit_total_num"] = total
        if path is None:
            path = CUSTOM_QUERY if obj.endswith("__c") else QUERY
        return self.call(path, {"data": data})

    def names(self, obj: str = "AccountObj", **info: Any) -> list[str]:
        answer = self.query(obj, limit=100, **info)
        assert answer["errorCode"] == OK, answer
        return [record["name"] for record in answer["data"]["dataList"]]

    def create(self, obj: str, fields: dict[str, Any], path: str = CREATE) -> dict[str, Any]:
        return self.call(path, {"data": {"object_data": {"dataObjectApiName": obj, **fields}, "details": {}}})

    def keyset(self, obj: str = "AccountObj", filters: list[dict[str, Any]] | None = None) -> list[dict]:
        """Every matching record by the manual's deep paging: _id ascending, offset 0, _id GT last."""
        found: list[dict] = []
        while True:
            after = (
                [{"field_name": "_id", "operator": "GT", "field_values": [found[-1]["_id"]]}] if found else []
            )
            answer = self.query(
                obj,
                limit=100,
                offset=0,
                filters=[*(filters or []), *after],
                orders=[{"fieldName": "_id", "isAsc": True}],
            )
            assert answer["errorCode"] == OK, answer
            page = answer["data"]["dataList"]
            if not page:
                return found
            found.extend(page)


@pytest.fixture
def make_gateway():
    started: list[SandboxGateway] = []

    def make(**kwargs: Any) -> SandboxGateway:
        kwargs.setdefault("token_delay_s", 0)
        gateway = SandboxGateway(**kwargs).start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(make_gateway) -> SandboxGateway:
    return make_gateway(crm_seed={"AccountObj": 300, "ContactObj": 50, "Invoice__c": 20})


@pytest.fixture
def crm(gateway) -> Crm:
    return Crm(gateway)


def f(field: str, operator: str, *values: Any) -> dict[str, Any]:
    return {"field_name": field, "operator": operator, "field_values": list(values)}


# --- the rules, written out ----------------------------------------------------------------------
def test_rules_state_the_reference_numbers():
    assert rules.QUERY_LIMIT_MAX == 100 and rules.QUERY_OFFSET_MAX == 10_000
    assert rules.OFFSET_OUT_OF_RANGE == 10013
    assert rules.QUERY_OPERATORS == (
        "EQ", "N", "GT", "GTE", "LT", "LTE", "LIKE", "NLIKE", "IS", "ISN",
        "IN", "NIN", "BETWEEN", "NBETWEEN", "STARTWITH", "ENDWITH", "HASANYOF", "NHASANYOF",
    )  # fmt: skip
    for action in ("query", "get", "create", "update", "invalid", "delete"):
        assert f"/cgi/crm/v2/data/{action}" in rules.API_PATHS
        assert f"/cgi/crm/custom/v2/data/{action}" in rules.API_PATHS
    assert {DESCRIBE, LIST} <= rules.API_PATHS
    crm_assumptions = [a for a in ASSUMPTIONS if "currentOpenUserId" in a or "10422" in a or "orders" in a]
    assert len(crm_assumptions) >= 3


# --- describe and list ---------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["data", "top"])
def test_describe_answers_the_field_map(crm, where):
    body = (
        {"data": {"apiName": "AccountObj", "includeDetail": True}}
        if where == "data"
        else {"apiName": "AccountObj"}
    )
    answer = crm.call(DESCRIBE, body)
    assert answer["errorCode"] == OK
    fields = answer["data"]["describe"]["fields"]
    assert {"_id", "name", "owner", "create_time", "last_modified_time", "life_status"} <= set(fields)
    assert fields["name"]["type"] == "text" and fields["name"]["required"] is True
    assert fields["annual_revenue"]["type"] == "currency"
    assert fields["create_time"]["type"] == "date_time"
    assert [o["value"] for o in fields["account_level"]["options"]] == ["A", "B", "C"]
    assert all("label" in definition for definition in fields.values())


def test_describe_of_a_custom_object_and_of_an_unknown_one(crm):
    answer = crm.call(DESCRIBE, {"data": {"apiName": "Invoice__c"}})
    assert (
        answer["data"]["describe"]["isCustom"] is True and "amount__c" in answer["data"]["describe"]["fields"]
    )
    unknown = crm.call(DESCRIBE, {"data": {"apiName": "NoSuchObj"}})
    assert unknown["errorCode"] == BAD and "apiName" in unknown["errorMessage"]


def test_list_names_preset_and_seeded_custom_objects(crm):
    answer = crm.call(LIST, {})
    assert answer["errorCode"] == OK
    objects = {o["apiName"]: o["isCustom"] for o in answer["data"]["objects"]}
    assert objects == {
        "AccountObj": False,
        "ContactObj": False,
        "LeadsObj": False,
        "OpportunityObj": False,
        "ContractObj": False,
        "Invoice__c": True,
    }


# --- query: the answer, totals, paging caps --------------------------------------------------------
def test_query_answer_has_the_manuals_shape(crm):
    answer = crm.query(limit=5, offset=10)
    assert set(answer) >= {"data", "errorCode", "errorMessage", "traceId"}
    assert (answer["errorCode"], answer["errorMessage"]) == (0, "OK")
    data = answer["data"]
    assert (data["offset"], data["limit"], data["total"]) == (10, 5, 300)
    assert len(data["dataList"]) == 5
    record = data["dataList"][0]
    assert len(record["_id"]) == 24 and set(record["_id"]) <= set(HEX24)
    assert isinstance(record["owner"], list) and record["life_status"] == "normal"
    assert isinstance(record["create_time"], int) and record["create_time"] > 1_700_000_000_000  # epoch ms


def test_total_is_zero_without_the_explicit_total_flag(crm):
    assert crm.query(limit=1, total=False)["data"]["total"] == 0
    assert crm.query(limit=1, total=True)["data"]["total"] == 300
    assert crm.query(limit=1, filters=[f("account_level", "EQ", "A")])["data"]["total"] == sum(
        1 for r in crm.gateway.records("AccountObj") if r["account_level"] == "A"
    )


@pytest.mark.parametrize(
    ("limit", "code"), [(100, OK), (1, OK), (101, BAD), (0, BAD), (1000, BAD), ("10", BAD)]
)
def test_limit_is_at_most_100(crm, limit, code):
    answer = crm.query(limit=limit)
    assert answer["errorCode"] == code
    if code:
        assert "search_query_info.limit" in answer["errorMessage"]


def test_offset_beyond_10000_is_10013(make_gateway):
    crm = Crm(make_gateway(crm_seed={"LeadsObj": 10_150}, rate_limit_calls=0))
    at_cap = crm.query("LeadsObj", limit=100, offset=10_000, orders=[{"fieldName": "_id", "isAsc": True}])
    assert at_cap["errorCode"] == OK and len(at_cap["data"]["dataList"]) == 100
    beyond = crm.query("LeadsObj", limit=100, offset=10_001)
    assert beyond["errorCode"] == OFFSET_CAP
    assert crm.query("LeadsObj", limit=10, offset=-1)["errorCode"] == BAD


def test_keyset_paging_reaches_every_record_past_the_offset_cap(make_gateway):
    gateway = make_gateway(crm_seed={"LeadsObj": 10_150}, rate_limit_calls=0)
    found = Crm(gateway).keyset("LeadsObj")
    ids = [r["_id"] for r in found]
    assert len(ids) == 10_150 == len(set(ids))
    assert ids == sorted(ids) == [r["_id"] for r in gateway.records("LeadsObj")]


def test_default_order_is_not_by_id(crm, gateway):
    page = crm.query(limit=100)["data"]["dataList"]
    ids = [r["_id"] for r in page]
    assert ids != sorted(ids)  # a client that forgets to order gets no _id order
    stamps = [r["last_modified_time"] for r in page]
    assert stamps == sorted(stamps, reverse=True)  # newest-modified first
    newest = max(gateway.records("AccountObj"), key=lambda r: r["last_modified_time"])
    assert page[0]["_id"] == newest["_id"]


def test_orders_by_one_or_more_fields(crm, gateway):
    by_revenue = crm.query(limit=100, orders=[{"fieldName": "annual_revenue", "isAsc": False}])["data"][
        "dataList"
    ]
    revenues = [r["annual_revenue"] for r in by_revenue]
    assert (
        revenues == sorted((r["annual_revenue"] for r in gateway.records("AccountObj")), reverse=True)[:100]
    )
    two = crm.query(
        limit=100,
        orders=[{"fieldName": "account_level", "isAsc": True}, {"fieldName": "_id", "isAsc": False}],
    )["data"]["dataList"]
    keys = [(r["account_level"], r["_id"]) for r in two]
    assert keys == sorted(keys, key=lambda k: (k[0], [-ord(c) for c in k[1]]))
    descending = crm.query(limit=100, orders=[{"fieldName": "_id", "isAsc": False}])["data"]["dataList"]
    assert [r["_id"] for r in descending] == sorted(
        (r["_id"] for r in gateway.records("AccountObj")), reverse=True
    )[:100]


def test_field_projection_always_includes_id(crm):
    page = crm.query(limit=3, fieldProjection=["name", "last_modified_time"])["data"]["dataList"]
    assert all(set(r) == {"_id", "name", "last_modified_time"} for r in page)
    everything = crm.query(limit=1, fieldProjection=[])["data"]["dataList"][0]
    assert {"tel", "industry", "owner"} <= set(everything)
    assert crm.query(limit=1, fieldProjection="name")["errorCode"] == BAD


# --- query: operators ------------------------------------------------------------------------------
ROWS = [
    {"name": "alpha", "amount__c": 5, "status__c": "open", "tags__c": ["x", "y"], "code__c": "A-1"},
    {"name": "beta", "amount__c": 50, "status__c": "closed", "tags__c": ["y"], "code__c": "B-2"},
    {"name": "gamma", "amount__c": 100, "status__c": "open", "tags__c": [], "code__c": "10"},
    {"name": "delta", "amount__c": 9, "status__c": "closed", "code__c": "9"},
    {"name": "alphabet", "amount__c": 1000, "status__c": "open", "tags__c": ["z"], "code__c": None},
]


@pytest.fixture
def rows(make_gateway):
    gateway = make_gateway()
    gateway.put_records("Rows__c", ROWS)
    return Crm(gateway)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (f("name", "EQ", "beta"), {"beta"}),
        (f("name", "N", "beta"), {"alpha", "gamma", "delta", "alphabet"}),
        (f("amount__c", "GT", 50), {"gamma", "alphabet"}),  # numbers compare as numbers: 100 > 50
        (f("amount__c", "GTE", "50"), {"beta", "gamma", "alphabet"}),  # a numeric string is a number
        (f("amount__c", "LT", 9), {"alpha"}),
        (f("amount__c", "LTE", 9), {"alpha", "delta"}),
        (f("name", "LIKE", "lph"), {"alpha", "alphabet"}),
        (f("name", "NLIKE", "lph"), {"beta", "gamma", "delta"}),
        (f("code__c", "IS"), {"alphabet"}),  # null counts as empty
        (f("code__c", "ISN"), {"alpha", "beta", "gamma", "delta"}),
        (f("tags__c", "IS"), {"gamma", "delta"}),  # empty list and absent are both empty
        (f("status__c", "IN", "open", "nope"), {"alpha", "gamma", "alphabet"}),
        (f("status__c", "NIN", "open"), {"beta", "delta"}),
        (f("amount__c", "BETWEEN", 9, 100), {"delta", "beta", "gamma"}),  # both ends included
        (f("amount__c", "NBETWEEN", 9, 100), {"alpha", "alphabet"}),
        (f("name", "STARTWITH", "alpha"), {"alpha", "alphabet"}),
        (f("name", "ENDWITH", "ta"), {"beta", "delta"}),
        (f("tags__c", "HASANYOF", "y", "z"), {"alpha", "beta", "alphabet"}),
        (f("tags__c", "NHASANYOF", "y"), {"gamma", "delta", "alphabet"}),
        (f("tags__c", "EQ", "x"), {"alpha"}),  # a list matches when any item does
        (f("code__c", "GT", "9"), {"alpha", "beta"}),  # an undescribed text field compares as text
        (f("code__c", "LT", "9"), {"gamma"}),  # "10" < "9" as text
        (f("code__c", "EQ", 10), {"gamma"}),  # a number against text: compared as text
    ],
)
def test_every_operator(rows, flt, expected):
    assert set(rows.names("Rows__c", filters=[flt])) == expected


def test_filters_combine_with_and(rows):
    both = [f("status__c", "EQ", "open"), f("amount__c", "LT", 500)]
    assert set(rows.names("Rows__c", filters=both)) == {"alpha", "gamma"}


def test_id_compares_as_text(crm, gateway):
    ids = [r["_id"] for r in gateway.records("AccountObj")]
    middle = ids[150]
    assert [r["_id"] for r in crm.keyset(filters=[f("_id", "GTE", middle)])] == ids[150:]
    assert [r["_id"] for r in crm.query(limit=100, filters=[f("_id", "EQ", middle)])["data"]["dataList"]] == [
        middle
    ]
    lower = crm.query(
        limit=100, filters=[f("_id", "LT", ids[3])], orders=[{"fieldName": "_id", "isAsc": True}]
    )
    assert [r["_id"] for r in lower["data"]["dataList"]] == ids[:3]
    assert crm.query(limit=1, filters=[f("_id", "GT", "g")])["data"]["dataList"] == []  # "g" sorts after hex
    below = crm.query(
        limit=5, filters=[f("_id", "LT", ids[10])], orders=[{"fieldName": "_id", "isAsc": False}]
    )
    assert [r["_id"] for r in below["data"]["dataList"]] == ids[9:4:-1] and below["data"]["total"] == 10
    assert set(crm.names(filters=[f("_id", "IN", ids[7], ids[9])])) == {
        r["name"] for r in gateway.records("AccountObj") if r["_id"] in (ids[7], ids[9])
    }


@pytest.mark.parametrize(
    ("flt", "field"),
    [
        (f("name", "LIKES", "a"), "filters[0].operator"),
        ({"field_name": "name", "operator": "EQ", "field_values": "a"}, "filters[0].field_values"),
        (f("amount__c", "BETWEEN", 1), "filters[0].field_values"),
        (f("amount__c", "BETWEEN", 1, 2, 3), "filters[0].field_values"),
        (f("name", "EQ", "a", "b"), "filters[0].field_values"),
        (f("name", "IN"), "filters[0].field_values"),
        (f("amount__c", "GT", "lots"), "filters[0].field_values"),
        ({"operator": "EQ", "field_values": ["a"]}, "filters[0].field_name"),
        ("name = a", "filters[0]"),
    ],
)
def test_malformed_filters_are_refused_naming_the_filter(rows, flt, field):
    answer = rows.query("Rows__c", limit=10, filters=[flt])
    assert answer["errorCode"] == BAD
    assert f"search_query_info.{field}" in answer["errorMessage"]


def test_number_fields_refuse_text_values_in_filters(crm):
    answer = crm.query(limit=1, filters=[f("annual_revenue", "GT", "a lot")])
    assert answer["errorCode"] == BAD and "annual_revenue" in answer["errorMessage"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "data"),
        ({"data": {}}, "dataObjectApiName"),
        ({"data": {"dataObjectApiName": "NoSuchObj"}}, "dataObjectApiName"),
        ({"data": {"dataObjectApiName": "AccountObj", "search_query_info": []}}, "search_query_info"),
        (
            {"data": {"dataObjectApiName": "AccountObj", "find_explicit_total_num": "yes"}},
            "find_explicit_total_num",
        ),
        (
            {
                "data": {
                    "dataObjectApiName": "AccountObj",
                    "search_query_info": {"orders": [{"fieldName": "_id", "isAsc": 1}]},
                }
            },
            "orders[0].isAsc",
        ),
    ],
)
def test_malformed_query_bodies_are_refused_naming_the_field(crm, body, field):
    answer = crm.call(QUERY, body)
    assert answer["errorCode"] == BAD and field in answer["errorMessage"]


def test_query_without_limit_answers_20(crm):
    data = crm.call(QUERY, {"data": {"dataObjectApiName": "AccountObj"}})["data"]
    assert (len(data["dataList"]), data["limit"], data["offset"]) == (20, 20, 0)


# --- custom-object paths ---------------------------------------------------------------------------
def test_custom_objects_use_the_custom_paths_only(crm):
    assert crm.query("Invoice__c", limit=100)["data"]["total"] == 20
    wrong = crm.query("Invoice__c", path=QUERY, limit=1)
    assert wrong["errorCode"] == BAD
    assert "dataObjectApiName" in wrong["errorMessage"] and "/cgi/crm/custom/v2/" in wrong["errorMessage"]
    preset = crm.query("AccountObj", path=CUSTOM_QUERY, limit=1)
    assert preset["errorCode"] == BAD and "/cgi/crm/v2/" in preset["errorMessage"]
    created = crm.create("Invoice__c", {"name": "INV-1", "amount__c": 10}, path=CUSTOM_CREATE)
    assert created["errorCode"] == OK
    assert crm.create("Invoice__c", {"name": "INV-2"})["errorCode"] == BAD  # the preset create path


# --- auth ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [QUERY, DESCRIBE, LIST, GET, CREATE])
def test_legacy_style_needs_current_open_user_id_on_every_crm_call(gateway, path):
    body = {"data": {"dataObjectApiName": "AccountObj", "apiName": "AccountObj"}}
    for user in (None, "1000", "", "FSUID_"):
        answer = Crm(gateway, "legacy", user).call(path, body)
        assert answer["errorCode"] == BAD, (user, answer)
        assert "currentOpenUserId" in answer["errorMessage"]


def test_both_auth_styles_read_the_same_records(gateway):
    header = Crm(gateway, "header").query(limit=100, orders=[{"fieldName": "_id", "isAsc": True}])
    legacy = Crm(gateway, "legacy", OPEN_ID["1001"]).query(
        limit=100, orders=[{"fieldName": "_id", "isAsc": True}]
    )
    assert header["errorCode"] == legacy["errorCode"] == OK
    assert header["data"]["dataList"] == legacy["data"]["dataList"]
    styles = [r["auth_style"] for r in gateway.requests() if r["path"] == QUERY]
    assert styles == ["header", "legacy"]


def test_header_style_needs_the_user_id_header_and_credentials(gateway):
    crm = Crm(gateway)
    crm.headers.pop("x-fs-userid")
    assert crm.query(limit=1)["errorCode"] == BAD
    bare = requests.post(
        gateway.url + QUERY, params={"thirdTraceId": str(uuid.uuid4())}, json={"data": {}}, timeout=5
    ).json()
    assert bare["errorCode"] == 20017


def test_owner_of_a_create_is_the_acting_user_in_either_style(gateway):
    header = Crm(gateway, "header", "1003").create("LeadsObj", {"name": "from header"})
    legacy = Crm(gateway, "legacy", OPEN_ID["1002"]).create("LeadsObj", {"name": "from legacy"})
    stranger = Crm(gateway, "legacy", "FSUID_NOT_IN_DIRECTORY").create("LeadsObj", {"name": "stranger"})
    owners = {r["name"]: r["owner"] for r in gateway.records("LeadsObj")}
    assert owners["from header"] == ["1003"] and owners["from legacy"] == ["1002"]
    assert owners["stranger"] == ["FSUID_NOT_IN_DIRECTORY"]
    assert header["errorCode"] == legacy["errorCode"] == stranger["errorCode"] == OK


# --- get ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["objectDataId", "object_data_id"])
def test_get_answers_one_record(crm, gateway, key):
    record = gateway.records("AccountObj")[42]
    answer = crm.call(GET, {"data": {"dataObjectApiName": "AccountObj", key: record["_id"]}})
    assert answer["errorCode"] == OK and answer["data"] == record


def test_get_of_an_unknown_id_is_10404(crm):
    answer = crm.call(GET, {"data": {"dataObjectApiName": "AccountObj", "objectDataId": "0" * 24}})
    assert answer["errorCode"] == NOT_FOUND
    assert crm.call(GET, {"data": {"dataObjectApiName": "AccountObj"}})["errorCode"] == BAD


# --- writing -------------------------------------------------------------------------------------------
def test_create_answers_data_id_and_stores_the_record(crm, gateway):
    before = gateway.state.now() * 1000
    answer = crm.create(
        "LeadsObj", {"name": "Web lead", "company": "North Co", "source": "web", "tags": ["hot"]}
    )
    assert answer["errorCode"] == OK
    record_id = answer["dataId"]
    assert len(record_id) == 24 and set(record_id) <= set(HEX24)
    record = gateway.record("LeadsObj", record_id)
    assert record is not None
    assert (record["name"], record["company"], record["source"], record["tags"]) == (
        "Web lead",
        "North Co",
        "web",
        ["hot"],
    )
    assert record["owner"] == ["1000"] and record["life_status"] == "normal"
    assert record["create_time"] == record["last_modified_time"] >= int(before)
    assert gateway.crm_counts()["LeadsObj"]["created"] == 1
    same = crm.create("LeadsObj", {"name": "Web lead"})["dataId"]
    assert same != record_id  # creates are not idempotent: two records


def test_created_ids_sort_after_every_seeded_one(crm, gateway):
    new_id = crm.create("AccountObj", {"name": "newest"})["dataId"]
    assert crm.keyset()[-1]["_id"] == new_id
    assert max(r["_id"] for r in gateway.records("AccountObj")) == new_id


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x", "annual_revenue": "a lot"}, "annual_revenue"),
        ({"name": "x", "annual_revenue": True}, "annual_revenue"),
        ({"name": "x", "account_level": "Z"}, "account_level"),
        ({"name": "x", "owner": "1000"}, "owner"),
        ({"name": "x", "_id": "0" * 24}, "_id"),
        ({"name": "x", "create_time": 1}, "create_time"),
        ({"name": "x", "life_status": "invalid"}, "life_status"),
        ({"name": 7}, "name"),
    ],
)
def test_bad_values_are_refused_naming_the_field(crm, gateway, fields, field):
    answer = crm.create("AccountObj", fields)
    assert answer["errorCode"] == REFUSED
    assert f"data.object_data.{field}" in answer["errorMessage"]
    assert gateway.crm_counts()["AccountObj"]["created"] == 0


def test_numeric_strings_are_read_as_numbers_and_unknown_fields_are_kept(crm, gateway):
    record_id = crm.create("AccountObj", {"name": "x", "annual_revenue": "1200.50", "external_id__c": "E-1"})[
        "dataId"
    ]
    record = gateway.record("AccountObj", record_id)
    assert record["annual_revenue"] == 1200.5 and record["external_id__c"] == "E-1"
    assert crm.names(filters=[f("external_id__c", "EQ", "E-1")]) == ["x"]


@pytest.mark.parametrize(
    "body",
    [{"data": {}}, {"data": {"object_data": "x"}}, {"data": {"object_data": {"name": "x"}}}],
)
def test_malformed_create_bodies_are_10002(crm, body):
    assert crm.call(CREATE, body)["errorCode"] == BAD


def test_update_changes_fields_and_moves_last_modified_time(crm, gateway):
    record = gateway.records("AccountObj")[0]
    answer = crm.call(
        UPDATE,
        {"data": {"object_data": {"dataObjectApiName": "AccountObj", "_id": record["_id"], "tel": "1"}}},
    )
    assert answer["errorCode"] == OK and "dataId" not in answer
    after = gateway.record("AccountObj", record["_id"])
    assert after["tel"] == "1" and after["name"] == record["name"]
    assert after["last_modified_time"] > record["last_modified_time"]
    assert after["create_time"] == record["create_time"]
    assert gateway.crm_counts()["AccountObj"]["updated"] == 1


@pytest.mark.parametrize(
    ("object_data", "code", "field"),
    [
        ({"tel": "1"}, BAD, "_id"),
        ({"_id": "0" * 24, "tel": "1"}, NOT_FOUND, "_id"),
        ({"_id": None, "account_level": "Z"}, REFUSED, "account_level"),
        ({"_id": None, "name": ""}, REFUSED, "name"),
    ],
)
def test_update_refusals(crm, gateway, object_data, code, field):
    object_data = dict(object_data)
    if object_data.get("_id", "") is None:
        object_data["_id"] = gateway.records("AccountObj")[0]["_id"]
    answer = crm.call(UPDATE, {"data": {"object_data": {"dataObjectApiName": "AccountObj", **object_data}}})
    assert answer["errorCode"] == code and field in answer["errorMessage"]


def test_invalidate_then_delete(crm, gateway):
    target = gateway.records("AccountObj")[5]["_id"]
    delete = {"data": {"dataObjectApiName": "AccountObj", "idList": [target]}}
    early = crm.call(DELETE, delete)
    assert early["errorCode"] == REFUSED and "idList[0]" in early["errorMessage"]
    invalidate = {"data": {"dataObjectApiName": "AccountObj", "object_data_id": target}}
    assert crm.call(INVALID, invalidate)["errorCode"] == OK
    assert crm.call(INVALID, invalidate)["errorCode"] == OK  # twice changes nothing
    record = gateway.record("AccountObj", target)
    assert record["life_status"] == "invalid"
    update = {"data": {"object_data": {"dataObjectApiName": "AccountObj", "_id": target, "tel": "2"}}}
    assert crm.call(UPDATE, update)["errorCode"] == REFUSED
    assert crm.call(DELETE, delete)["errorCode"] == OK
    assert gateway.record("AccountObj", target) is None
    assert (
        crm.call(GET, {"data": {"dataObjectApiName": "AccountObj", "objectDataId": target}})["errorCode"]
        == NOT_FOUND
    )
    assert crm.call(DELETE, delete)["errorCode"] == NOT_FOUND
    counts = gateway.crm_counts()["AccountObj"]
    assert (counts["records"], counts["invalidated"], counts["deleted"]) == (299, 1, 1)


def test_queries_leave_out_invalidated_records_unless_life_status_is_filtered(crm, gateway):
    target = gateway.records("AccountObj")[0]["_id"]
    crm.call(INVALID, {"data": {"dataObjectApiName": "AccountObj", "object_data_id": target}})
    assert crm.query(limit=1)["data"]["total"] == 299
    assert target not in {r["_id"] for r in crm.keyset()}
    invalid = crm.query(limit=10, filters=[f("life_status", "EQ", "invalid")])["data"]
    assert [r["_id"] for r in invalid["dataList"]] == [target]
    assert crm.query(limit=1, filters=[f("life_status", "IN", "normal", "invalid")])["data"]["total"] == 300
    got = crm.call(GET, {"data": {"dataObjectApiName": "AccountObj", "objectDataId": target}})
    assert got["data"]["life_status"] == "invalid"


# --- faults and limits ----------------------------------------------------------------------------------
def test_a_delivered_create_whose_answer_is_dropped(crm, gateway):
    gateway.add_fault(CREATE, "reset", deliver=True)
    with pytest.raises(requests.ConnectionError):
        crm.create("LeadsObj", {"name": "lost answer"})
    [record] = [r for r in gateway.records("LeadsObj") if r["name"] == "lost answer"]
    assert gateway.crm_counts()["LeadsObj"]["created"] == 1
    assert gateway.requests()[-1]["delivered"] is True
    assert gateway.stats()["messages_delivered"] == 0  # a record is not a message
    assert record["owner"] == ["1000"]


def test_a_create_answered_50009_after_it_was_applied(crm, gateway):
    gateway.add_fault(CUSTOM_CREATE, "error", code=50009, deliver=True)
    answer = crm.create("Invoice__c", {"name": "maybe"}, path=CUSTOM_CREATE)
    assert answer["errorCode"] == 50009 and "dataId" not in answer
    assert [r["name"] for r in gateway.records("Invoice__c")].count("maybe") == 1


def test_busy_and_slow_queries(crm, gateway):
    gateway.add_fault(QUERY, "error", code=-1)
    assert crm.query(limit=1)["errorCode"] == -1
    gateway.add_fault(QUERY, "delay", seconds=0.5)
    with pytest.raises(requests.Timeout):
        crm.call(QUERY, {"data": {"dataObjectApiName": "AccountObj"}}, timeout=0.1)
    assert crm.query(limit=1)["errorCode"] == OK
    gateway.add_fault(DESCRIBE, "http", status=503)
    assert crm._post(DESCRIBE, {"apiName": "AccountObj"}, crm.headers).status_code == 503


def test_each_crm_endpoint_has_its_own_limit(make_gateway):
    crm = Crm(make_gateway(crm_seed={"AccountObj": 5}, rate_limit_calls=3))
    assert [crm.query(limit=1)["errorCode"] for _ in range(4)] == [OK, OK, OK, 30004]
    assert [crm.call(DESCRIBE, {"apiName": "AccountObj"})["errorCode"] for _ in range(4)] == [
        OK,
        OK,
        OK,
        30004,
    ]
    assert crm.query("Invoice__c", path=CUSTOM_QUERY, limit=1)["errorCode"] == BAD  # its own count, not 30004


# --- seeding and helpers ----------------------------------------------------------------------------------
def test_seed_counts_and_generated_records(gateway):
    counts = gateway.crm_counts()
    assert {name: c["records"] for name, c in counts.items()} == {
        "AccountObj": 300,
        "ContactObj": 50,
        "LeadsObj": 0,
        "OpportunityObj": 0,
        "ContractObj": 0,
        "Invoice__c": 20,
    }
    accounts = gateway.records("AccountObj")
    ids = [r["_id"] for r in accounts]
    assert ids == sorted(ids) and len(set(ids)) == 300
    created = [r["create_time"] for r in accounts]
    assert created == sorted(created) and created[-1] - created[0] > 300 * 86_400_000  # spread over a year
    assert all(r["last_modified_time"] >= r["create_time"] for r in accounts)
    days = {r["last_modified_time"] // 86_400_000 for r in accounts}
    assert len(days) > 150  # modification times spread: windows select different records
    account_ids = set(ids)
    assert all(c["account_id"] in account_ids for c in gateway.records("ContactObj"))
    assert {r["owner"][0] for r in accounts} <= {p.employee_id for p in DEFAULT_DIRECTORY.people}


def test_seeding_is_deterministic(make_gateway, gateway):
    again = make_gateway(crm_seed={"AccountObj": 300, "ContactObj": 50, "Invoice__c": 20})
    assert again.records("AccountObj") == gateway.records("AccountObj")
    assert again.records("Invoice__c") == gateway.records("Invoice__c")


def test_seed_put_edit_and_reset(crm, gateway):
    gateway.seed_records("LeadsObj", 7)
    with pytest.raises(ValueError):
        gateway.seed_records("LeadsObj", 7)
    with pytest.raises(ValueError):
        gateway.seed_records("NoSuchObj", 1)
    [new_id] = gateway.put_records("ContractObj", [{"name": "C-1", "last_modified_time": 1_700_000_000_000}])
    assert gateway.record("ContractObj", new_id)["last_modified_time"] == 1_700_000_000_000
    with pytest.raises(ValueError):
        gateway.put_records("ContractObj", [{"_id": "0" * 24, "name": "x"}])
    edited = gateway.edit_record("ContractObj", new_id, {"contract_status": "approved"})
    assert edited["contract_status"] == "approved" and edited["last_modified_time"] > 1_700_000_000_000
    at = gateway.edit_record("ContractObj", new_id, {"name": "C-1b"}, modified_at_ms=1_800_000_000_000)
    assert at["last_modified_time"] == 1_800_000_000_000
    with pytest.raises(KeyError):
        gateway.edit_record("ContractObj", "0" * 24, {"name": "x"})
    assert crm.query("LeadsObj", limit=100)["data"]["total"] == 7
    gateway.reset()
    assert gateway.crm_counts()["LeadsObj"]["records"] == 0  # back to the constructor's seed
    assert gateway.crm_counts()["ContractObj"]["records"] == 0
    assert gateway.crm_counts()["AccountObj"]["records"] == 300


def test_an_edit_while_paging_by_id_neither_skips_nor_repeats(crm, gateway):
    window = [f("last_modified_time", "GTE", 0)]
    first = crm.query(limit=100, filters=window, orders=[{"fieldName": "_id", "isAsc": True}])["data"][
        "dataList"
    ]
    for record in gateway.records("AccountObj")[:150:7]:  # records before AND after the cursor change
        gateway.edit_record("AccountObj", record["_id"], {"tel": "edited"})
    rest = crm.keyset(filters=[*window, f("_id", "GT", first[-1]["_id"])])
    ids = [r["_id"] for r in first + rest]
    assert len(ids) == len(set(ids)) == 300


def test_admin_http_endpoints_for_crm(gateway):
    admin = gateway.url + "/__sandbox__/"
    ids = requests.post(
        admin + "crm/put", json={"object": "LeadsObj", "records": [{"name": "L1"}]}, timeout=5
    ).json()
    assert ids["ok"] and len(ids["ids"]) == 1
    edited = requests.post(
        admin + "crm/edit",
        json={"object": "LeadsObj", "id": ids["ids"][0], "fields": {"company": "X"}},
        timeout=5,
    ).json()
    assert edited["company"] == "X"
    records = requests.post(admin + "crm/records", json={"object": "LeadsObj"}, timeout=5).json()
    assert [r["name"] for r in records] == ["L1"]
    assert requests.post(admin + "crm/seed", json={"object": "OpportunityObj", "count": 3}, timeout=5).json()[
        "ok"
    ]
    counts = requests.get(admin + "crm", timeout=5).json()
    assert counts["OpportunityObj"]["records"] == 3 and counts["LeadsObj"]["edited"] == 1
    bad = requests.post(
        admin + "crm/edit", json={"object": "LeadsObj", "id": "0" * 24, "fields": {}}, timeout=5
    )
    assert bad.status_code == 400


def test_the_pytest_fixture_seeds_crm_records(fxiaoke_sandbox):
    assert len(fxiaoke_sandbox.records("ContactObj")) == 12
    [new_id] = fxiaoke_sandbox.put_records("ContactObj", [{"name": "Put"}])
    assert fxiaoke_sandbox.edit_record("ContactObj", new_id, {"job_title": "cto"})["job_title"] == "cto"
    assert fxiaoke_sandbox.record("ContactObj", new_id)["name"] == "Put"


@pytest.fixture
def fxiaoke_crm_seed() -> dict[str, int]:
    return {"ContactObj": 12}


def test_seeded_records_cost_no_memory_and_can_be_padded():
    tracemalloc.start()
    try:
        gateway = SandboxGateway(crm_seed={"AccountObj": 100_000, "ContactObj": 3}, crm_record_bytes=2048)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # nothing is stored per seeded record
    sizes = [len(json.dumps(r, ensure_ascii=False)) for r in gateway.records("ContactObj")]
    assert all(2000 <= size <= 2100 for size in sizes), sizes
    with pytest.raises(ValueError):
        SandboxGateway(crm_record_bytes=-1)


# --- scale and the command line ----------------------------------------------------------------------------
@pytest.mark.slow
def test_25000_records_paged_100_at_a_time_cost_little_cpu(make_gateway):
    gateway = make_gateway(crm_seed={"AccountObj": 25_000}, rate_limit_calls=0)
    crm = Crm(gateway)
    started = time.process_time()
    found = crm.keyset(filters=[f("last_modified_time", "GTE", 0)])
    spent = time.process_time() - started  # client and sandbox together, in this process
    assert len(found) == 25_000 == len({r["_id"] for r in found})
    assert spent < 5, f"{spent:.1f} s of CPU for 250 pages"


@pytest.mark.slow
def test_cli_seeds_crm_objects(tmp_path):
    ready = tmp_path / "ready"
    command = [
        sys.executable,
        "-m",
        "fxiaoke_provider.sandbox",
        "--port",
        "0",
        "--quiet",
        "--ready-file",
        str(ready),
    ]
    command += ["--crm-seed", "AccountObj=1200", "--crm-seed", "Invoice__c=5", "--crm-record-bytes", "1500"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = ready.read_text().strip()
        counts = requests.get(url + "/__sandbox__/crm", timeout=5).json()
        assert counts["AccountObj"]["records"] == 1200 and counts["Invoice__c"]["records"] == 5
        invoices = requests.post(
            url + "/__sandbox__/crm/records", json={"object": "Invoice__c"}, timeout=5
        ).json()
        assert all(1450 < len(json.dumps(r, ensure_ascii=False)) < 1550 for r in invoices)
    finally:
        process.terminate()
        process.communicate(timeout=10)
    bad = subprocess.run(
        [sys.executable, "-m", "fxiaoke_provider.sandbox", "--crm-seed", "AccountObj"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2 and "OBJECT=COUNT" in bad.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "fxiaoke_provider.sandbox", "--port", "0", "--crm-seed", "Nope=3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert unknown.returncode == 2 and "Nope" in unknown.stderr
