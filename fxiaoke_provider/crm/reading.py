"""Reading CRM records: every matching record exactly once, at any depth, streamed.

Paging follows the manual's answer for deep paging (keyset paging): order by ``_id`` ascending,
keep ``offset`` at 0, and ask for the next page with an added filter ``_id GT <last _id>``. Offset
paging stops at 10,000 (``errorCode 10013``) and skips or repeats records that change while it
pages; keyset paging reaches every record and stays stable while others change, and a stream can
resume strictly after any id it has seen (``after_id``).

Every read is declared repeatable: it changes nothing, so the gateway retries timeouts and busy
answers itself, paced under the endpoint's limit. Totals are not asked for
(``find_explicit_total_num: false``, cheaper; nothing here needs them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.crm import filters as crm_filters
from fxiaoke_provider.crm import wire
from fxiaoke_provider.crm.calls import CrmGateway, acting_user_fields, answer_part, request_body
from fxiaoke_provider.exceptions import FxiaokePermanentError, FxiaokeProtocolError
from fxiaoke_provider.gateway.settings import check_whole_number

log = logging.getLogger(__name__)

#: ``query_records``' default ceiling: a result for XCom, not an export.
DEFAULT_MAX_RECORDS = 1000


class FxiaokeTooManyRecordsError(FxiaokePermanentError):
    """More records match than a small query may return; an export is the tool for that.

    Raised after reading at most ``max_records + 1`` records, so deciding costs little.
    """

    def __init__(self, object_api_name: str, max_records: int) -> None:
        self.object_api_name = object_api_name
        self.max_records = max_records
        super().__init__(
            f"more than {max_records} records of {object_api_name} match: a query returns small results "
            "only. Export large ones to object storage (FxiaokeToObjectStorageOperator) or stream them "
            "(iter_records); or narrow the filters, or raise max_records."
        )


@dataclass(frozen=True)
class _Query:
    """One checked query; builds the body of each page."""

    path: str
    object_api_name: str
    acting: dict[str, str]
    filters: list[crm_filters.Filter]
    projection: list[str] | None

    @classmethod
    def checked(cls, gateway: CrmGateway, object_api_name: Any, filters: Any, fields: Any) -> _Query:
        """Every local rule, before anything is sent."""
        name = crm_filters.check_object_api_name(object_api_name)
        return cls(
            path=wire.data_path(name, wire.QUERY_ACTION),
            object_api_name=name,
            filters=crm_filters.normalise_filters(filters),
            projection=crm_filters.projection(fields),
            acting=acting_user_fields(gateway),
        )

    def body(
        self, limit: int, after_id: str | None, extra: tuple[crm_filters.Filter, ...] = ()
    ) -> dict[str, Any]:
        """The body of one page: offset 0, ``_id`` ascending, the cursor as one more filter."""
        cursor = [crm_filters.after(after_id)] if after_id is not None else []
        search: dict[str, Any] = {
            wire.LIMIT_FIELD: limit,
            wire.OFFSET_FIELD: 0,
            wire.FILTERS_FIELD: [*self.filters, *extra, *cursor],
            wire.ORDERS_FIELD: [{wire.ORDER_FIELD_NAME: wire.ID_FIELD, wire.ORDER_ASCENDING: True}],
        }
        if self.projection is not None:
            search[wire.FIELD_PROJECTION_FIELD] = list(self.projection)
        return request_body(
            self.acting,
            {
                wire.OBJECT_API_NAME_FIELD: self.object_api_name,
                wire.FIND_TOTAL_FIELD: False,
                wire.SEARCH_QUERY_INFO_FIELD: search,
            },
        )


def _page(gateway: CrmGateway, query: _Query, body: dict[str, Any]) -> list[Any]:
    answer = gateway.call(query.path, body, repeatable=True)
    return answer_part(answer, query.path, wire.DATA_FIELD, wire.DATA_LIST_FIELD, kind=list)


def _record_id(record: Any, path: str, cursor: str | None) -> str:
    """The record's ``_id``, which must lie strictly after the cursor.

    A record at or before the cursor means the gateway did not apply ``_id GT`` or the ``_id``
    order (ids are compared as strings: 24 lower-case hex digits sort as the gateway orders them).
    Going on could repeat records forever, so the stream stops with an error instead.
    """
    record_id = record.get(wire.ID_FIELD) if isinstance(record, dict) else None
    if not isinstance(record_id, str) or not record_id:
        raise FxiaokeProtocolError(f"a record in the answer has no {wire.ID_FIELD}", path=path)
    if cursor is not None and not record_id > cursor:
        raise FxiaokeProtocolError(
            f"the gateway returned {wire.ID_FIELD} {record_id!r} at or before {cursor!r} although the "
            f"query asked for {wire.ID_FIELD} {wire.AFTER_OPERATOR} {cursor!r} in ascending order; "
            "stopping rather than reading records twice",
            path=path,
        )
    return record_id


def _records(
    gateway: CrmGateway, query: _Query, page_size: int, after_id: str | None, max_total: int | None = None
) -> Iterator[dict[str, Any]]:
    """Pages of at most ``page_size`` until one comes back short; holds one page at a time.

    ``max_total`` caps how many records are asked for in all (the last page asks for fewer).
    """
    cursor = after_id
    remaining = max_total
    pages = 0
    while remaining is None or remaining > 0:
        limit = page_size if remaining is None else min(page_size, remaining)
        page = _page(gateway, query, query.body(limit, cursor))
        pages += 1
        for record in page:
            cursor = _record_id(record, query.path, cursor)
            yield record
        log.debug("%s page %d: %d records, last _id %s", query.object_api_name, pages, len(page), cursor)
        if remaining is not None:
            remaining -= len(page)
        if len(page) < limit:
            return


def iter_records(
    gateway: CrmGateway,
    object_api_name: str,
    *,
    filters: list[Any] | None = None,
    fields: list[str] | None = None,
    page_size: int = wire.MAX_PAGE_SIZE,
    after_id: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Every record of ``object_api_name`` that matches ``filters``, each once, in ``_id`` order.

    Streamed: one page (``page_size`` records, at most 100) is held at a time, so any number of
    records can be read in constant memory; a page shorter than ``page_size`` ends the stream.
    Input is checked now, before the first call, not when iteration starts.

    :param object_api_name: ``AccountObj``, ``ContactObj``... or a custom object ``..__c``.
    :param filters: the manual's form ``{"field_name", "operator", "field_values"}`` or
        ``(field, operator, value_or_values)``; all must hold. Filters on ``_id`` are allowed:
        they are combined with the paging cursor, which is just one more condition.
    :param fields: field API names to return (``None``: all). ``_id`` is always added and kept,
        because the cursor needs it.
    :param page_size: records per call, 1 to 100.
    :param after_id: resume strictly after this ``_id`` (the last one a previous stream yielded).
    """
    query = _Query.checked(gateway, object_api_name, filters, fields)
    crm_filters.check_page_size(page_size)
    if after_id is not None:
        crm_filters.check_record_id(after_id, "after_id")
    return _records(gateway, query, page_size, after_id)


def query_records(
    gateway: CrmGateway,
    object_api_name: str,
    *,
    filters: list[Any] | None = None,
    fields: list[str] | None = None,
    max_records: int = DEFAULT_MAX_RECORDS,
) -> list[dict[str, Any]]:
    """All matching records as a list, when there are at most ``max_records`` of them.

    Reads at most ``max_records + 1`` records; when more match, raises
    :class:`FxiaokeTooManyRecordsError`, which points to the export, and returns nothing.
    """
    query = _Query.checked(gateway, object_api_name, filters, fields)
    check_whole_number("max_records", max_records, 1)
    records = list(_records(gateway, query, wire.MAX_PAGE_SIZE, None, max_total=max_records + 1))
    if len(records) > max_records:
        raise FxiaokeTooManyRecordsError(query.object_api_name, max_records)
    return records


def get_record(gateway: CrmGateway, object_api_name: str, record_id: str) -> dict[str, Any] | None:
    """The record with this ``_id``, or ``None`` when no such record is visible.

    Reads through the documented query (``_id EQ <id>``, limit 1), not the one-record endpoint:
    the reference knows that endpoint's path only from client code, and neither its body nor the
    error code it answers for an absent record, so "absent" could not be told from "refused".
    Whether invalidated records are returned is up to the gateway's query (undocumented).
    """
    query = _Query.checked(gateway, object_api_name, None, None)
    crm_filters.check_record_id(record_id)
    page = _page(gateway, query, query.body(1, None, (crm_filters.equals(wire.ID_FIELD, record_id),)))
    if not page:
        return None
    record = page[0]
    if not isinstance(record, dict) or record.get(wire.ID_FIELD) != record_id:
        raise FxiaokeProtocolError(
            f"asked for {wire.ID_FIELD} {record_id!r}, the answer holds another record", path=query.path
        )
    return record


def describe_object(gateway: CrmGateway, object_api_name: str) -> dict[str, Any]:
    """The object's field map: field API name -> definition (``label``, ``type``, ``options``...)."""
    name = crm_filters.check_object_api_name(object_api_name)
    body = request_body(
        acting_user_fields(gateway),
        {wire.DESCRIBE_API_NAME_FIELD: name, wire.DESCRIBE_INCLUDE_DETAIL_FIELD: True},
    )
    answer = gateway.call(wire.DESCRIBE_PATH, body, repeatable=True)
    return answer_part(
        answer, wire.DESCRIBE_PATH, wire.DATA_FIELD, wire.DESCRIBE_FIELD, wire.DESCRIBE_FIELDS_FIELD
    )


def list_objects(gateway: CrmGateway) -> list[dict[str, Any]]:
    """The tenant's objects, one entry each, as the gateway describes them.

    The reference knows this endpoint from one client only and spells neither its body nor its
    answer. So the body carries nothing but the acting user (legacy style), and the answer's
    ``data`` is read either as the list itself or as an object holding exactly one list; any
    other shape is a protocol error rather than a guess.
    """
    answer = gateway.call(wire.LIST_OBJECTS_PATH, dict(acting_user_fields(gateway)), repeatable=True)
    data = answer.get(wire.DATA_FIELD)
    if isinstance(data, list):
        return data
    lists = [value for value in data.values() if isinstance(value, list)] if isinstance(data, dict) else []
    if len(lists) != 1:
        raise FxiaokeProtocolError(
            "the object list answer holds no single list of objects under data",
            trace_id=answer.get(wire.TRACE_ID_FIELD),
            path=wire.LIST_OBJECTS_PATH,
        )
    return lists[0]
