"""A streamed export into object storage that a retry resumes and a reader never sees half-written.

Records are written in closed *parts* under a staging folder next to the destination::

    <dest folder>/_fxiaoke_staging/<dest name>/<token>/part-00000.jsonl
                                                      /part-00001.jsonl ...
                                                      /assembled.<jsonl|csv>

A part is closed after ``records_per_part`` records (on an object store: one completed upload).
After each part the progress (parts written, records, the last ``_id``, the fingerprint of the
query) is saved in Airflow's task state store, so a retry of the task reads only the records after
that ``_id`` (keyset order) and writes the next part; records of a part that was still open when a
try died are read again into a new part, so the final file holds each record once. At the end the
parts are streamed in order into ``assembled.<ext>``, which is then moved onto the destination in
one step (a rename on a local disk; a single copy on an object store, which readers see whole or
not at all), and the staging folder is removed.

A changed query (object, filters, window, fields, format, destination) has another fingerprint:
its retry starts afresh. Without a task state store (Airflow < 3.3) a retry starts afresh too, and
the failed try removes its own staging folder. The staging folder's name starts with ``_``, which
most readers of a folder of files (Spark, Hive, warehouses' external tables) skip.

CSV: parts are always JSON lines; the CSV is made while assembling, with a header row of the
given ``fields`` in that order, or else of every key the records had (``_id`` first, the rest
sorted; the union is kept with the progress, so a resumed export knows the keys of earlier parts).
Memory stays constant: one record, one part's write buffer, one read buffer at a time.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fxiaoke_provider.state_store import StateStore

log = logging.getLogger(__name__)

JSONL = "jsonl"
CSV = "csv"
FILE_FORMATS = (JSONL, CSV)
ID_FIELD = "_id"

#: Key in the task state store (one per task instance, so mapped tasks never share it).
STATE_KEY = "fxiaoke_export"
STATE_VERSION = 1
STAGING_FOLDER = "_fxiaoke_staging"
_COPY_BUFFER = 1 << 20


def fingerprint(**query: Any) -> str:
    """Identity of what an export reads and where it writes; a retry resumes only the same one."""
    material = json.dumps(query, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def json_line(record: dict[str, Any]) -> bytes:
    """One record as a line of UTF-8 JSON (non-ASCII text kept as is)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def csv_cell(value: Any) -> str:
    """A value as CSV text: lists and objects as JSON, booleans as ``true``/``false``, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, float):
        return json.dumps(value)
    return str(value)


def csv_columns(keys: Iterable[str]) -> list[str]:
    """The header of a CSV without given fields: ``_id`` first, then every other key sorted."""
    seen = set(keys)
    return ([ID_FIELD] if ID_FIELD in seen else []) + sorted(seen - {ID_FIELD})


@dataclass
class Progress:
    """What the parts written so far hold; saved after every part."""

    fingerprint: str
    token: str
    parts: int = 0
    records: int = 0
    last_id: str | None = None
    keys: list[str] = field(default_factory=list)
    window: list[int | None] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "fingerprint": self.fingerprint,
            "token": self.token,
            "parts": self.parts,
            "records": self.records,
            "last_id": self.last_id,
            "keys": self.keys,
            "window": self.window,
        }

    @classmethod
    def from_json(cls, data: Any) -> Progress | None:
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return None
        try:
            progress = cls(
                fingerprint=str(data["fingerprint"]),
                token=str(data["token"]),
                parts=int(data["parts"]),
                records=int(data["records"]),
                last_id=data.get("last_id"),
                keys=[str(key) for key in data.get("keys") or []],
                window=list(data.get("window") or []),
            )
        except (KeyError, TypeError, ValueError):
            return None
        if progress.parts < 0 or (progress.parts and not isinstance(progress.last_id, str)):
            return None
        return progress


def _is_local(path: Any) -> bool:
    protocol = path.fs.protocol
    protocols = protocol if isinstance(protocol, (tuple, list)) else (protocol,)
    return bool({"file", "local"} & set(protocols))


def _make_folder(folder: Any) -> None:
    """Local disks need the folder; object stores have none (and must not get a bucket made)."""
    if _is_local(folder):
        folder.mkdir(parents=True, exist_ok=True)


class _Part:
    """One part being written: JSON lines, opened on its first record."""

    def __init__(self, path: Any) -> None:
        _make_folder(path.parent)
        self.path = path
        self.file = path.open("wb")
        self.records = 0
        self.last_id: str | None = None

    def write(self, record: dict[str, Any], record_id: Any) -> None:
        self.file.write(json_line(record))
        self.records += 1
        self.last_id = record_id

    def close(self) -> None:
        self.file.close()

    def abort(self) -> None:
        """Drop the unfinished part: an object store then never shows it (a local file may stay
        until a retry writes that part again; nothing counts it)."""
        for step in (self.file.discard, self.file.close):
            try:
                step()
            except Exception:  # a local file cannot be discarded; it is closed as it is
                log.debug("Could not %s the unfinished part %s", step.__name__, self.path, exc_info=True)


class StagedExport:
    """One export of records into ``dest`` (an ``ObjectStoragePath``), resumable through ``store``.

    :param dest: where the finished file goes; replaced whole when it exists.
    :param file_format: ``jsonl`` or ``csv``.
    :param fields: the fields to write, in this order (each record is cut to them); None: all.
    :param query_fingerprint: identity of the query and destination (``fingerprint()``).
    :param records_per_part: records per closed part: what a retry may have to read again.
    :param store: the task state store, or None where there is none (a retry then starts afresh).
    :param window: the window's ``[start_ms, end_ms]``, kept with the progress for people to read.
    """

    def __init__(
        self,
        dest: Any,
        *,
        file_format: str,
        fields: Sequence[str] | None,
        query_fingerprint: str,
        records_per_part: int,
        store: StateStore | None,
        window: Sequence[int | None] = (),
    ) -> None:
        self.dest = dest
        self.file_format = file_format
        self.fields = list(fields) if fields is not None else None
        self.query_fingerprint = query_fingerprint
        self.records_per_part = records_per_part
        self.store = store
        self.window = list(window)

    # --- layout ------------------------------------------------------------------------------
    def staging_root(self) -> Any:
        return self.dest.parent / STAGING_FOLDER / self.dest.name

    def staging(self, progress: Progress) -> Any:
        return self.staging_root() / progress.token

    def part_path(self, progress: Progress, index: int) -> Any:
        return self.staging(progress) / f"part-{index:05d}.{JSONL}"

    # --- the export ----------------------------------------------------------------------------
    def run(self, read: Callable[[str | None], Iterable[dict[str, Any]]]) -> int:
        """Read the records (``read(after_id)`` yields those after that ``_id``, in ``_id`` order),
        stage them, put the finished file in place; returns how many records it holds."""
        progress = self._start()
        try:
            self._stage(progress, read(progress.last_id))
            self._assemble(progress)
        except BaseException:
            if self.store is None:  # nobody can resume it: do not leave it behind
                self._remove_staging(progress)
            raise
        self._remove_staging(progress)
        if self.store is not None:
            self.store.delete(STATE_KEY)
        return progress.records

    def _start(self) -> Progress:
        fresh = Progress(self.query_fingerprint, uuid.uuid4().hex, window=self.window)
        if self.store is None:
            return fresh
        stored = Progress.from_json(self.store.get(STATE_KEY))
        if stored is not None and stored.fingerprint == self.query_fingerprint:
            if stored.parts == 0 or self.part_path(stored, stored.parts - 1).exists():
                log.info(
                    "Resuming an earlier try's export: %d part(s), %d record(s) staged; reading after _id %s",
                    stored.parts,
                    stored.records,
                    stored.last_id,
                )
                return stored
            log.warning("The staged parts of an earlier try are gone: starting the export afresh")
        elif stored is not None:
            log.info("The query or destination changed since the last try: starting the export afresh")
        if stored is not None:
            self._remove_staging(stored)
        self._save(fresh)
        return fresh

    def _save(self, progress: Progress) -> None:
        if self.store is not None:
            self.store.set(STATE_KEY, progress.to_json())

    def _stage(self, progress: Progress, records: Iterable[dict[str, Any]]) -> None:
        keys = set(progress.keys)
        part: _Part | None = None
        try:
            for record in records:
                record_id = record.get(ID_FIELD)
                if self.fields is not None:
                    record = {name: record[name] for name in self.fields if name in record}
                elif self.file_format == CSV:
                    keys.update(record)
                if part is None:
                    part = _Part(self.part_path(progress, progress.parts))
                part.write(record, record_id)
                if part.records >= self.records_per_part:
                    self._close(progress, part, keys)
                    part = None
        except BaseException:
            if part is not None:
                part.abort()
            raise
        if part is not None:
            self._close(progress, part, keys)

    def _close(self, progress: Progress, part: _Part, keys: set[str]) -> None:
        part.close()
        progress.parts += 1
        progress.records += part.records
        progress.last_id = part.last_id
        progress.keys = sorted(keys)
        self._save(progress)
        log.info(
            "Staged part %d: %d record(s), %d in all so far", progress.parts, part.records, progress.records
        )

    def _assemble(self, progress: Progress) -> None:
        staging = self.staging(progress)
        _make_folder(staging)
        assembled = staging / f"assembled.{self.file_format}"
        parts = [self.part_path(progress, index) for index in range(progress.parts)]
        if self.file_format == CSV:
            columns = self.fields if self.fields is not None else csv_columns(progress.keys)
            with assembled.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                if columns:  # no fields given and no records: an empty file
                    writer.writerow(columns)
                for part in parts:
                    with part.open("rb") as source:
                        for line in iter(source.readline, b""):  # Airflow 2's file wrapper has no __iter__
                            record = json.loads(line)
                            writer.writerow([csv_cell(record.get(name)) for name in columns])
        else:
            with assembled.open("wb") as out:
                for part in parts:
                    with part.open("rb") as source:
                        shutil.copyfileobj(source, out, _COPY_BUFFER)
        _make_folder(self.dest.parent)
        assembled.move(self.dest)
        log.info("Wrote %d record(s) to %s", progress.records, self.dest)

    def _remove_staging(self, progress: Progress) -> None:
        staging = self.staging(progress)
        try:
            if staging.exists():
                staging.fs.rm(staging.path, recursive=True)
            if _is_local(staging):  # object stores have no empty folders to leave behind
                for folder in (staging.parent, staging.parent.parent):
                    if folder.exists() and any(folder.iterdir()):
                        break
                    if folder.exists():
                        folder.rmdir()
        except Exception:  # cleaning up is a courtesy; the export's outcome does not depend on it
            log.warning("Could not remove the staging folder %s", staging, exc_info=True)
