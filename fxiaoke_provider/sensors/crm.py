"""``FxiaokeRecordSensor``: wait until a CRM query matches at least one record.

For DAGs that wait on the CRM ("the contract is approved"). Each poke is one query page of at most
``max_records`` records; the hook is imported when the task runs, so DAG files stay cheap to parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.airflow_support.sending import DEFAULT_CONN_ID
from fxiaoke_provider.airflow_support.version_compat import BaseSensorOperator, PokeReturnValue
from fxiaoke_provider.crm import wire
from fxiaoke_provider.gateway.settings import check_whole_number
from fxiaoke_provider.operators.base import BASE_TEMPLATE_FIELDS, FxiaokeHookMixin
from fxiaoke_provider.operators.crm import rendered_list

if TYPE_CHECKING:
    try:
        from airflow.sdk import Context
    except ImportError:
        from airflow.utils.context import Context  # type: ignore[no-redef]

#: The most records one poke hands on: a few, for the tasks downstream, never an export.
MAX_RECORDS_LIMIT = wire.MAX_PAGE_SIZE


class FxiaokeRecordSensor(FxiaokeHookMixin, BaseSensorOperator):
    """
    Wait until records of a CRM object match ``filters``; then hand the first matching records (in
    ``_id`` order, at most ``max_records``) to XCom ``return_value``.

    Works in ``poke`` mode (the worker slot is held between pokes) and ``reschedule`` mode (the slot
    is freed; better for long waits). Each poke costs one query call. A refusal a retry cannot fix
    (bad filters, no permission) fails the task at once; transient ones leave it to Airflow's retries
    (or ``silent_fail=True`` pokes again).

    :param object_api_name: the object, e.g. ``ContractObj``, or a custom ``..__c`` object (templated).
    :param filters: the conditions, in either form ``FxiaokeQueryOperator`` takes (templated).
    :param fields: the fields to return (``_id`` always comes too); None: every field (templated).
    :param max_records: how many matching records to hand on (1 to 100, default 1).
    :param fxiaoke_conn_id: the Fxiaoke connection (templated).
    :param hook_params: the hook's settings (see ``FxiaokeBaseOperator``).
    """

    template_fields: Sequence[str] = (*BASE_TEMPLATE_FIELDS, "object_api_name", "filters", "fields")
    template_fields_renderers = {"filters": "json", "fields": "json"}
    ui_color = "#ff8000"

    def __init__(
        self,
        *,
        object_api_name: str,
        filters: Sequence[Any] | str | None = None,
        fields: Sequence[str] | str | None = None,
        max_records: int = 1,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._init_fxiaoke(fxiaoke_conn_id, hook_params)
        check_whole_number("max_records", max_records, 1, MAX_RECORDS_LIMIT)
        self.object_api_name = object_api_name
        self.filters = filters
        self.fields = fields
        self.max_records = max_records

    def poke(self, context: Context) -> PokeReturnValue:
        def first_matches() -> list[dict[str, Any]]:
            records = self.hook.iter_records(
                self.object_api_name,
                filters=rendered_list(self.filters, "filters"),
                fields=rendered_list(self.fields, "fields"),
                page_size=self.max_records,
            )
            return list(islice(records, self.max_records))  # one page: the stream is not read on

        matches = self._run(first_matches)
        if matches:
            self.log.info(
                "%d record(s) of %s match, first _id %s",
                len(matches),
                self.object_api_name,
                matches[0].get(wire.ID_FIELD),
            )
        else:
            self.log.info("No record of %s matches yet", self.object_api_name)
        return PokeReturnValue(is_done=bool(matches), xcom_value=matches if matches else None)
