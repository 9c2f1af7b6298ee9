"""Upsert CRM records by a match field: update the record that carries the row's value, else create one.

Exactly once or reported. A create is not idempotent, so the engine never creates without having
looked the match value up first, and it journals every create:

- Rows go in chunks of ``LOOKUP_BATCH``; each chunk costs one look-up (an ``IN`` filter on the match
  field, projected to ``_id``, the match field and the fields the rows carry) before any write.
- Before a create goes out the journal records it as in flight (match value, ``thirdTraceId``);
  after the answer, as created (record id). A finished chunk is marked done.
- A later try (after a timeout, a transient refusal, a lost answer or a crash) skips done chunks and
  redoes the open one from its look-up: a row whose create was in flight is found (the create had
  arrived: counted as created) or not (it had not: created now). Nothing is created blindly twice.
- A row the gateway refuses for its content (or that the local create check refuses) is reported
  with its match value and the reason; the other rows go on. Errors that are not about one row
  (transient refusals, unknown outcomes, credentials, quota) stop the run.
- An update is sent only for fields whose value differs from the record's, so a rerun of the same
  rows costs the look-ups only.

The journal lives in any key/value store with ``get``/``set``/``delete`` (Airflow's task state
store); without one it is kept in memory and a retry starts over, which the look-up-first rule
keeps safe. This module knows nothing of Airflow.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from fxiaoke_provider.exceptions import (
    FxiaokeError,
    FxiaokeInvalidInputError,
    FxiaokeOutcomeUnknownError,
)
from fxiaoke_provider.gateway import outcomes
from fxiaoke_provider.state_store import StateStore

log = logging.getLogger(__name__)

#: The record id field every record has.
ID_FIELD = "_id"
#: Fields a row must not carry: the engine finds the record itself and names the object itself.
RESERVED_FIELDS = frozenset({ID_FIELD, "dataObjectApiName"})
#: A query page holds at most 100 records. 99 values per look-up leave room for one more record:
#: a page that comes back short proves no value matches further records, so a look-up is one call
#: unless some value is ambiguous (matches several records).
LOOKUP_BATCH = 99
PAGE_SIZE = 100

#: Keys in the journal's store: a header naming the upsert, one key per chunk.
HEADER_KEY = "fxiaoke_upsert"
CHUNK_KEY_PREFIX = "fxiaoke_upsert_chunk_"
JOURNAL_VERSION = 1

_MISSING = object()


# --- what the engine needs from the CRM client ---------------------------------------------------
class RecordStore(Protocol):
    """The CRM reads and writes the upsert uses (``Crm`` and ``FxiaokeHook`` provide them)."""

    def iter_records(
        self,
        object_api_name: str,
        *,
        filters: list[Any] | None = None,
        fields: list[str] | None = None,
        page_size: int = 100,
        after_id: str | None = None,
    ) -> Iterator[dict[str, Any]]: ...

    def create_record(
        self,
        object_api_name: str,
        fields: Mapping[str, Any],
        *,
        before_send: Callable[[str], None] | None = None,
    ) -> str: ...

    def update_record(self, object_api_name: str, record_id: str, fields: Mapping[str, Any]) -> None: ...


# --- rows ------------------------------------------------------------------------------------------
#: ``(label, row)``: the label names the row in errors and reports (``records[3]``, ``leads.csv row 4``).
Row = tuple[str, Any]
#: Called once per pass over the input (the engine reads it twice: check everything, then write).
RowSource = Callable[[], Iterable[Row]]


def _lines(stream: TextIO) -> Iterator[str]:
    """The stream's lines; by ``readline`` because some object-storage file wrappers do not iterate."""
    return iter(stream.readline, "")


def rows_of_list(records: Iterable[Any], name: str = "records") -> RowSource:
    """Rows given as a list (e.g. pulled from XCom)."""
    items = list(records)
    return lambda: ((f"{name}[{i}]", row) for i, row in enumerate(items))


def json_lines_rows(open_text: Callable[[], AbstractContextManager[TextIO]], source: str) -> RowSource:
    """Rows of a JSON Lines file, one object per line, read streamed; blank lines are skipped."""

    def read() -> Iterator[Row]:
        with open_text() as stream:
            for number, line in enumerate(_lines(stream), start=1):
                if not line.strip():
                    continue
                label = f"{source} line {number}"
                try:
                    row = json.loads(line)
                except ValueError as error:
                    raise FxiaokeInvalidInputError(label, f"is not JSON: {error}") from None
                yield label, row

    return read


def csv_rows(open_text: Callable[[], AbstractContextManager[TextIO]], source: str) -> RowSource:
    """Rows of a CSV file with a header line, read streamed.

    Every value is text; an empty cell is left out of the row (CSV cannot tell "empty" from "not
    given"), so a CSV row never clears a field: use JSON Lines with ``null`` for that.
    """

    def read() -> Iterator[Row]:
        with open_text() as stream:
            reader = csv.reader(_lines(stream))
            header = next(reader, None)
            if header is None:
                return
            if len(set(header)) != len(header) or any(not name.strip() for name in header):
                raise FxiaokeInvalidInputError(f"{source} header", "must name every column once, none empty")
            for number, cells in enumerate(reader, start=1):
                if not cells:
                    continue
                label = f"{source} row {number}"
                if len(cells) > len(header):
                    raise FxiaokeInvalidInputError(
                        label, f"has {len(cells)} cells but the header names {len(header)} columns"
                    )
                yield label, {name: value for name, value in zip(header, cells, strict=False) if value != ""}

    return read


def source_format(path: str) -> str:
    """``jsonl`` or ``csv``, from the file name's ending."""
    name = path.lower().rsplit("/", 1)[-1]
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    raise FxiaokeInvalidInputError(
        "source_path", f"must end in .jsonl, .ndjson, .json or .csv (or give source_format); got {path!r}"
    )


@dataclass(frozen=True)
class _Row:
    label: str
    key: str  # the match value as text: how rows and records are compared
    value: Any  # the match value as given (sent in the look-up)
    fields: dict[str, Any]


def match_key(value: Any) -> str | None:
    """The text a match value is compared by, or None when it cannot identify a record."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


class _Checker:
    """The rules every row must pass before anything is sent; one instance per pass."""

    def __init__(self, match_field: str) -> None:
        self.match_field = match_field
        self.seen: dict[str, str] = {}  # match key -> label of the row that has it

    def check(self, label: str, row: Any) -> _Row:
        if not isinstance(row, Mapping):
            raise FxiaokeInvalidInputError(
                label, f"must be an object of field -> value; got {type(row).__name__}"
            )
        for name in row:
            if not isinstance(name, str) or not name:
                raise FxiaokeInvalidInputError(label, f"field names must be non-empty text; got {name!r}")
            if name in RESERVED_FIELDS:
                raise FxiaokeInvalidInputError(
                    f"{label}[{name!r}]",
                    "must not be given: the upsert finds the record by match_field and names the object",
                )
        where = f"{label}[{self.match_field!r}]"
        value = row.get(self.match_field, _MISSING)
        if value is _MISSING:
            raise FxiaokeInvalidInputError(where, "is missing: every row needs the match value")
        key = match_key(value)
        if key is None:
            raise FxiaokeInvalidInputError(
                where, f"must be non-empty text or a number to identify a record; got {value!r}"
            )
        earlier = self.seen.get(key)
        if earlier is not None:
            raise FxiaokeInvalidInputError(
                where,
                f"{value!r} is also the match value of {earlier}: which row should win is not clear; "
                "remove or merge the duplicates",
            )
        self.seen[key] = label
        try:
            json.dumps(row, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise FxiaokeInvalidInputError(
                label, f"must hold JSON values (dates and times as epoch milliseconds): {error}"
            ) from None
        return _Row(label, key, value, dict(row))


# --- results -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefusedRow:
    """A row that was not written, with its match value and why."""

    row: str
    match_value: Any
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "match_value": self.match_value, "reason": self.reason}

    def describe(self) -> str:
        return f"{self.row} ({self.match_value!r}): {self.reason}"


@dataclass
class UpsertResult:
    """What the upsert did so far (all tries when the journal is durable)."""

    created_ids: list[str] = field(default_factory=list)
    updated: int = 0
    #: Of ``updated``: rows whose record already held the row's values (no call was made).
    unchanged: int = 0
    refused: list[RefusedRow] = field(default_factory=list)
    lookups: int = 0

    @property
    def created(self) -> int:
        return len(self.created_ids)

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "refused": len(self.refused)}

    def report(self) -> str:
        return (
            f"created {self.created}, updated {self.updated} ({self.unchanged} already up to date, "
            f"not sent), refused {len(self.refused)}"
        )


# --- the journal ---------------------------------------------------------------------------------
@dataclass
class ChunkState:
    """One chunk's progress: creates in flight (match key -> thirdTraceId), created records, counts."""

    index: int
    digest: str
    done: bool = False
    in_flight: dict[str, str | None] = field(default_factory=dict)
    created: dict[str, str] = field(default_factory=dict)
    updated: int = 0
    unchanged: int = 0
    refused: list[RefusedRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "done": self.done,
            "in_flight": self.in_flight,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": [r.as_dict() for r in self.refused],
        }

    @classmethod
    def from_json(cls, index: int, data: Any) -> ChunkState | None:
        try:
            return cls(
                index=index,
                digest=str(data["digest"]),
                done=bool(data["done"]),
                in_flight={str(k): (str(v) if v else None) for k, v in data["in_flight"].items()},
                created={str(k): str(v) for k, v in data["created"].items()},
                updated=int(data["updated"]),
                unchanged=int(data["unchanged"]),
                refused=[
                    RefusedRow(str(r["row"]), r["match_value"], str(r["reason"])) for r in data["refused"]
                ],
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


class UpsertJournal:
    """Progress of one upsert, kept in ``store`` when given (survives tries), else in memory only."""

    def __init__(self, store: StateStore | None = None) -> None:
        self._store = store
        self.durable = store is not None
        self._identity: str | None = None
        self._chunks = 0  # chunk keys that may exist in the store

    def start(self, identity: str) -> None:
        """Begin or resume the upsert named by ``identity``; a different one's leftovers are dropped."""
        self._identity = identity
        if self._store is None:
            return
        header = self._store.get(HEADER_KEY)
        valid = isinstance(header, dict) and header.get("version") == JOURNAL_VERSION
        stored_chunks = int(header.get("chunks") or 0) if valid else 0
        if valid and header.get("identity") == identity:
            self._chunks = stored_chunks
            return
        if valid:
            log.info("The object or match field changed since the last try: starting the upsert afresh")
            for index in range(stored_chunks):
                self._store.delete(f"{CHUNK_KEY_PREFIX}{index}")
        self._chunks = 0
        self._write_header()

    def open_chunk(self, index: int, digest: str) -> ChunkState:
        """What an earlier try recorded for this chunk (when it held the same rows), else a fresh state."""
        if self._store is not None and index < self._chunks:
            earlier = ChunkState.from_json(index, self._store.get(f"{CHUNK_KEY_PREFIX}{index}"))
            if earlier is not None and earlier.digest == digest:
                return earlier
            if earlier is not None:
                log.info("Chunk %d changed since the last try: it is looked up again from scratch", index + 1)
        if self._store is not None and index >= self._chunks:
            self._chunks = index + 1
            self._write_header()
        return ChunkState(index, digest)

    def save(self, chunk: ChunkState) -> None:
        if self._store is not None:
            self._store.set(f"{CHUNK_KEY_PREFIX}{chunk.index}", chunk.to_json())

    def finish(self) -> None:
        """The upsert ended for good (done, or failed with its report): nothing stale may outlive it."""
        if self._store is None:
            return
        for index in range(self._chunks):
            self._store.delete(f"{CHUNK_KEY_PREFIX}{index}")
        self._store.delete(HEADER_KEY)
        self._chunks = 0

    def _write_header(self) -> None:
        assert self._store is not None
        header = {"version": JOURNAL_VERSION, "identity": self._identity, "chunks": self._chunks}
        self._store.set(HEADER_KEY, header)


# --- refusals ----------------------------------------------------------------------------------
def refusal_reason(error: FxiaokeError) -> str | None:
    """Why one row was refused, or None when the error must stop the run (``gateway.outcomes``)."""
    return str(error) if outcomes.refuses_only_the_item(error) else None


def _digest(*parts: Any) -> str:
    material = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _chunks(rows: Iterable[_Row], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- the engine --------------------------------------------------------------------------------
class Upsert:
    """One upsert of rows into ``object_api_name``, identified by ``match_field``.

    ``run`` checks every row first (nothing is sent when any row is malformed, lacks the match
    value or repeats another row's), then writes chunk by chunk. It raises the first error that is
    not about one row; ``result`` then says how far it got, and the journal lets a later try resume.
    """

    def __init__(
        self,
        records: RecordStore,
        object_api_name: str,
        match_field: str,
        *,
        journal: UpsertJournal | None = None,
    ) -> None:
        if not isinstance(object_api_name, str) or not object_api_name.strip():
            raise FxiaokeInvalidInputError(
                "object_api_name", f"must be a non-empty string; got {object_api_name!r}"
            )
        check_match_field(match_field)
        self.records = records
        self.object_api_name = object_api_name
        self.match_field = match_field
        self.journal = journal if journal is not None else UpsertJournal()
        self.result = UpsertResult()
        self.identity = _digest(object_api_name, match_field)

    # --- passes ----------------------------------------------------------------------------------
    def check(self, rows: RowSource) -> int:
        """Check every row without sending anything; return how many there are."""
        checker = _Checker(self.match_field)
        count = 0
        for label, row in rows():
            checker.check(label, row)
            count += 1
        return count

    def run(self, rows: RowSource) -> UpsertResult:
        total = self.check(rows)
        log.info(
            "Upserting %d row(s) into %s by %s, %d per look-up",
            total,
            self.object_api_name,
            self.match_field,
            LOOKUP_BATCH,
        )
        self.journal.start(self.identity)
        checker = _Checker(self.match_field)
        checked = (checker.check(label, row) for label, row in rows())
        for index, chunk in enumerate(_chunks(checked, LOOKUP_BATCH)):
            self._chunk(index, chunk)
        self.journal.finish()  # every row is handled: a later run starts from the look-ups again
        return self.result

    # --- one chunk -------------------------------------------------------------------------------
    def _chunk(self, index: int, rows: list[_Row]) -> None:
        state = self.journal.open_chunk(index, _digest(self.identity, [r.fields for r in rows]))
        if state.done:  # an earlier try finished it: carry its outcome, send nothing
            self._carry(state, rows)
            return
        if state.in_flight or state.created:
            log.warning(
                "Resuming chunk %d: %d create(s) of an earlier try had no answer (thirdTraceIds: %s); "
                "looking them up before anything is sent",
                index + 1,
                len(state.in_flight),
                ", ".join(str(t) for t in state.in_flight.values()) or "none",
            )
        matches = self._look_up(rows)
        for row in rows:
            self._row(row, matches.get(row.key, []), state)
        state.done = True
        self.journal.save(state)

    def _carry(self, state: ChunkState, rows: list[_Row]) -> None:
        self.result.created_ids.extend(state.created[r.key] for r in rows if r.key in state.created)
        self.result.updated += state.updated
        self.result.unchanged += state.unchanged
        self.result.refused.extend(state.refused)

    def _look_up(self, rows: list[_Row]) -> dict[str, list[dict[str, Any]]]:
        """The existing records of the chunk's match values, in one query (keyset-paged if it must)."""
        carried = sorted({name for row in rows for name in row.fields} - {self.match_field})
        fields = [ID_FIELD, self.match_field, *carried]
        filters = [(self.match_field, "IN", [row.value for row in rows])]
        wanted = {row.key for row in rows}
        found: dict[str, dict[str, dict[str, Any]]] = {}
        self.result.lookups += 1
        for record in self.records.iter_records(
            self.object_api_name, filters=filters, fields=fields, page_size=PAGE_SIZE
        ):
            key = match_key(record.get(self.match_field))
            if key in wanted:
                found.setdefault(key, {})[str(record.get(ID_FIELD))] = record
        return {key: list(by_id.values()) for key, by_id in found.items()}

    def _row(self, row: _Row, existing: list[dict[str, Any]], state: ChunkState) -> None:
        if len(existing) > 1:
            ids = ", ".join(sorted(str(r.get(ID_FIELD)) for r in existing))
            self._refuse(
                row,
                state,
                f"ambiguous: {len(existing)} records have {self.match_field} = {row.value!r} ({ids}); "
                "none was changed",
            )
        elif existing:
            self._matched(row, existing[0], state)
        elif row.key in state.created:  # the journal saw it created; the look-up does not see it yet
            log.warning(
                "%s: created as %s by an earlier try but not found by the look-up; not created again",
                row.label,
                state.created[row.key],
            )
            self.result.created_ids.append(state.created[row.key])
        else:
            self._create(row, state)

    def _matched(self, row: _Row, record: dict[str, Any], state: ChunkState) -> None:
        record_id = str(record.get(ID_FIELD))
        earlier = row.key in state.in_flight or row.key in state.created
        if row.key in state.in_flight:
            log.warning(
                "%s: the create of an earlier try (thirdTraceId %s) had arrived as %s; not created again",
                row.label,
                state.in_flight[row.key],
                record_id,
            )
        changes = {name: value for name, value in row.fields.items() if record.get(name, _MISSING) != value}
        if changes:
            try:
                self.records.update_record(self.object_api_name, record_id, changes)
            except FxiaokeError as error:
                reason = refusal_reason(error)
                if reason is None:
                    raise
                self._refuse(row, state, reason)
                return
        if earlier:  # it exists because of this upsert: it counts as created, whichever try made it
            state.in_flight.pop(row.key, None)
            state.created[row.key] = record_id
            self.result.created_ids.append(record_id)
        else:
            state.updated += 1
            self.result.updated += 1
            if not changes:
                state.unchanged += 1
                self.result.unchanged += 1
        if earlier:
            self.journal.save(state)

    def _create(self, row: _Row, state: ChunkState) -> None:
        def in_flight(third_trace_id: str) -> None:
            state.in_flight[row.key] = third_trace_id
            self.journal.save(state)

        try:
            record_id = self.records.create_record(self.object_api_name, row.fields, before_send=in_flight)
        except FxiaokeError as error:
            reason = refusal_reason(error)
            if reason is None:
                if isinstance(error, FxiaokeOutcomeUnknownError):
                    state.in_flight[row.key] = error.third_trace_id or state.in_flight.get(row.key)
                    self.journal.save(state)
                raise
            state.in_flight.pop(row.key, None)  # refused: nothing was created
            self._refuse(row, state, reason)
            return
        state.in_flight.pop(row.key, None)
        state.created[row.key] = record_id
        self.journal.save(state)
        self.result.created_ids.append(record_id)

    def _refuse(self, row: _Row, state: ChunkState, reason: str) -> None:
        refused = RefusedRow(row.label, row.value, reason)
        log.warning("Refused %s", refused.describe())
        state.refused.append(refused)
        self.journal.save(state)
        self.result.refused.append(refused)


def check_match_field(match_field: Any) -> str:
    """The match field must name a field; ``_id`` cannot be one (a new record has no id yet)."""
    if not isinstance(match_field, str) or not match_field.strip():
        raise FxiaokeInvalidInputError("match_field", f"must be a non-empty string; got {match_field!r}")
    if match_field in RESERVED_FIELDS:
        raise FxiaokeInvalidInputError(
            "match_field", f"cannot be {match_field!r}: name a field the rows carry, e.g. an external id"
        )
    return match_field
