"""``FxiaokeToObjectStorageOperator``: a CRM object's records into a JSON-lines or CSV file in any
object storage Airflow knows (local disk, S3, GCS, Azure...), incrementally by default.

The records come from ``FxiaokeHook.iter_records`` (keyset paging on ``_id``, paced and retried by
the client); the file is written through Airflow's ``ObjectStoragePath`` by ``staging``, which
makes it resumable and atomic. The hook and the storage libraries are imported when the task runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.airflow_support import task_state
from fxiaoke_provider.airflow_support.sending import DEFAULT_CONN_ID
from fxiaoke_provider.airflow_support.version_compat import object_storage_path
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.gateway.settings import check_whole_number
from fxiaoke_provider.operators.base import BASE_TEMPLATE_FIELDS, FxiaokeBaseOperator
from fxiaoke_provider.transfers import staging
from fxiaoke_provider.transfers.window import Window, run_window

if TYPE_CHECKING:
    try:
        from airflow.sdk import Context
    except ImportError:
        from airflow.utils.context import Context  # type: ignore[no-redef]

DEFAULT_MODIFIED_FIELD = "last_modified_time"
DEFAULT_RECORDS_PER_PART = 10_000


def _check_text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FxiaokeInvalidInputError(name, f"must be a non-empty string; got {value!r}")
    return value


def _checked_fields(fields: Any) -> list[str] | None:
    if fields is None:
        return None
    if isinstance(fields, str) or not all(isinstance(name, str) and name for name in fields):
        raise FxiaokeInvalidInputError("fields", f"must be a list of field names; got {fields!r}")
    if len(set(fields)) != len(fields):
        raise FxiaokeInvalidInputError("fields", f"names a field twice: {fields!r}")
    return list(fields)


class FxiaokeToObjectStorageOperator(FxiaokeBaseOperator):
    """
    Export the records of one CRM object into a file in object storage; returns
    ``{"path": <dest_path as rendered>, "records": <count>}`` (XCom ``return_value``).

    Incremental by default: the records whose ``modified_field`` (epoch milliseconds) lies in the
    run's window ``[start, end)``: the data interval when it has a length, else from the end of the
    last successful run (the first run: everything before the end); see the CRM export docs.

    :param object_api_name: the object, e.g. ``AccountObj``, or a custom object ``..__c`` (templated).
    :param dest_path: the file's URL (templated), e.g. ``file:///data/fxiaoke/accounts/{{ ds }}.jsonl``
        or ``s3://bucket/fxiaoke/accounts/{{ ds }}.csv``; replaced whole by a rerun.
    :param dest_conn_id: the Airflow connection of the store (e.g. an ``aws`` connection for ``s3://``);
        None: the store's default credentials (templated).
    :param file_format: ``jsonl`` (one JSON object per line) or ``csv`` (header row; lists and objects
        as JSON text). Both UTF-8.
    :param filters: more conditions, in either form ``iter_records`` takes (templated).
    :param fields: the fields to export, in this order (the CSV columns); None: every field
        (templated).
    :param incremental: read only the run's window; False exports every matching record.
    :param modified_field: the epoch-milliseconds field the window applies to.
    :param page_size: records per query page (at most 100, the gateway's limit).
    :param records_per_part: records per staged part; a retry (Airflow >= 3.3) reads again at most
        this many records that an earlier try had already read.
    :param fxiaoke_conn_id: the ``fxiaoke`` connection (templated).
    :param hook_params: the hook's settings (see ``FxiaokeBaseOperator``).
    """

    template_fields: Sequence[str] = (
        *BASE_TEMPLATE_FIELDS,
        "object_api_name",
        "dest_path",
        "dest_conn_id",
        "filters",
        "fields",
    )
    template_fields_renderers = {"filters": "json", "fields": "json"}

    def __init__(
        self,
        *,
        object_api_name: str,
        dest_path: str,
        dest_conn_id: str | None = None,
        file_format: str = staging.JSONL,
        filters: Sequence[Any] | None = None,
        fields: Sequence[str] | None = None,
        incremental: bool = True,
        modified_field: str = DEFAULT_MODIFIED_FIELD,
        page_size: int = 100,
        records_per_part: int = DEFAULT_RECORDS_PER_PART,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fxiaoke_conn_id=fxiaoke_conn_id, hook_params=hook_params, **kwargs)
        if file_format not in staging.FILE_FORMATS:
            raise FxiaokeInvalidInputError(
                "file_format", f"must be one of {', '.join(staging.FILE_FORMATS)}; got {file_format!r}"
            )
        if not isinstance(incremental, bool):
            raise FxiaokeInvalidInputError("incremental", f"must be True or False; got {incremental!r}")
        self.object_api_name = _check_text(object_api_name, "object_api_name")
        self.dest_path = _check_text(dest_path, "dest_path")
        self.dest_conn_id = dest_conn_id
        self.file_format = file_format
        self.filters = filters
        if not (isinstance(fields, str) and "{{" in fields):  # a template is checked once rendered
            _checked_fields(fields)
        self.fields = fields
        self.incremental = incremental
        self.modified_field = _check_text(modified_field, "modified_field")
        self.page_size = page_size
        self.records_per_part = check_whole_number("records_per_part", records_per_part, 1)

    def _fields(self) -> list[str] | None:
        return _checked_fields(self.fields)

    def _query_filters(self, window: Window | None) -> list[Any]:
        given = [] if self.filters is None else self.filters
        if isinstance(given, (str, dict)):
            raise FxiaokeInvalidInputError("filters", f"must be a list of filters; got {given!r}")
        return [*given, *(window.filters(self.modified_field) if window is not None else [])]

    def execute(self, context: Context) -> dict[str, Any]:
        records = self._run(lambda: self._export(context))  # bad input, refusals: no retry
        return {"path": self.dest_path, "records": records}

    def _export(self, context: Context) -> int:
        fields = self._fields()
        window = run_window(context) if self.incremental else None
        if window is not None:
            self.log.info("Exporting %s modified in %s", self.object_api_name, window.describe())
            if window.empty:
                self.log.warning("The window is empty, so the file will be too: %s", window.reason)
        filters = self._query_filters(window)
        # The keyset cursor needs every record's _id, also when the file leaves it out.
        query_fields = None if fields is None else list(dict.fromkeys([staging.ID_FIELD, *fields]))
        dest = object_storage_path(self.dest_path, conn_id=self.dest_conn_id or None)
        store = task_state.state_store_of(context)
        export = staging.StagedExport(
            dest,
            file_format=self.file_format,
            fields=fields,
            query_fingerprint=staging.fingerprint(
                object=self.object_api_name,
                filters=filters,
                fields=fields,
                file_format=self.file_format,
                dest=self.dest_path,
                dest_conn_id=self.dest_conn_id,
            ),
            records_per_part=self.records_per_part,
            store=store,
            window=[window.start_ms, window.end_ms] if window is not None else [],
        )

        def read(after_id: str | None) -> Iterable[dict[str, Any]]:
            if window is not None and window.empty:
                return ()
            return self.hook.iter_records(
                self.object_api_name,
                filters=filters,
                fields=query_fields,
                page_size=self.page_size,
                after_id=after_id,
            )

        return export.run(read)
