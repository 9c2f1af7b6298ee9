"""CRM query input: both filter forms leave in the manual's form; bad input is refused by name.

Pure functions, no gateway: that nothing is sent on a refusal is checked once, in
``test_crm_reading_rules.py``.
"""

from __future__ import annotations

import copy
import datetime
import math

import pytest

from fxiaoke_provider.crm import filters, wire
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError

T0 = 1_764_547_200_000  # epoch ms


def manual(field: str, operator: str, values: list) -> dict:
    return {"field_name": field, "operator": operator, "field_values": values}


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        (("name", "EQ", "ACME"), manual("name", "EQ", ["ACME"])),
        (("last_modified_time", "GTE", T0), manual("last_modified_time", "GTE", [T0])),
        (("owner", "IN", ["1000", "1001"]), manual("owner", "IN", ["1000", "1001"])),
        (("owner", "HASANYOF", ("1000",)), manual("owner", "HASANYOF", ["1000"])),
        (("create_time", "BETWEEN", [T0, T0 + 1]), manual("create_time", "BETWEEN", [T0, T0 + 1])),
        (("phone", "IS"), manual("phone", "IS", [])),
        (("phone", "ISN", None), manual("phone", "ISN", [])),
        (["name", "like", "AC"], manual("name", "LIKE", ["AC"])),  # a list works; operators any case
        (("is_key__c", "EQ", True), manual("is_key__c", "EQ", [True])),
    ],
)
def test_short_form_becomes_the_manual_form(short: tuple, expected: dict) -> None:
    assert filters.normalise_filters([short]) == [expected]


def test_manual_form_passes_through_as_a_new_value() -> None:
    given = [manual("name", "EQ", ["ACME"]), manual("_id", "GT", ["69ad3d697b29ec0007111128"])]
    before = copy.deepcopy(given)
    result = filters.normalise_filters(given)
    assert result == before
    result[0]["field_values"].append("x")
    assert given == before  # the caller's filters are never changed


def test_forms_mix_and_none_means_no_filter() -> None:
    assert filters.normalise_filters(None) == []
    assert filters.normalise_filters([("name", "EQ", "A"), manual("owner", "IN", ["1"])]) == [
        manual("name", "EQ", ["A"]),
        manual("owner", "IN", ["1"]),
    ]


def test_every_manual_operator_is_known() -> None:
    arity = [
        (wire.SINGLE_VALUE_OPERATORS, [1]),
        (wire.MANY_VALUE_OPERATORS, [1, 2, 3]),
        (wire.RANGE_OPERATORS, [1, 2]),
        (wire.EMPTINESS_OPERATORS, []),
    ]
    values = {operator: given for operators, given in arity for operator in operators}
    assert sorted(values) == sorted(wire.OPERATORS)
    for operator in wire.OPERATORS:
        assert filters.normalise_filter(manual("f", operator, values[operator]))["operator"] == operator


OK = ("name", "EQ", "ACME")


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        ([OK, OK, ("name", "EQUALS", "x")], "filters[2].operator", "unknown operator"),
        ([("name", "NE", "x")], "filters[0].operator", "'N'"),
        ([("name", None, "x")], "filters[0].operator", "unknown operator"),
        ([("t", "BETWEEN", [T0])], "filters[0].field_values", "exactly two"),
        ([("t", "NBETWEEN", [1, 2, 3])], "filters[0].field_values", "exactly two"),
        ([("t", "BETWEEN", T0)], "filters[0].field_values", "exactly two"),
        ([("phone", "IS", "x")], "filters[0].field_values", "takes no value"),
        ([manual("phone", "ISN", [""])], "filters[0].field_values", "takes no value"),
        ([("owner", "IN", [])], "filters[0].field_values", "at least one"),
        ([("owner", "NIN", ())], "filters[0].field_values", "at least one"),
        ([("name", "EQ", ["a", "b"])], "filters[0].field_values", "exactly one"),
        ([("name", "GT", [])], "filters[0].field_values", "exactly one"),
        ([manual("name", "EQ", "ACME")], "filters[0].field_values", "must be a list"),
        ([{**manual("name", "EQ", ["A"]), "connector": "OR"}], "filters[0].connector", "unknown filter key"),
        ([{"field_name": "name", "operator": "EQ"}], "filters[0].field_values", "missing"),
        ([("", "EQ", "x")], "filters[0].field_name", "field's API name"),
        ([("last modified", "EQ", "x")], "filters[0].field_name", "field's API name"),
        ([(7, "EQ", "x")], "filters[0].field_name", "field's API name"),
        ([("t", "GTE", datetime.datetime(2026, 1, 1))], "filters[0].field_values[0]", "epoch milliseconds"),
        ([("t", "IN", [1, {"a": 1}])], "filters[0].field_values[1]", "got dict"),
        ([("t", "GT", math.nan)], "filters[0].field_values[0]", "finite"),
        ([("name",)], "filters[0]", "short filter"),
        ([("name", "EQ", "x", "y")], "filters[0]", "short filter"),
        ([42], "filters[0]", "got int"),
        (("name", "EQ", "x"), "filters", "wrap a single"),
        (manual("name", "EQ", ["x"]), "filters", "must be a list of filters"),
        ("name = x", "filters", "must be a list of filters"),
    ],
)
def test_bad_filters_are_refused_by_name(given: object, field: str, words: str) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        filters.normalise_filters(given)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert words in caught.value.rule


@pytest.mark.parametrize("page_size", [1, 37, 100])
def test_page_sizes_within_the_limit(page_size: int) -> None:
    assert filters.check_page_size(page_size) == page_size


@pytest.mark.parametrize("page_size", [0, 101, 1000, -1, True, 1.5, "100", None])
def test_page_sizes_outside_the_limit_are_refused(page_size: object) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        filters.check_page_size(page_size)
    assert caught.value.field == "page_size"
    assert "100" in caught.value.rule


@pytest.mark.parametrize("name", ["AccountObj", "LeadsObj", "object_x1y2__c", "a"])
def test_object_api_names(name: str) -> None:
    assert filters.check_object_api_name(name) == name


@pytest.mark.parametrize("name", ["", "Account Obj", "../AccountObj", "_x", "1Obj", None, 5, "AccountObj\n"])
def test_bad_object_api_names_are_refused(name: object) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        filters.check_object_api_name(name)
    assert caught.value.field == "object_api_name"


def test_projection_always_asks_for_the_id_first_once() -> None:
    assert filters.projection(None) is None
    assert filters.projection(["name"]) == ["_id", "name"]
    assert filters.projection(("name", "_id", "name", "owner")) == ["_id", "name", "owner"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ("name", "fields"),
        ([], "fields"),
        ({"name": 1}, "fields"),
        (["name", ""], "fields[1]"),
        ([None], "fields[0]"),
    ],
)
def test_bad_field_lists_are_refused(fields: object, field: str) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        filters.projection(fields)
    assert caught.value.field == field


@pytest.mark.parametrize("record_id", ["", " ", None, 5, "69ad3d69 7b29"])
def test_bad_record_ids_are_refused(record_id: object) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as caught:
        filters.check_record_id(record_id, "after_id")
    assert caught.value.field == "after_id"


@pytest.mark.parametrize("action", ["query", "get", "create", "update", "invalid", "delete"])
def test_custom_objects_use_the_custom_paths(action: str) -> None:
    assert wire.data_path("AccountObj", action) == f"/cgi/crm/v2/data/{action}"  # type: ignore[arg-type]
    assert wire.data_path("object_x__c", action) == f"/cgi/crm/custom/v2/data/{action}"  # type: ignore[arg-type]
