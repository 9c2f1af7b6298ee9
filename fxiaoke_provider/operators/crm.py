"""Operators that read and write Fxiaoke CRM records from DAG tasks.

The hook is imported only when a task runs, so DAG files that use them stay cheap to parse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.airflow_support import task_state
from fxiaoke_provider.airflow_support.sending import DEFAULT_CONN_ID
from fxiaoke_provider.airflow_support.version_compat import (
    AirflowFailException,
    object_storage_path,
)
from fxiaoke_provider.crm.reading import DEFAULT_MAX_RECORDS
from fxiaoke_provider.crm.upsert import (
    RowSource,
    Upsert,
    UpsertJournal,
    check_match_field,
    csv_rows,
    json_lines_rows,
    rows_of_list,
    source_format,
)
from fxiaoke_provider.exceptions import FxiaokeError, FxiaokeInvalidInputError
from fxiaoke_provider.gateway.settings import check_whole_number
from fxiaoke_provider.operators.base import BASE_TEMPLATE_FIELDS, FxiaokeBaseOperator

if TYPE_CHECKING:
    try:
        from airflow.sdk import Context
    except ImportError:
        from airflow.utils.context import Context  # type: ignore[no-redef]

UPSERT_CREATED_IDS_XCOM_KEY = "created_ids"
UPSERT_REFUSED_ROWS_XCOM_KEY = "refused_rows"
#: Refused rows named in a failure message; all of them are in the log and in XCom ``refused_rows``.
_REFUSED_IN_MESSAGE = 20
_SOURCE_FORMATS = ("jsonl", "csv")


def rendered_list(value: Any, field: str) -> list[Any] | None:
    """A templated list as rendered: a list, None, or text holding a JSON list (``| tojson``)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise FxiaokeInvalidInputError(
                field, "rendered to text that is not a JSON list (use the tojson filter)"
            ) from None
    if isinstance(value, (dict, str)) or not isinstance(value, Sequence):
        raise FxiaokeInvalidInputError(field, f"must be a list; got {type(value).__name__}")
    return list(value)


class FxiaokeQueryOperator(FxiaokeBaseOperator):
    """
    Query a CRM object for a small result and hand the records to XCom (``return_value``, a list of
    records in ``_id`` order), for the tasks downstream: e.g. mapped sends, one per record.

    A result larger than ``max_records`` fails the task without a retry and pushes nothing: XCom is
    for small results, and an export (``FxiaokeToObjectStorageOperator``) is the tool for large ones.
    Deciding costs at most ``max_records + 1`` records read.

    :param object_api_name: the object, e.g. ``ContractObj``, or a custom ``..__c`` object (templated).
    :param filters: conditions that must all hold, in the manual's form
        (``{"field_name", "operator", "field_values"}``) or the short form
        ``(field, operator, value or values)`` (templated; an XCom or text rendering to a JSON list
        works too).
    :param fields: the fields to return (``_id`` always comes too); None: every field (templated).
    :param max_records: the most records the task may return (default 1,000).
    :param fxiaoke_conn_id: the Fxiaoke connection (templated).
    :param hook_params: the hook's settings (see ``FxiaokeBaseOperator``).
    """

    template_fields: Sequence[str] = (*BASE_TEMPLATE_FIELDS, "object_api_name", "filters", "fields")
    template_fields_renderers = {"filters": "json", "fields": "json"}

    def __init__(
        self,
        *,
        object_api_name: str,
        filters: Sequence[Any] | str | None = None,
        fields: Sequence[str] | str | None = None,
        max_records: int = DEFAULT_MAX_RECORDS,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fxiaoke_conn_id=fxiaoke_conn_id, hook_params=hook_params, **kwargs)
        check_whole_number("max_records", max_records, 1)
        self.object_api_name = object_api_name
        self.filters = filters
        self.fields = fields
        self.max_records = max_records

    def execute(self, context: Context) -> list[dict[str, Any]]:
        def query() -> list[dict[str, Any]]:
            return self.hook.query_records(
                self.object_api_name,
                filters=rendered_list(self.filters, "filters"),
                fields=rendered_list(self.fields, "fields"),
                max_records=self.max_records,
            )

        records = self._run(query)
        self.log.info("%d record(s) of %s match", len(records), self.object_api_name)
        return records


class FxiaokeUpsertRecordsOperator(FxiaokeBaseOperator):
    """
    Create or update CRM records, one per row: the record whose ``match_field`` equals the row's
    value is updated, otherwise one is created. Returns ``{"created": n, "updated": n, "refused": n}``;
    XCom key ``created_ids`` holds the ids of the records it created, ``refused_rows`` each refused row
    (``row``, ``match_value``, ``reason``).

    Exactly once or reported: every row is looked up (one query per 99 rows) before anything is
    written; every create is journaled (Airflow >= 3.3: the task state store), so a retry after a
    timeout, a transient refusal or a lost answer resumes and looks up each create whose answer it
    never saw before sending it again. A rerun of the same rows creates nothing. Rows the gateway
    refuses for their content are reported with their match value and reason; the task fails at the
    end when more than ``allow_refused_rows`` were refused. Every row is checked before the first
    call: a row without the match value, or repeating another row's, fails the task and sends nothing.

    :param object_api_name: the CRM object, e.g. ``LeadsObj`` or a custom ``..__c`` object.
    :param match_field: the field that identifies a row's record, e.g. an external id custom field.
    :param records: the rows (templated): a list of dicts, an XCom (``records=extract.output``) or
        text rendering to a JSON list (``"{{ ti.xcom_pull(task_ids='extract') | tojson }}"``).
    :param source_path: instead of ``records``, an object-storage URL (templated) of a JSON Lines or
        CSV file, read streamed (twice: once to check every row, once to write).
    :param source_conn_id: the connection for ``source_path`` (e.g. an ``aws`` connection for ``s3://``).
    :param source_format: ``jsonl`` or ``csv``; default from the file name's ending.
    :param allow_refused_rows: how many rows may be refused before the task fails (default 0).
    :param fxiaoke_conn_id: the Fxiaoke connection (templated).
    :param hook_params: the hook's settings (see ``FxiaokeBaseOperator``).
    """

    template_fields: Sequence[str] = (*BASE_TEMPLATE_FIELDS, "records", "source_path", "source_conn_id")
    template_fields_renderers = {"records": "json"}

    def __init__(
        self,
        *,
        object_api_name: str,
        match_field: str,
        records: Any = None,
        source_path: str | None = None,
        source_conn_id: str | None = None,
        source_format: str | None = None,
        allow_refused_rows: int = 0,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fxiaoke_conn_id=fxiaoke_conn_id, hook_params=hook_params, **kwargs)
        if not isinstance(object_api_name, str) or not object_api_name.strip():
            raise FxiaokeInvalidInputError(
                "object_api_name", f"must be a non-empty string; got {object_api_name!r}"
            )
        check_match_field(match_field)
        if (records is None) == (source_path is None):
            raise FxiaokeInvalidInputError(
                "records", "give either records or source_path, not both or neither"
            )
        if source_format is not None and source_format not in _SOURCE_FORMATS:
            raise FxiaokeInvalidInputError("source_format", f"must be jsonl or csv; got {source_format!r}")
        check_whole_number("allow_refused_rows", allow_refused_rows, 0)
        self.object_api_name = object_api_name
        self.match_field = match_field
        self.records = records
        self.source_path = source_path
        self.source_conn_id = source_conn_id
        self.source_format = source_format
        self.allow_refused_rows = allow_refused_rows

    def _rows(self) -> RowSource:
        if self.source_path is not None:
            url = str(self.source_path)
            path = object_storage_path(url, self.source_conn_id or None)
            kind = self.source_format or source_format(url)
            read = json_lines_rows if kind == "jsonl" else csv_rows
            return read(lambda: path.open("r", encoding="utf-8", newline=""), url)
        records = self.records
        if isinstance(records, str):
            try:
                records = json.loads(records)
            except ValueError:
                raise FxiaokeInvalidInputError(
                    "records", "rendered to text that is not a JSON list (use the tojson filter)"
                ) from None
        if not isinstance(records, (list, tuple)):
            raise FxiaokeInvalidInputError("records", f"must be a list of rows; got {type(records).__name__}")
        return rows_of_list(records)

    def execute(self, context: Context) -> dict[str, int]:
        store = task_state.state_store_of(context)
        upsert = Upsert(self.hook, self.object_api_name, self.match_field, journal=UpsertJournal(store))
        try:
            # A retry looks every unfinished create up before sending it again: resolved by look-up.
            result = self._run(lambda: upsert.run(self._rows()), resolved_by_lookup=True)
        except BaseException as stop:  # execution_timeout, termination: the journal lets a retry resume
            self._stopped(upsert, stop.__cause__ if isinstance(stop.__cause__, FxiaokeError) else stop)
            raise
        refused = [row.as_dict() for row in result.refused]
        context["ti"].xcom_push(key=UPSERT_CREATED_IDS_XCOM_KEY, value=result.created_ids)
        context["ti"].xcom_push(key=UPSERT_REFUSED_ROWS_XCOM_KEY, value=refused)
        self.log.info(
            "Upserted into %s by %s: %s; %d look-up(s)",
            self.object_api_name,
            self.match_field,
            result.report(),
            result.lookups,
        )
        if len(result.refused) > self.allow_refused_rows:
            named = "; ".join(row.describe() for row in result.refused[:_REFUSED_IN_MESSAGE])
            more = len(result.refused) - _REFUSED_IN_MESSAGE
            raise AirflowFailException(
                f"{len(result.refused)} row(s) refused (allow_refused_rows={self.allow_refused_rows}); "
                f"every other row was written ({result.report()}): {named}"
                + (f"; and {more} more (XCom {UPSERT_REFUSED_ROWS_XCOM_KEY})" if more > 0 else "")
            )
        return result.counts()

    def _stopped(self, upsert: Upsert, cause: BaseException) -> None:
        where = "a retry resumes from the journal" if upsert.journal.durable else "a retry starts over"
        self.log.warning(
            "Upsert stopped (%s) after: %s; %s and looks up every row before writing it",
            type(cause).__name__,
            upsert.result.report(),
            where,
        )
