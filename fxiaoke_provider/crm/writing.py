"""Writing CRM records: create, update, invalidate; exactly once or reported.

A create is not idempotent: the same body twice makes two records. So a create is never declared
repeatable: when its answer is lost (timeout, dropped connection, ``50009``) the gateway raises
``FxiaokeOutcomeUnknownError`` with the ``thirdTraceId`` instead of sending it again, the same
contract as message sends; the caller looks the record up before creating it again.

An update sets the given values, so repeating it gives the same record: it is declared
repeatable and retried. Invalidation is repeatable too (the record ends up invalid either way);
the reference does not say what the gateway answers when the record is already invalid, so a
retry after a lost answer may surface that answer as an error.

Fields are checked locally where the rule is known, every refusal naming the field
(``fields['name']``): names are non-empty strings, values are JSON, ``dataObjectApiName`` is
the provider's to set, a create has a ``name`` and no ``_id`` (the gateway assigns ids; what it
does with one is undocumented), an update names its record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from fxiaoke_provider.crm import wire
from fxiaoke_provider.crm.calls import CrmGateway, acting_user_fields, request_body
from fxiaoke_provider.crm.filters import check_field_name, check_object_api_name, check_record_id
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError, FxiaokeProtocolError


def _checked_fields(fields: Any) -> dict[str, Any]:
    """A copy of ``fields`` after the rules every write shares."""
    if not isinstance(fields, Mapping):
        raise FxiaokeInvalidInputError(
            "fields", f"must be a mapping of field API name -> value; got {type(fields).__name__}"
        )
    checked: dict[str, Any] = {}
    for key, value in fields.items():
        where = f"fields[{key!r}]"
        check_field_name(key, where)
        if key == wire.OBJECT_API_NAME_FIELD:
            raise FxiaokeInvalidInputError(where, "is set from object_api_name; leave it out of the fields")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise FxiaokeInvalidInputError(
                where, f"must be JSON (dates and times as epoch milliseconds): {error}"
            ) from None
        checked[key] = value
    return checked


def create_record(
    gateway: CrmGateway,
    object_api_name: str,
    fields: Mapping[str, Any],
    *,
    before_send: Callable[[str], None] | None = None,
) -> str:
    """Create one record; return its ``_id`` (the answer's ``dataId``).

    Sent once: an unknown outcome raises ``FxiaokeOutcomeUnknownError`` (with the
    ``thirdTraceId``) rather than risking a second record. ``before_send`` gets the request's
    ``thirdTraceId`` just before it goes out, so a journal can record the create as in flight.
    """
    name = check_object_api_name(object_api_name)
    checked = _checked_fields(fields)
    title = checked.get(wire.NAME_FIELD)
    if title is None or (isinstance(title, str) and not title.strip()):
        raise FxiaokeInvalidInputError(
            f"fields[{wire.NAME_FIELD!r}]", "is required on create and must not be empty"
        )
    if wire.ID_FIELD in checked:
        raise FxiaokeInvalidInputError(
            f"fields[{wire.ID_FIELD!r}]",
            "is assigned by the gateway on create; use update_record to change a record",
        )
    path = wire.data_path(name, wire.CREATE_ACTION)
    body = request_body(
        acting_user_fields(gateway),
        {
            wire.OBJECT_DATA_FIELD: {wire.OBJECT_API_NAME_FIELD: name, **checked},
            wire.DETAILS_FIELD: {},
        },
    )
    answer = gateway.call(path, body, before_send=before_send)
    record_id = answer.get(wire.DATA_ID_FIELD)
    if not isinstance(record_id, str) or not record_id:
        raise FxiaokeProtocolError(
            f"the create was accepted but the answer carries no {wire.DATA_ID_FIELD}: the record "
            "probably exists; look it up before creating it again",
            trace_id=answer.get(wire.TRACE_ID_FIELD),
            path=path,
        )
    return record_id


def update_record(
    gateway: CrmGateway, object_api_name: str, record_id: str, fields: Mapping[str, Any]
) -> None:
    """Set ``fields`` on the record ``record_id``; retried when the outcome is unknown (same values)."""
    name = check_object_api_name(object_api_name)
    check_record_id(record_id)
    checked = _checked_fields(fields)
    if wire.ID_FIELD in checked and checked.pop(wire.ID_FIELD) != record_id:
        raise FxiaokeInvalidInputError(
            f"fields[{wire.ID_FIELD!r}]",
            f"differs from record_id {record_id!r}; leave it out or make them equal",
        )
    if not checked:
        raise FxiaokeInvalidInputError("fields", "name at least one field to update")
    body = request_body(
        acting_user_fields(gateway),
        {wire.OBJECT_DATA_FIELD: {wire.OBJECT_API_NAME_FIELD: name, wire.ID_FIELD: record_id, **checked}},
    )
    gateway.call(wire.data_path(name, wire.UPDATE_ACTION), body, repeatable=True)


def invalidate_record(gateway: CrmGateway, object_api_name: str, record_id: str) -> None:
    """Invalidate the record ``record_id`` (the gateway's step before any deletion)."""
    name = check_object_api_name(object_api_name)
    check_record_id(record_id)
    body = request_body(
        acting_user_fields(gateway),
        {wire.OBJECT_API_NAME_FIELD: name, wire.OBJECT_DATA_ID_FIELD: record_id},
    )
    gateway.call(wire.data_path(name, wire.INVALID_ACTION), body, repeatable=True)
