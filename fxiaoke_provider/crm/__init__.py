"""CRM object data: read any object at any depth, write records exactly once or reported.

Airflow-free. :class:`Crm` is the service object a client hands out (``client.crm``); the
functions it delegates to take the gateway first and live in :mod:`.reading` and :mod:`.writing`.
Wire names are in :mod:`.wire`, the checks of query input in :mod:`.filters`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fxiaoke_provider.crm import reading, wire, writing
from fxiaoke_provider.crm.calls import CrmGateway
from fxiaoke_provider.crm.reading import DEFAULT_MAX_RECORDS, FxiaokeTooManyRecordsError

__all__ = ["DEFAULT_MAX_RECORDS", "Crm", "CrmGateway", "FxiaokeTooManyRecordsError"]


class Crm:
    """CRM records through one gateway: reading, describing, creating, updating, invalidating.

    Holds no state but the gateway, so one instance serves any number of objects and threads
    as far as the gateway does.
    """

    def __init__(self, gateway: CrmGateway) -> None:
        self.gateway = gateway

    def iter_records(
        self,
        object_api_name: str,
        *,
        filters: list[Any] | None = None,
        fields: list[str] | None = None,
        page_size: int = wire.MAX_PAGE_SIZE,
        after_id: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching record once, streamed in ``_id`` order (see :func:`.reading.iter_records`)."""
        return reading.iter_records(
            self.gateway,
            object_api_name,
            filters=filters,
            fields=fields,
            page_size=page_size,
            after_id=after_id,
        )

    def query_records(
        self,
        object_api_name: str,
        *,
        filters: list[Any] | None = None,
        fields: list[str] | None = None,
        max_records: int = DEFAULT_MAX_RECORDS,
    ) -> list[dict[str, Any]]:
        """A small result as a list; raises :class:`FxiaokeTooManyRecordsError` beyond ``max_records``."""
        return reading.query_records(
            self.gateway, object_api_name, filters=filters, fields=fields, max_records=max_records
        )

    def get_record(self, object_api_name: str, record_id: str) -> dict[str, Any] | None:
        """The record with this ``_id``, or ``None``."""
        return reading.get_record(self.gateway, object_api_name, record_id)

    def describe_object(self, object_api_name: str) -> dict[str, Any]:
        """The object's field map: field API name -> definition."""
        return reading.describe_object(self.gateway, object_api_name)

    def list_objects(self) -> list[dict[str, Any]]:
        """The tenant's objects."""
        return reading.list_objects(self.gateway)

    def create_record(
        self,
        object_api_name: str,
        fields: Mapping[str, Any],
        *,
        before_send: Callable[[str], None] | None = None,
    ) -> str:
        """Create one record, sent once; return its ``_id``."""
        return writing.create_record(self.gateway, object_api_name, fields, before_send=before_send)

    def update_record(self, object_api_name: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """Set ``fields`` on one record (safe to repeat)."""
        writing.update_record(self.gateway, object_api_name, record_id, fields)

    def invalidate_record(self, object_api_name: str, record_id: str) -> None:
        """Invalidate one record."""
        writing.invalidate_record(self.gateway, object_api_name, record_id)
