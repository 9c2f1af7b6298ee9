"""A CRM query's ``search_query_info`` read into checked filters, orders and a projection.

Pure functions: parse (refusing what is malformed, naming the field) and compile each filter into a
predicate over one field value. How values compare is stated in ``rules.ASSUMPTIONS``: by the
field's describe type (numbers numerically, everything else, ``_id`` included, as text); a field
the describe does not list compares numerically only when both sides are numbers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.sandbox.crm_seed import NUMERIC_TYPES, ObjectDef
from fxiaoke_provider.sandbox.rules import (
    QUERY_LIMIT_MAX,
    QUERY_OPERATORS,
    QUERY_PROJECTION_FIELD,
    QUERY_TOTAL_FLAG,
)

#: A query without ``limit`` answers this many records at most. [sandbox]
DEFAULT_LIMIT = 20
_ONE_VALUE = frozenset({"EQ", "N", "GT", "GTE", "LT", "LTE", "LIKE", "NLIKE", "STARTWITH", "ENDWITH"})
_TWO_VALUES = frozenset({"BETWEEN", "NBETWEEN"})
_NO_VALUES = frozenset({"IS", "ISN"})
#: Each negative operator matches exactly the records its positive one does not.
_NEGATIVE = {"N": "EQ", "NLIKE": "LIKE", "NIN": "IN", "NBETWEEN": "BETWEEN", "NHASANYOF": "HASANYOF"}


class QueryRefused(Exception):
    """A malformed query body: the field it names and the rule it breaks (answered as 10002)."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"invalid parameter {field}: {rule}")
        self.field = field


@dataclass(frozen=True)
class Filter:
    field: str
    operator: str
    values: tuple[Any, ...]

    def key(self) -> str:
        return json.dumps([self.field, self.operator, list(self.values)], sort_keys=True, default=str)


@dataclass(frozen=True)
class Query:
    filters: tuple[Filter, ...]
    orders: tuple[tuple[str, bool], ...]
    projection: tuple[str, ...] | None
    limit: int
    offset: int
    with_total: bool


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_number(value: object) -> float | None:
    """A number from a number or a numeric string; None for anything else."""
    if _is_number(value):
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def as_text(value: object) -> str:
    """How a value reads as text: strings as they are, numbers and booleans as JSON writes them."""
    if isinstance(value, str):
        return value
    if _is_number(value) and float(value).is_integer() and isinstance(value, float):
        return str(int(value))
    return json.dumps(value, ensure_ascii=False)


def is_empty(value: object) -> bool:
    return value is None or value == "" or value == []


def parse_query(data: Mapping[str, Any], definition: ObjectDef) -> Query:
    """The query part of a query body's ``data``; raises ``QueryRefused`` naming the broken field."""
    with_total = data.get(QUERY_TOTAL_FLAG, True)
    if not isinstance(with_total, bool):
        raise QueryRefused(QUERY_TOTAL_FLAG, "must be true or false")
    info = data.get("search_query_info", {})
    if not isinstance(info, dict):
        raise QueryRefused("search_query_info", "must be an object")
    limit = info.get("limit", DEFAULT_LIMIT)
    if not _is_int(limit) or not 1 <= limit <= QUERY_LIMIT_MAX:
        raise QueryRefused("search_query_info.limit", f"an int from 1 to {QUERY_LIMIT_MAX}")
    offset = info.get("offset", 0)
    if not _is_int(offset) or offset < 0:
        raise QueryRefused("search_query_info.offset", "an int from 0")
    filters = tuple(
        _parse_filter(raw, f"search_query_info.filters[{i}]", definition)
        for i, raw in enumerate(_list(info, "filters"))
    )
    orders = []
    for i, raw in enumerate(_list(info, "orders")):
        where = f"search_query_info.orders[{i}]"
        if not isinstance(raw, dict):
            raise QueryRefused(where, "must be an object {fieldName, isAsc}")
        name, ascending = raw.get("fieldName"), raw.get("isAsc", True)
        if not isinstance(name, str) or not name:
            raise QueryRefused(f"{where}.fieldName", "required, a field api name")
        if not isinstance(ascending, bool):
            raise QueryRefused(f"{where}.isAsc", "must be true or false")
        orders.append((name, ascending))
    projection = info.get(QUERY_PROJECTION_FIELD)
    if projection is not None and (
        not isinstance(projection, list) or not all(isinstance(f, str) and f for f in projection)
    ):
        raise QueryRefused(f"search_query_info.{QUERY_PROJECTION_FIELD}", "a list of field api names")
    return Query(
        filters=filters,
        orders=tuple(orders),
        projection=tuple(projection) if projection else None,
        limit=limit,
        offset=offset,
        with_total=with_total,
    )


def _list(info: Mapping[str, Any], key: str) -> list[Any]:
    value = info.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise QueryRefused(f"search_query_info.{key}", "must be a list")
    return value


def _parse_filter(raw: object, where: str, definition: ObjectDef) -> Filter:
    if not isinstance(raw, dict):
        raise QueryRefused(where, "must be an object {field_name, operator, field_values}")
    name, operator, values = raw.get("field_name"), raw.get("operator"), raw.get("field_values")
    if not isinstance(name, str) or not name:
        raise QueryRefused(f"{where}.field_name", "required, a field api name")
    if operator not in QUERY_OPERATORS:
        raise QueryRefused(f"{where}.operator", f"must be one of {', '.join(QUERY_OPERATORS)}")
    if values is None and operator in _NO_VALUES:
        values = []
    if not isinstance(values, list):
        raise QueryRefused(f"{where}.field_values", "must be a list")
    if any(isinstance(value, (dict, list)) or value is None for value in values):
        raise QueryRefused(f"{where}.field_values", "holds plain values only (text, numbers, booleans)")
    if operator in _ONE_VALUE and len(values) != 1:
        raise QueryRefused(f"{where}.field_values", f"{operator} takes one value")
    if operator in _TWO_VALUES and len(values) != 2:
        raise QueryRefused(f"{where}.field_values", f"{operator} takes two values")
    if operator not in _ONE_VALUE | _TWO_VALUES | _NO_VALUES and not values:
        raise QueryRefused(f"{where}.field_values", f"{operator} takes at least one value")
    described = definition.fields.get(name)
    numeric = described is not None and described.type in NUMERIC_TYPES and operator not in _LIKE_FAMILY
    if numeric and any(as_number(value) is None for value in values):
        assert described is not None
        raise QueryRefused(f"{where}.field_values", f"{name} is a {described.type} field: numbers only")
    return Filter(name, operator, tuple(values))


_LIKE_FAMILY = frozenset({"LIKE", "NLIKE", "STARTWITH", "ENDWITH"})


def compile_filter(flt: Filter, definition: ObjectDef) -> Callable[[Any], bool]:
    """A predicate over the record's value of ``flt.field`` (None when the record has none)."""
    if flt.operator == "IS":
        return is_empty
    if flt.operator == "ISN":
        return lambda value: not is_empty(value)
    positive_op = _NEGATIVE.get(flt.operator, flt.operator)
    described = definition.fields.get(flt.field)
    numeric: bool | None = None if described is None else described.type in NUMERIC_TYPES
    scalar = _scalar_predicate(positive_op, flt.values, numeric)

    def positive(value: Any) -> bool:
        if isinstance(value, list):
            return any(item is not None and scalar(item) for item in value)
        return value is not None and scalar(value)

    if flt.operator in _NEGATIVE:
        return lambda value: not positive(value)
    return positive


def _scalar_predicate(op: str, values: tuple[Any, ...], numeric: bool | None) -> Callable[[Any], bool]:
    """``numeric`` True: compare numbers; False: text; None (an undescribed field): numbers when both are."""
    if op in _LIKE_FAMILY:
        needle = as_text(values[0])
        if op == "LIKE":
            return lambda value: needle in as_text(value)
        if op == "STARTWITH":
            return lambda value: as_text(value).startswith(needle)
        return lambda value: as_text(value).endswith(needle)
    numbers = [as_number(value) for value in values]
    texts = [as_text(value) for value in values]

    def pair(value: Any) -> tuple[Any, list[Any]] | None:
        """The record value and the filter values, both in the one kind they compare as."""
        use_numbers = (
            numeric if numeric is not None else _is_number(value) and all(_is_number(v) for v in values)
        )
        if use_numbers:
            number = as_number(value)
            return None if number is None else (number, numbers)
        return as_text(value), texts

    def compare(test: Callable[[Any, list[Any]], bool]) -> Callable[[Any], bool]:
        def predicate(value: Any) -> bool:
            both = pair(value)
            return both is not None and test(*both)

        return predicate

    if op == "EQ":
        return compare(lambda v, vs: v == vs[0])
    if op == "GT":
        return compare(lambda v, vs: v > vs[0])
    if op == "GTE":
        return compare(lambda v, vs: v >= vs[0])
    if op == "LT":
        return compare(lambda v, vs: v < vs[0])
    if op == "LTE":
        return compare(lambda v, vs: v <= vs[0])
    if op == "BETWEEN":
        return compare(lambda v, vs: vs[0] <= v <= vs[1])
    assert op in ("IN", "HASANYOF"), op
    return compare(lambda v, vs: v in vs)


def sort_key(value: Any) -> tuple[Any, ...]:
    """Orders any mix of values: empty first, then numbers, then text, then anything else as JSON."""
    if is_empty(value):
        return (0,)
    if _is_number(value):
        return (1, float(value))
    if isinstance(value, str):
        return (2, value)
    return (3, as_text(value))
