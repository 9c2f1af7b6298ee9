"""Query input checked before anything is sent: filters, field lists, object names, page sizes.

Filters come in the manual's form ``{"field_name": ..., "operator": ..., "field_values": [...]}``
or in a short form ``(field, operator, value_or_values)`` and leave here in the manual's form.
Every refusal is an :class:`~fxiaoke_provider.exceptions.FxiaokeInvalidInputError` naming the
place of the bad input (``filters[2].operator``), so a wrong filter costs no call and no quota.

Where the manual is silent the stricter reading wins: unknown keys in a manual-form filter are
refused (a key such as a connector could change what the provider's own ``_id`` filter means), and
values must be JSON scalars (dates go as epoch milliseconds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fxiaoke_provider.crm import wire
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.gateway.settings import check_whole_number

#: A filter in the manual's form, as it goes on the wire.
Filter = dict[str, Any]
#: What callers may pass: the manual's form or ``(field, operator, value_or_values)``.
FilterInput = Mapping[str, Any] | Sequence[Any]

#: API names are identifiers: preset ``AccountObj``, custom ``object_x1y2__c``. Anything else
#: (spaces, slashes, empty) cannot be an object and would only cost a refused call.
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SCALARS = (str, int, float)  # bool is an int


def check_object_api_name(object_api_name: Any, field: str = "object_api_name") -> str:
    """Refuse what cannot be an object's API name; return it unchanged."""
    if not isinstance(object_api_name, str) or not _API_NAME.fullmatch(object_api_name):
        raise FxiaokeInvalidInputError(
            field,
            "must be an object's API name such as 'AccountObj' or a custom 'object_x__c' "
            f"(letters, digits and underscores); got {object_api_name!r}",
        )
    return object_api_name


def check_field_name(name: Any, field: str) -> str:
    """A field's API name: a non-empty string without whitespace."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name):
        raise FxiaokeInvalidInputError(
            field, f"must be a field's API name (a non-empty string without spaces); got {name!r}"
        )
    return name


def check_page_size(page_size: Any, field: str = "page_size") -> int:
    """Records per page: 1 to the manual's limit of 100."""
    return check_whole_number(field, page_size, 1, wire.MAX_PAGE_SIZE)


def check_record_id(record_id: Any, field: str = "record_id") -> str:
    """A record's ``_id``: a non-empty string without whitespace (the gateway's ids are 24 hex digits)."""
    if not isinstance(record_id, str) or not record_id or any(c.isspace() for c in record_id):
        raise FxiaokeInvalidInputError(
            field, f"must be a record's _id (a non-empty string); got {record_id!r}"
        )
    return record_id


def projection(fields: Any) -> list[str] | None:
    """The ``fieldProjection`` to send: ``None`` (all fields) or the fields with ``_id`` first.

    ``_id`` is always requested because keyset paging needs it; it stays in the records even when
    the caller did not name it (a record without its id is rarely what anyone wants downstream).
    An empty list is refused: the gateway reads it as "all fields", which is surely not what an
    empty list meant.
    """
    if fields is None:
        return None
    if isinstance(fields, str | bytes) or not isinstance(fields, list | tuple):
        raise FxiaokeInvalidInputError(
            "fields", f"must be a list of field API names, or None for all fields; got {fields!r}"
        )
    if not fields:
        raise FxiaokeInvalidInputError("fields", "name at least one field, or pass None for all fields")
    names = [check_field_name(name, f"fields[{index}]") for index, name in enumerate(fields)]
    return list(dict.fromkeys([wire.ID_FIELD, *names]))


def _check_value(value: Any, field: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise FxiaokeInvalidInputError(field, f"must be a finite number; got {value!r}")
    if not isinstance(value, _SCALARS):
        raise FxiaokeInvalidInputError(
            field,
            "must be a string, a number or a boolean (dates and times as epoch milliseconds); "
            f"got {type(value).__name__} {value!r}",
        )
    return value


def _check_operator(operator: Any, field: str) -> str:
    if isinstance(operator, str):
        upper = operator.strip().upper()
        if upper in wire.OPERATORS:
            return upper
        if upper in wire.OPERATOR_HINTS:
            raise FxiaokeInvalidInputError(
                field, f"unknown operator {operator!r}; the gateway spells it {wire.OPERATOR_HINTS[upper]!r}"
            )
    raise FxiaokeInvalidInputError(
        field, f"unknown operator {operator!r}; one of: {', '.join(wire.OPERATORS)}"
    )


def _check_arity(operator: str, values: list[Any], field: str) -> None:
    count = len(values)
    if operator in wire.SINGLE_VALUE_OPERATORS and count != 1:
        raise FxiaokeInvalidInputError(field, f"{operator} takes exactly one value; got {count}")
    if operator in wire.RANGE_OPERATORS and count != 2:
        raise FxiaokeInvalidInputError(
            field, f"{operator} takes exactly two values (the range's ends); got {count}"
        )
    if operator in wire.MANY_VALUE_OPERATORS and count == 0:
        raise FxiaokeInvalidInputError(field, f"{operator} needs at least one value; got an empty list")
    if operator in wire.EMPTINESS_OPERATORS and count != 0:
        raise FxiaokeInvalidInputError(
            field, f"{operator} tests whether the field is empty and takes no value; got {count}"
        )


def _from_manual_form(item: Mapping[str, Any], where: str) -> tuple[Any, Any, list[Any]]:
    unknown = [key for key in item if key not in wire.FILTER_KEYS]
    if unknown:
        raise FxiaokeInvalidInputError(
            f"{where}.{unknown[0]}",
            f"unknown filter key; a filter has exactly {', '.join(wire.FILTER_KEYS)}",
        )
    missing = [key for key in wire.FILTER_KEYS if key not in item]
    if missing:
        raise FxiaokeInvalidInputError(f"{where}.{missing[0]}", "is missing")
    values = item[wire.FILTER_VALUES]
    if not isinstance(values, list | tuple):
        raise FxiaokeInvalidInputError(
            f"{where}.{wire.FILTER_VALUES}", f"must be a list (the manual's form); got {values!r}"
        )
    return item[wire.FILTER_FIELD_NAME], item[wire.FILTER_OPERATOR], list(values)


def _from_short_form(item: Sequence[Any], where: str) -> tuple[Any, Any, list[Any]]:
    if len(item) == 2:  # (field, "IS") / (field, "ISN")
        return item[0], item[1], []
    if len(item) != 3:
        raise FxiaokeInvalidInputError(
            where, f"a short filter is (field, operator, value_or_values); got {len(item)} items"
        )
    field_name, operator, value = item
    if value is None:
        values: list[Any] = []
    elif isinstance(value, list | tuple | set | frozenset):
        values = sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    else:
        values = [value]
    return field_name, operator, values


def normalise_filter(item: Any, where: str = "filter") -> Filter:
    """One filter in either form -> the manual's form, or a refusal naming ``where``'s part."""
    if isinstance(item, Mapping):
        field_name, operator, values = _from_manual_form(item, where)
    elif isinstance(item, list | tuple):
        field_name, operator, values = _from_short_form(item, where)
    else:
        raise FxiaokeInvalidInputError(
            where,
            'must be {"field_name", "operator", "field_values"} or (field, operator, value_or_values); '
            f"got {type(item).__name__}",
        )
    check_field_name(field_name, f"{where}.{wire.FILTER_FIELD_NAME}")
    operator = _check_operator(operator, f"{where}.{wire.FILTER_OPERATOR}")
    values_field = f"{where}.{wire.FILTER_VALUES}"
    values = [_check_value(value, f"{values_field}[{index}]") for index, value in enumerate(values)]
    _check_arity(operator, values, values_field)
    return {wire.FILTER_FIELD_NAME: field_name, wire.FILTER_OPERATOR: operator, wire.FILTER_VALUES: values}


def normalise_filters(filters: Iterable[Any] | None) -> list[Filter]:
    """All filters -> the manual's form (new dicts; the input is not changed). ``None`` means none."""
    if filters is None:
        return []
    if isinstance(filters, str | bytes | Mapping) or not isinstance(filters, list | tuple):
        raise FxiaokeInvalidInputError(
            "filters", f"must be a list of filters (each a dict or a tuple); got {type(filters).__name__}"
        )
    if filters and isinstance(filters[0], str):
        raise FxiaokeInvalidInputError(
            "filters", "must be a list of filters: wrap a single (field, operator, value) in a list"
        )
    return [normalise_filter(item, f"filters[{index}]") for index, item in enumerate(filters)]


def after(record_id: str) -> Filter:
    """The keyset cursor: records strictly after ``record_id`` in ``_id`` order."""
    return {
        wire.FILTER_FIELD_NAME: wire.ID_FIELD,
        wire.FILTER_OPERATOR: wire.AFTER_OPERATOR,
        wire.FILTER_VALUES: [record_id],
    }


def equals(field_name: str, value: Any) -> Filter:
    """``field EQ value`` in the manual's form."""
    return {wire.FILTER_FIELD_NAME: field_name, wire.FILTER_OPERATOR: "EQ", wire.FILTER_VALUES: [value]}
