"""Operators that read and write Fxiaoke CRM records from DAG tasks.

The hook is imported only when a task runs, so DAG files that use them stay cheap to parse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.airflow_support.version_compat import (
    AIRFLOW_V_3_0_PLUS,
    AIRFLOW_V_3_3_PLUS,
    AirflowFailException,
    BaseOperator,
)
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
from fxiaoke_provider.exceptions import (
    FxiaokeError,
    FxiaokeInvalidInputError,
    FxiaokeOutcomeUnknownError,
    FxiaokeTransientError,
)

if TYPE_CHECKING:
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    try:
        from airflow.sdk import Context
    except ImportError:
        from airflow.utils.context import Context  # type: ignore[no-redef]

UPSERT_CREATED_IDS_XCOM_KEY = "created_ids"
UPSERT_REFUSED_ROWS_XCOM_KEY = "refused_rows"
#: Refused rows named in a failure message; all of them are in the log and in XCom ``refused_rows``.
_REFUSED_IN_MESSAGE = 20
_SOURCE_FORMATS = ("jsonl", "csv")


def _object_storage_path(url: str, conn_id: str | None) -> Any:
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk import ObjectStoragePath
    else:
        from airflow.io.path import ObjectStoragePath  # type: ignore[no-redef]
    return ObjectStoragePath(url, conn_id=conn_id)


def _upsert_error(error: FxiaokeError) -> BaseException:
    """What Airflow sees when the upsert stops: a retry resumes from the journal and looks every
    unfinished create up before sending anything, so a lost answer is as retryable as a refusal
    before any work. Errors a retry cannot fix (bad input, credentials, quota) fail for good."""
    if isinstance(error, (FxiaokeTransientError, FxiaokeOutcomeUnknownError)) or error.retryable_by_airflow:
        return error
    return AirflowFailException(f"{type(error).__name__}: {error}")


class FxiaokeUpsertRecordsOperator(BaseOperator):
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
    """

    template_fields: Sequence[str] = ("records", "source_path", "source_conn_id", "fxiaoke_conn_id")
    template_fields_renderers = {"records": "json"}
    ui_color = "#ff8000"

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
        fxiaoke_conn_id: str = "fxiaoke_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
        if (
            isinstance(allow_refused_rows, bool)
            or not isinstance(allow_refused_rows, int)
            or allow_refused_rows < 0
        ):
            raise FxiaokeInvalidInputError(
                "allow_refused_rows", f"must be a whole number >= 0; got {allow_refused_rows!r}"
            )
        self.object_api_name = object_api_name
        self.match_field = match_field
        self.records = records
        self.source_path = source_path
        self.source_conn_id = source_conn_id
        self.source_format = source_format
        self.allow_refused_rows = allow_refused_rows
        self.fxiaoke_conn_id = fxiaoke_conn_id

    @cached_property
    def hook(self) -> FxiaokeHook:
        from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

        return FxiaokeHook(fxiaoke_conn_id=self.fxiaoke_conn_id)

    def _rows(self) -> RowSource:
        if self.source_path is not None:
            url = str(self.source_path)
            path = _object_storage_path(url, self.source_conn_id or None)
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
        store = context.get("task_state_store") if AIRFLOW_V_3_3_PLUS else None
        upsert = Upsert(self.hook, self.object_api_name, self.match_field, journal=UpsertJournal(store))
        try:
            result = upsert.run(self._rows())
        except FxiaokeError as error:
            self._stopped(upsert, error)
            airflow_error = _upsert_error(error)
            if airflow_error is error:
                raise
            raise airflow_error from error
        except BaseException as stop:  # execution_timeout, termination: the journal lets a retry resume
            self._stopped(upsert, stop)
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
