"""CRM object data: the record store, its query engine, and the CRM endpoints' rules (``rules``).

Records of one object live in one ``ObjectStore``: the seeded ones are generated on demand
(``crm_seed``), edited seeded records and created ones are kept as dicts. Positions follow ``_id``
order (created ids always sort after every existing one), so ``_id`` ranges are bisections and a
keyset page costs O(log n + page). The records a set of filters matches, in the query's order, is
cached until the next write to the object, so paging through 100,000 records scans them once.
"""

from __future__ import annotations

import bisect
import copy
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.sandbox.answers import answer
from fxiaoke_provider.sandbox.crm_query import (
    Filter,
    Query,
    QueryRefused,
    as_number,
    as_text,
    compile_filter,
    parse_query,
    sort_key,
)
from fxiaoke_provider.sandbox.crm_seed import (
    CURRENCY,
    DATE_TIME,
    LIST_TYPES,
    NUMBER,
    OBJECT_REFERENCE,
    PRESET_OBJECTS,
    SELECT_MANY,
    SELECT_ONE,
    TRUE_OR_FALSE,
    Field,
    ObjectDef,
    SeededRecords,
    custom_object,
)
from fxiaoke_provider.sandbox.directory import Directory
from fxiaoke_provider.sandbox.rules import (
    CREATED_ID_FIELD,
    CRM_CREATE,
    CRM_CUSTOM_DATA_PREFIX,
    CRM_DATA_PATHS,
    CRM_DELETE,
    CRM_DESCRIBE_PATH,
    CRM_GET,
    CRM_INVALID,
    CRM_PRESET_DATA_PREFIX,
    CRM_QUERY,
    CRM_UPDATE,
    CURRENT_OPEN_USER_ID_FIELD,
    CUSTOM_OBJECT_SUFFIX,
    DEFAULT_ORDER,
    INVALID_PARAMETER,
    LEGACY_STYLE,
    LIFE_STATUS_INVALID,
    LIFE_STATUS_NORMAL,
    OFFSET_OUT_OF_RANGE,
    OPEN_USER_ID_RE,
    QUERY_OBJECT_FIELD,
    QUERY_OFFSET_MAX,
    READ_ONLY_FIELDS,
    RECORD_ID_RE,
    RECORD_NOT_FOUND,
    RECORD_REFUSED,
    SUCCESS,
)

#: Match lists kept per object (each up to one int per record), dropped on every write.
_CACHE_ENTRIES = 8
_ID_BOUND_OPERATORS = frozenset({"GT", "GTE", "LT", "LTE", "EQ"})


class Refused(Exception):
    """A CRM call the gateway refuses: its errorCode and a message naming the field."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(field: str, rule: str) -> Refused:
    return Refused(INVALID_PARAMETER, f"invalid parameter {field}: {rule}")


def _refused(field: str, rule: str) -> Refused:
    return Refused(RECORD_REFUSED, f"record refused, {field}: {rule}")


class _Ids:
    """The ``_id`` of every position, as a sequence ``bisect`` can search."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def __len__(self) -> int:
        return self._store.size

    def __getitem__(self, position: int) -> str:
        return self._store.id_at(position)


@dataclass
class _Matches:
    """Positions ``positions[start:stop]`` answer the query, in its order."""

    positions: list[int]
    start: int
    stop: int

    @property
    def total(self) -> int:
        return max(0, self.stop - self.start)

    def page(self, offset: int, limit: int) -> list[int]:
        first = self.start + offset
        return self.positions[first : min(self.stop, first + limit)] if first < self.stop else []


class ObjectStore:
    """The records of one object; the caller (``CrmStore``) holds the lock."""

    def __init__(self, definition: ObjectDef, seeded: SeededRecords) -> None:
        self.definition = definition
        self.seeded = seeded
        self.overrides: dict[int, dict[str, Any]] = {}  # edited seeded records, whole
        self.deleted: set[int] = set()  # deleted seeded positions
        self.created: list[dict[str, Any] | None] = []  # None once deleted
        self.created_ids: list[str] = []
        self.by_created_id: dict[str, int] = {}
        self.counts: Counter[str] = Counter()
        self.version = 0
        self._cache: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()

    # --- positions ------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.seeded.count + len(self.created)

    def id_at(self, position: int) -> str:
        seeded = self.seeded.count
        return self.seeded.record_id(position) if position < seeded else self.created_ids[position - seeded]

    def position(self, record_id: object) -> int | None:
        """The position of a live (not deleted) record, or None."""
        if not isinstance(record_id, str):
            return None
        found = self.seeded.position(record_id)
        if found is not None:
            return None if found in self.deleted else found
        found = self.by_created_id.get(record_id)
        if found is None or self.created[found] is None:
            return None
        return self.seeded.count + found

    def alive(self, position: int) -> bool:
        seeded = self.seeded.count
        return (
            position not in self.deleted if position < seeded else self.created[position - seeded] is not None
        )

    def getter(self, name: str) -> Callable[[int], Any]:
        """Field ``name`` of the record at a (live) position; None when the record has no such value."""
        seeded_count = self.seeded.count
        from_seed = self.seeded.getter(name)
        overrides, created = self.overrides, self.created

        def get(position: int) -> Any:
            if position < seeded_count:
                edited = overrides.get(position)
                if edited is not None:
                    return edited.get(name)
                return from_seed(position) if from_seed is not None else None
            record = created[position - seeded_count]
            return record.get(name) if record is not None else None

        return get

    def record(self, position: int, fields: Iterable[str] | None = None) -> dict[str, Any]:
        """The record at a live position, whole or only ``fields`` (``_id`` always), a new dict."""
        wanted = None if fields is None else ["_id", *(name for name in fields if name != "_id")]
        seeded_count = self.seeded.count
        stored = (
            self.overrides.get(position) if position < seeded_count else self.created[position - seeded_count]
        )
        if stored is None:
            return self.seeded.record(position, wanted)
        if wanted is None:
            return dict(stored)
        return {name: stored[name] for name in wanted if name in stored}

    def new_id(self, now_ms: int, sequence: int) -> str:
        """A fresh 24-hex id sorting after every id the object has (ObjectId-like: time first)."""
        candidate = f"{now_ms // 1000:08x}{'5b' * 5}{sequence & 0xFFFFFF:06x}"
        if self.size:
            last = self.id_at(self.size - 1)
            if candidate <= last:
                candidate = f"{int(last, 16) + 1:024x}"
        return candidate

    # --- writes ---------------------------------------------------------------------------------
    def changed(self) -> None:
        self.version += 1
        self._cache.clear()

    def add(self, record: dict[str, Any]) -> None:
        """Append a record whose ``_id`` sorts after every existing one."""
        record_id = record["_id"]
        self.by_created_id[record_id] = len(self.created)
        self.created.append(record)
        self.created_ids.append(record_id)
        self.changed()

    def replace(self, position: int, record: dict[str, Any]) -> None:
        seeded_count = self.seeded.count
        if position < seeded_count:
            self.overrides[position] = record
        else:
            self.created[position - seeded_count] = record
        self.changed()

    def delete(self, position: int) -> None:
        seeded_count = self.seeded.count
        if position < seeded_count:
            self.deleted.add(position)
            self.overrides.pop(position, None)
        else:
            self.created[position - seeded_count] = None
        self.changed()

    # --- reads ----------------------------------------------------------------------------------
    def live_positions(self) -> Iterable[int]:
        deleted, seeded_count = self.deleted, self.seeded.count
        for position in range(seeded_count):
            if position not in deleted:
                yield position
        for index, record in enumerate(self.created):
            if record is not None:
                yield seeded_count + index

    def matches(self, query: Query) -> _Matches:
        """The live positions that answer ``query`` (before offset/limit), in its order."""
        bounds = [f for f in query.filters if f.field == "_id" and f.operator in _ID_BOUND_OPERATORS]
        rest = tuple(f for f in query.filters if f not in bounds)
        orders = query.orders or DEFAULT_ORDER
        include_invalid = any(f.field == "life_status" for f in query.filters)
        ordered = self._ordered(rest, orders, include_invalid)
        if not bounds:
            return _Matches(ordered, 0, len(ordered))
        low, high = self._id_range(bounds)
        first_field, ascending = orders[0]
        if first_field != "_id":
            kept = [position for position in ordered if low <= position < high]
            return _Matches(kept, 0, len(kept))
        if ascending:
            return _Matches(ordered, bisect.bisect_left(ordered, low), bisect.bisect_left(ordered, high))
        start = bisect.bisect_left(ordered, -high + 1, key=lambda p: -p)
        return _Matches(ordered, start, bisect.bisect_right(ordered, -low, key=lambda p: -p))

    def _id_range(self, bounds: list[Filter]) -> tuple[int, int]:
        """Positions ``[low, high)`` whose ``_id`` (as text) satisfies every bound."""
        ids = _Ids(self)
        low, high = 0, self.size
        for flt in bounds:
            value = as_text(flt.values[0])
            if flt.operator in ("GT", "EQ"):
                low = max(
                    low, (bisect.bisect_right if flt.operator == "GT" else bisect.bisect_left)(ids, value)
                )
            if flt.operator == "GTE":
                low = max(low, bisect.bisect_left(ids, value))
            if flt.operator in ("LT", "EQ"):
                high = min(
                    high, (bisect.bisect_left if flt.operator == "LT" else bisect.bisect_right)(ids, value)
                )
            if flt.operator == "LTE":
                high = min(high, bisect.bisect_right(ids, value))
        return low, max(low, high)

    def _ordered(
        self, filters: tuple[Filter, ...], orders: tuple[tuple[str, bool], ...], include_invalid: bool
    ) -> list[int]:
        key = (tuple(f.key() for f in filters), orders, include_invalid)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        tests = [(self.getter(f.field), compile_filter(f, self.definition)) for f in filters]
        life_status = self.getter("life_status")
        found = []
        for position in self.live_positions():
            if not include_invalid and life_status(position) == LIFE_STATUS_INVALID:
                continue
            if all(test(get(position)) for get, test in tests):
                found.append(position)
        for name, ascending in reversed(orders):
            if name == "_id":  # positions are in _id order already
                found.sort(reverse=not ascending)
            else:
                get = self.getter(name)
                found.sort(key=lambda position, get=get: sort_key(get(position)), reverse=not ascending)
        self._cache[key] = found
        if len(self._cache) > _CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return found


class CrmStore:
    """Every object's records, behind one lock; ``reset()`` goes back to the constructor's seed."""

    def __init__(
        self,
        seed: Mapping[str, int] | None,
        *,
        now_ms: Callable[[], int],
        directory: Directory,
        record_bytes: int = 0,
    ) -> None:
        self._initial_seed = dict(seed or {})
        self.record_bytes = record_bytes
        for name in self._initial_seed:
            _definition(name)  # unknown preset names fail loudly at construction
        self._now_ms = now_ms
        self.directory = directory
        self._lock = threading.RLock()
        self.queries = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._objects: dict[str, ObjectStore] = {}
            self._sequence = 0
            self.queries = 0
            for name in PRESET_OBJECTS:
                self._register(name, 0)
            for name, count in self._initial_seed.items():
                self.seed(name, count)

    # --- objects ---------------------------------------------------------------------------------
    def _register(self, name: str, count: int) -> ObjectStore:
        definition = _definition(name)
        seeded = SeededRecords(definition, count, self._seeded, record_bytes=self.record_bytes)
        store = ObjectStore(definition, seeded)
        self._objects[name] = store
        return store

    def _seeded(self, name: str) -> SeededRecords | None:
        store = self._objects.get(name)
        return store.seeded if store is not None else None

    def seed(self, name: str, count: int) -> None:
        """Give ``name`` ``count`` generated records; only an object without records can be seeded."""
        with self._lock:
            existing = self._objects.get(name)
            if existing is not None and existing.size:
                raise ValueError(f"{name} already has records; seed it before anything else")
            self._register(name, count)

    def object(self, name: object) -> ObjectStore | None:
        with self._lock:
            return self._objects.get(name) if isinstance(name, str) else None

    def _store(self, name: str) -> ObjectStore:
        store = self._objects.get(name)
        if store is None:
            if not name.endswith(CUSTOM_OBJECT_SUFFIX):
                raise ValueError(f"unknown object {name!r}")
            store = self._register(name, 0)
        return store

    def definitions(self) -> list[ObjectDef]:
        with self._lock:
            return [store.definition for store in self._objects.values()]

    # --- test helpers (no gateway rules: a test's setup is trusted) ------------------------------
    def put(self, name: str, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """Add records as given: ``_id`` is assigned, times default to now, owner to ``1000``."""
        with self._lock:
            store = self._store(name)
            ids = []
            for given in records:
                if "_id" in given:
                    raise ValueError("put_records assigns _id itself; leave it out")
                now = self._now_ms()
                self._sequence += 1
                record = {
                    "_id": store.new_id(now, self._sequence),
                    "owner": [self.directory.people[0].employee_id] if self.directory.people else [],
                    "life_status": LIFE_STATUS_NORMAL,
                    "create_time": now,
                    "last_modified_time": now,
                    **copy.deepcopy(dict(given)),
                }
                store.add(record)
                ids.append(record["_id"])
            return ids

    def records(self, name: str, *, include_invalid: bool = True) -> list[dict[str, Any]]:
        with self._lock:
            store = self._store(name)
            found = [store.record(position) for position in store.live_positions()]
        if not include_invalid:
            found = [record for record in found if record.get("life_status") != LIFE_STATUS_INVALID]
        return copy.deepcopy(found)

    def record(self, name: str, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            store = self._store(name)
            position = store.position(record_id)
            return None if position is None else copy.deepcopy(store.record(position))

    def edit(
        self, name: str, record_id: str, fields: Mapping[str, Any], *, modified_at_ms: int | None = None
    ) -> dict[str, Any]:
        """Change fields as given (any field, no checks) and move ``last_modified_time`` on."""
        with self._lock:
            store = self._store(name)
            position = store.position(record_id)
            if position is None:
                raise KeyError(f"{name} has no record {record_id!r}")
            if "_id" in fields:
                raise ValueError("_id cannot be edited")
            record = store.record(position)
            stamp = self._bumped(record) if modified_at_ms is None else modified_at_ms
            record.update(copy.deepcopy(dict(fields)), last_modified_time=stamp)
            store.replace(position, record)
            store.counts["edited"] += 1
            return copy.deepcopy(record)

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            summary = {}
            for name, store in self._objects.items():
                stored = [*store.overrides.values(), *(r for r in store.created if r is not None)]
                summary[name] = {
                    "records": store.size - len(store.deleted) - store.created.count(None),
                    "seeded": store.seeded.count,
                    "invalid": sum(1 for r in stored if r.get("life_status") == LIFE_STATUS_INVALID),
                    **{
                        what: store.counts[what]
                        for what in ("created", "updated", "invalidated", "deleted", "edited", "queries")
                    },
                }
            return summary

    def _bumped(self, record: Mapping[str, Any]) -> int:
        previous = record.get("last_modified_time")
        now = self._now_ms()
        return max(now, previous + 1) if isinstance(previous, int) else now

    # --- the gateway's endpoints -----------------------------------------------------------------
    def handle(
        self, path: str, body: Mapping[str, Any], *, style: str, user_id: str | None, trace_id: str
    ) -> tuple[dict[str, Any], bool]:
        """The answer to one authenticated CRM call, and whether it changed a record."""
        try:
            acting = self._acting_user(body, style, user_id)
            if path == CRM_DESCRIBE_PATH:
                return answer(SUCCESS, trace_id, data={"describe": self._describe(body)}), False
            if path not in CRM_DATA_PATHS:  # the object list
                objects = [
                    {"apiName": d.api_name, "displayName": d.display_name, "isCustom": d.is_custom}
                    for d in self.definitions()
                ]
                return answer(SUCCESS, trace_id, data={"objects": objects}), False
            action, custom_path = CRM_DATA_PATHS[path]
            data = body.get("data")
            if not isinstance(data, dict):
                raise _invalid("data", "required, an object")
            with self._lock:
                return self._data_call(action, custom_path, data, acting, trace_id)
        except Refused as refusal:
            return answer(refusal.code, trace_id, refusal.message), False

    def _acting_user(self, body: Mapping[str, Any], style: str, user_id: str | None) -> str:
        """Who acts: the header's employee id, or in legacy style the body's FSUID_ open id."""
        if style != LEGACY_STYLE:
            assert user_id is not None  # the engine checked x-fs-userid
            return user_id
        value = body.get(CURRENT_OPEN_USER_ID_FIELD)
        if not isinstance(value, str) or OPEN_USER_ID_RE.fullmatch(value) is None:
            raise _invalid(
                CURRENT_OPEN_USER_ID_FIELD, "required on CRM calls in legacy style, an FSUID_ open id"
            )
        person = self.directory.person(value)
        return person.employee_id if person is not None else value

    def _describe(self, body: Mapping[str, Any]) -> dict[str, Any]:
        data = body.get("data")
        name = data.get("apiName") if isinstance(data, dict) else None
        if name is None:
            name = body.get("apiName")
        store = self.object(name)
        if store is None:
            raise _invalid("apiName", "required, the api name of an object of this tenant")
        return store.definition.describe()

    def _data_call(
        self, action: str, custom_path: bool, data: dict[str, Any], acting: str, trace_id: str
    ) -> tuple[dict[str, Any], bool]:
        holder = data.get("object_data") if action in (CRM_CREATE, CRM_UPDATE) else data
        where = "data.object_data" if action in (CRM_CREATE, CRM_UPDATE) else "data"
        if not isinstance(holder, dict):
            raise _invalid(where, "required, an object")
        store = self._object_for(holder.get(QUERY_OBJECT_FIELD), f"{where}.{QUERY_OBJECT_FIELD}", custom_path)
        if action == CRM_QUERY:
            return self._query(store, data, trace_id), False
        if action == CRM_GET:
            record_id = data.get("objectDataId", data.get("object_data_id"))
            return answer(
                SUCCESS, trace_id, data=store.record(self._find(store, record_id, "data.objectDataId"))
            ), False
        if action == CRM_CREATE:
            details = data.get("details")
            if details is not None and not isinstance(details, dict):
                raise _invalid("data.details", "must be an object")
            return answer(SUCCESS, trace_id, **{CREATED_ID_FIELD: self._create(store, holder, acting)}), True
        if action == CRM_UPDATE:
            self._update(store, holder)
        elif action == CRM_INVALID:
            self._invalidate(store, data.get("object_data_id"))
        else:
            assert action == CRM_DELETE
            self._delete(store, data.get("idList"))
        return answer(SUCCESS, trace_id), True

    def _object_for(self, name: object, where: str, custom_path: bool) -> ObjectStore:
        if not isinstance(name, str) or not name:
            raise _invalid(where, "required, an object api name")
        is_custom = name.endswith(CUSTOM_OBJECT_SUFFIX)
        if is_custom and not custom_path:
            raise _invalid(where, f"{name} is a custom object: use {CRM_CUSTOM_DATA_PREFIX}...")
        if custom_path and not is_custom:
            raise _invalid(where, f"{name} is not a custom object: use {CRM_PRESET_DATA_PREFIX}...")
        store = self._objects.get(name)
        if store is None:
            raise _invalid(where, f"no object {name} in this tenant")
        return store

    def _find(self, store: ObjectStore, record_id: object, where: str) -> int:
        if not isinstance(record_id, str) or not record_id:
            raise _invalid(where, "required, a record _id")
        position = store.position(record_id)
        if position is None:
            raise Refused(RECORD_NOT_FOUND, f"no record {record_id} in {store.definition.api_name} ({where})")
        return position

    def _query(self, store: ObjectStore, data: dict[str, Any], trace_id: str) -> dict[str, Any]:
        try:
            query = parse_query(data, store.definition)
        except QueryRefused as refusal:
            raise Refused(INVALID_PARAMETER, str(refusal)) from None
        if query.offset > QUERY_OFFSET_MAX:
            raise Refused(OFFSET_OUT_OF_RANGE, f"offset out of range {QUERY_OFFSET_MAX}")
        store.counts["queries"] += 1
        self.queries += 1
        matches = store.matches(query)
        page = [
            store.record(position, query.projection) for position in matches.page(query.offset, query.limit)
        ]
        result = {
            "dataList": page,
            "offset": query.offset,
            "limit": query.limit,
            "total": matches.total if query.with_total else 0,
        }
        return answer(SUCCESS, trace_id, data=result)

    # --- writes ----------------------------------------------------------------------------------
    def _create(self, store: ObjectStore, given: dict[str, Any], acting: str) -> str:
        fields = _checked_fields(store.definition, given, where="data.object_data", creating=True)
        now = self._now_ms()
        self._sequence += 1
        record = {
            "_id": store.new_id(now, self._sequence),
            "owner": [acting],
            **fields,
            "create_time": now,
            "last_modified_time": now,
            "life_status": LIFE_STATUS_NORMAL,
        }
        store.add(record)
        store.counts["created"] += 1
        return record["_id"]

    def _update(self, store: ObjectStore, given: dict[str, Any]) -> None:
        position = self._find(store, given.get("_id"), "data.object_data._id")
        record = store.record(position)
        if record.get("life_status") == LIFE_STATUS_INVALID:
            raise _refused("data.object_data._id", "the record is invalidated; it cannot be updated")
        changes = _checked_fields(
            store.definition,
            {k: v for k, v in given.items() if k != "_id"},
            where="data.object_data",
            creating=False,
        )
        record.update(changes, last_modified_time=self._bumped(record))
        store.replace(position, record)
        store.counts["updated"] += 1

    def _invalidate(self, store: ObjectStore, record_id: object) -> None:
        position = self._find(store, record_id, "data.object_data_id")
        record = store.record(position)
        if record.get("life_status") == LIFE_STATUS_INVALID:
            return  # invalidating twice changes nothing [sandbox]
        record.update(life_status=LIFE_STATUS_INVALID, last_modified_time=self._bumped(record))
        store.replace(position, record)
        store.counts["invalidated"] += 1

    def _delete(self, store: ObjectStore, ids: object) -> None:
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise _invalid("data.idList", "required, a non-empty list of record ids")
        positions = []
        for index, record_id in enumerate(ids):
            position = self._find(store, record_id, f"data.idList[{index}]")
            if store.getter("life_status")(position) != LIFE_STATUS_INVALID:
                raise _refused(f"data.idList[{index}]", "invalidate a record before deleting it")
            positions.append(position)
        for position in set(positions):
            store.delete(position)
            store.counts["deleted"] += 1


def _definition(name: str) -> ObjectDef:
    if name in PRESET_OBJECTS:
        return PRESET_OBJECTS[name]
    if isinstance(name, str) and name.endswith(CUSTOM_OBJECT_SUFFIX):
        return custom_object(name)
    raise ValueError(
        f"unknown CRM object {name!r}: one of {', '.join(PRESET_OBJECTS)} or a custom object ending in __c"
    )


def _checked_fields(
    definition: ObjectDef, given: Mapping[str, Any], *, where: str, creating: bool
) -> dict[str, Any]:
    """The fields to store (numeric strings read as numbers); refuses the first bad one, naming it."""
    fields: dict[str, Any] = {}
    for name, value in given.items():
        if name == QUERY_OBJECT_FIELD:
            continue
        if name in READ_ONLY_FIELDS:
            raise _refused(f"{where}.{name}", "kept by the gateway, not writable")
        described = definition.fields.get(name)
        fields[name] = value if described is None else _checked_value(described, value, f"{where}.{name}")
    name = fields.get("name")
    if (creating or "name" in fields) and (not isinstance(name, str) or not name.strip()):
        raise _refused(f"{where}.name", "required, a non-empty text")
    for described in definition.fields.values():
        if creating and described.required and described.api_name not in fields:
            raise _refused(f"{where}.{described.api_name}", "required")
    return fields


def _checked_value(described: Field, value: Any, where: str) -> Any:
    if value is None:
        if described.required:
            raise _refused(where, "required")
        return None
    kind = described.type
    if kind in (NUMBER, CURRENCY):
        number = as_number(value)
        if number is None:
            raise _refused(where, f"a {kind} field takes a number")
        if isinstance(value, str):
            return int(number) if number.is_integer() and value.strip().lstrip("-").isdigit() else number
        return value
    if kind == DATE_TIME:
        number = as_number(value)
        if number is None or not number.is_integer() or number < 0:
            raise _refused(where, "a date_time field takes epoch milliseconds (an int)")
        return int(number)
    if kind == SELECT_ONE:
        if value not in described.options:
            raise _refused(where, f"must be one of {', '.join(described.options)}")
        return value
    if kind in LIST_TYPES:
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise _refused(where, f"a {kind} field takes a list of texts")
        if kind == SELECT_MANY and any(item not in described.options for item in value):
            raise _refused(where, f"every item must be one of {', '.join(described.options)}")
        return list(value)
    if kind == TRUE_OR_FALSE:
        if not isinstance(value, bool):
            raise _refused(where, "true or false")
        return value
    if kind == OBJECT_REFERENCE:
        if not isinstance(value, str) or RECORD_ID_RE.fullmatch(value) is None:
            raise _refused(where, "the _id of a record (24 hex digits)")
        return value
    if not isinstance(value, str):  # text, long_text
        raise _refused(where, f"a {kind} field takes text")
    return value


__all__ = ["CrmStore", "ObjectStore", "Refused"]
