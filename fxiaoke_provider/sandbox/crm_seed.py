"""The sandbox tenant's CRM objects (their describes) and the generated records it is seeded with.

Seeded records are never stored: record ``i`` of an object is a pure function of the object's api
name, ``i`` and the seed count, so 100,000 seeded records cost no memory until one is edited, and
a filter reads only the fields it names. ``_id`` rises with ``i`` (its first 8 hex digits are the
create time in seconds, like the gateway's ObjectId-style ids), so ``_id`` order is position order
and a keyset ``_id GT x`` query is a bisection, not a scan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from fxiaoke_provider.sandbox.directory import DEFAULT_PEOPLE
from fxiaoke_provider.sandbox.rules import CUSTOM_OBJECT_SUFFIX, LIFE_STATUS_INVALID, LIFE_STATUS_NORMAL

#: Seeded create times are spread evenly over 2025 (UTC), in epoch milliseconds.
SEED_START_MS: Final = 1_735_689_600_000  # 2025-01-01T00:00:00Z
SEED_SPAN_MS: Final = 365 * 86_400_000
#: A seeded record was last modified up to this long after it was created.
SEED_MODIFIED_AFTER_MAX_MS: Final = 60 * 86_400_000
#: At most this many generated records per object (the low 6 hex digits of a seeded ``_id``).
SEED_MAX: Final = 0xFFFFFF
_M64: Final = (1 << 64) - 1

# --- describes ---------------------------------------------------------------------------------------
TEXT, LONG_TEXT, NUMBER, CURRENCY, DATE_TIME = "text", "long_text", "number", "currency", "date_time"
SELECT_ONE, SELECT_MANY, EMPLOYEE, OBJECT_REFERENCE = (
    "select_one",
    "select_many",
    "employee",
    "object_reference",
)
TRUE_OR_FALSE = "true_or_false"
#: Types whose values compare as numbers.
NUMERIC_TYPES: Final = frozenset({NUMBER, CURRENCY, DATE_TIME})
#: Types whose values are lists.
LIST_TYPES: Final = frozenset({SELECT_MANY, EMPLOYEE})


@dataclass(frozen=True)
class Field:
    """One field of a describe: api name, label, type, whether a create needs it, select options."""

    api_name: str
    label: str
    type: str
    required: bool = False
    options: tuple[str, ...] = ()
    #: For generated values: ``None`` means the field is left out of seeded records.
    generate: Callable[[int, int], Any] | None = field(default=None, compare=False, repr=False)
    #: ``object_reference`` fields: the object they point at.
    target: str | None = None

    def as_describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "api_name": self.api_name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
        }
        if self.options:
            described["options"] = [{"value": value, "label": value} for value in self.options]
        if self.target:
            described["target_api_name"] = self.target
        return described


@dataclass(frozen=True)
class ObjectDef:
    """A CRM object: api name, display name, fields by api name (system fields first)."""

    api_name: str
    display_name: str
    fields: Mapping[str, Field]
    #: Word that seeded names are made of (``"North Account 17"``).
    noun: str

    @property
    def is_custom(self) -> bool:
        return self.api_name.endswith(CUSTOM_OBJECT_SUFFIX)

    def describe(self) -> dict[str, Any]:
        return {
            "apiName": self.api_name,
            "displayName": self.display_name,
            "isCustom": self.is_custom,
            "fields": {name: definition.as_describe() for name, definition in self.fields.items()},
        }


def _pick(options: tuple[str, ...]) -> Callable[[int, int], Any]:
    return lambda _i, h: options[h % len(options)]


def _amount(top: int) -> Callable[[int, int], Any]:
    return lambda _i, h: round((h % (top * 100)) / 100, 2)


def _date(_i: int, h: int) -> int:
    return SEED_START_MS + h % SEED_SPAN_MS


def _mobile(_i: int, h: int) -> str:
    return f"139{h % 100_000_000:08d}"


_OWNERS: Final = tuple(person.employee_id for person in DEFAULT_PEOPLE)
_FILLER: Final = "Seeded by the sandbox to give the record its size. " * 4
_WORDS: Final = ("North", "South", "East", "West", "Blue", "Green", "Red", "Silver")
LIFE_STATUSES: Final = (LIFE_STATUS_NORMAL, "ineffective", "under_review", "in_change", LIFE_STATUS_INVALID)


def _system_fields() -> list[Field]:
    return [
        Field("_id", "ID", TEXT),
        Field("name", "Name", TEXT, required=True),
        Field("owner", "Owner", EMPLOYEE),
        Field("create_time", "Created at", DATE_TIME),
        Field("last_modified_time", "Last modified at", DATE_TIME),
        Field("life_status", "Life status", SELECT_ONE, options=LIFE_STATUSES),
    ]


def _object(api_name: str, display_name: str, noun: str, extra: Iterable[Field]) -> ObjectDef:
    fields = {f.api_name: f for f in [*_system_fields(), *extra]}
    return ObjectDef(api_name, display_name, fields, noun)


PRESET_OBJECTS: Final[dict[str, ObjectDef]] = {
    definition.api_name: definition
    for definition in (
        _object(
            "AccountObj",
            "Account",
            "Account",
            [
                Field(
                    "account_level",
                    "Level",
                    SELECT_ONE,
                    options=("A", "B", "C"),
                    generate=_pick(("A", "B", "C")),
                ),
                Field(
                    "industry",
                    "Industry",
                    SELECT_ONE,
                    options=("retail", "manufacturing", "services", "public"),
                    generate=_pick(("retail", "manufacturing", "services", "public")),
                ),
                Field("tel", "Phone", TEXT, generate=_mobile),
                Field("annual_revenue", "Annual revenue", CURRENCY, generate=_amount(5_000_000)),
                Field("remark", "Remark", LONG_TEXT),
            ],
        ),
        _object(
            "ContactObj",
            "Contact",
            "Contact",
            [
                Field("account_id", "Account", OBJECT_REFERENCE, target="AccountObj"),
                Field("mobile", "Mobile", TEXT, generate=_mobile),
                Field("email", "Email", TEXT, generate=lambda i, _h: f"contact{i + 1}@example.invalid"),
                Field(
                    "job_title",
                    "Job title",
                    TEXT,
                    generate=_pick(("buyer", "manager", "director", "engineer")),
                ),
                Field("remark", "Remark", LONG_TEXT),
            ],
        ),
        _object(
            "LeadsObj",
            "Lead",
            "Lead",
            [
                Field("company", "Company", TEXT, generate=lambda i, h: f"{_WORDS[h % 8]} Company {i + 1}"),
                Field("mobile", "Mobile", TEXT, generate=_mobile),
                Field(
                    "source",
                    "Source",
                    SELECT_ONE,
                    options=("web", "ads", "event", "referral"),
                    generate=_pick(("web", "ads", "event", "referral")),
                ),
                Field(
                    "leads_status",
                    "Lead status",
                    SELECT_ONE,
                    options=("new", "contacted", "qualified", "closed"),
                    generate=_pick(("new", "contacted", "qualified", "closed")),
                ),
                Field("tags", "Tags", SELECT_MANY, options=("hot", "cold", "vip", "partner")),
                Field("remark", "Remark", LONG_TEXT),
            ],
        ),
        _object(
            "OpportunityObj",
            "Opportunity",
            "Opportunity",
            [
                Field("account_id", "Account", OBJECT_REFERENCE, target="AccountObj"),
                Field("amount", "Amount", CURRENCY, generate=_amount(1_000_000)),
                Field(
                    "sales_stage",
                    "Sales stage",
                    SELECT_ONE,
                    options=("prospect", "proposal", "negotiation", "won", "lost"),
                    generate=_pick(("prospect", "proposal", "negotiation", "won", "lost")),
                ),
                Field("probability", "Probability", NUMBER, generate=lambda _i, h: h % 101),
                Field("close_date", "Close date", DATE_TIME, generate=_date),
                Field("remark", "Remark", LONG_TEXT),
            ],
        ),
        _object(
            "ContractObj",
            "Contract",
            "Contract",
            [
                Field("account_id", "Account", OBJECT_REFERENCE, target="AccountObj"),
                Field("amount", "Amount", CURRENCY, generate=_amount(2_000_000)),
                Field(
                    "contract_status",
                    "Contract status",
                    SELECT_ONE,
                    options=("draft", "approved", "signed", "expired"),
                    generate=_pick(("draft", "approved", "signed", "expired")),
                ),
                Field("start_date", "Start date", DATE_TIME, generate=_date),
                Field("end_date", "End date", DATE_TIME),
                Field("remark", "Remark", LONG_TEXT),
            ],
        ),
    )
}


def custom_object(api_name: str) -> ObjectDef:
    """The describe every custom object (``..__c``) of the sandbox has."""
    if not api_name.endswith(CUSTOM_OBJECT_SUFFIX) or len(api_name) <= len(CUSTOM_OBJECT_SUFFIX):
        raise ValueError(f"a custom object's api name ends in {CUSTOM_OBJECT_SUFFIX}; got {api_name!r}")
    noun = api_name[: -len(CUSTOM_OBJECT_SUFFIX)].replace("_", " ").strip().title() or "Record"
    return _object(
        api_name,
        noun,
        noun,
        [
            Field("amount__c", "Amount", NUMBER, generate=_amount(100_000)),
            Field(
                "status__c",
                "Status",
                SELECT_ONE,
                options=("open", "closed"),
                generate=_pick(("open", "closed")),
            ),
            Field("due_date__c", "Due date", DATE_TIME, generate=_date),
            Field("remark__c", "Remark", LONG_TEXT),
        ],
    )


def object_def(api_name: str) -> ObjectDef | None:
    """The describe of a preset object, or of any custom one; None for an unknown preset name."""
    if api_name in PRESET_OBJECTS:
        return PRESET_OBJECTS[api_name]
    if api_name.endswith(CUSTOM_OBJECT_SUFFIX) and len(api_name) > len(CUSTOM_OBJECT_SUFFIX):
        return custom_object(api_name)
    return None


# --- generation --------------------------------------------------------------------------------------
def mix(i: int, salt: int) -> int:
    """A well-spread 64-bit hash of (i, salt): the sandbox's seeded random numbers (splitmix64)."""
    x = (i * 0x9E3779B97F4A7C15 + salt) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _salt(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")


class SeededRecords:
    """``count`` generated records of one object; any field of any record on demand, nothing stored.

    ``references`` gives, for an ``object_reference`` target, how many records it has (seeded), so
    a reference points at a record that exists.
    """

    def __init__(
        self,
        definition: ObjectDef,
        count: int,
        references: Callable[[str], SeededRecords | None],
        *,
        record_bytes: int = 0,
    ) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= SEED_MAX:
            raise ValueError(f"seed count for {definition.api_name} must be an int from 0 to {SEED_MAX}")
        self.definition = definition
        self.count = count
        self._references = references
        self._tag = hashlib.sha256(definition.api_name.encode()).hexdigest()[:10]
        self._salts = {name: _salt(definition.api_name, name) for name in definition.fields}
        self._step_ms = SEED_SPAN_MS // max(count, 1)
        self._getters: dict[str, Callable[[int], Any]] = {
            "_id": self.record_id,
            "name": self._name,
            "owner": lambda i: [_OWNERS[mix(i, self._salts["owner"]) % len(_OWNERS)]],
            "create_time": self._created,
            "last_modified_time": self._modified,
            "life_status": lambda _i: LIFE_STATUS_NORMAL,
        }
        for name, definition_field in definition.fields.items():
            if name in self._getters:
                continue
            if definition_field.type == OBJECT_REFERENCE and definition_field.target:
                self._getters[name] = self._reference_getter(name, definition_field.target)
            elif definition_field.generate is not None:
                self._getters[name] = self._generated_getter(name, definition_field.generate)
        if isinstance(record_bytes, bool) or not isinstance(record_bytes, int) or record_bytes < 0:
            raise ValueError("record_bytes must be an int from 0")
        filler = next((f.api_name for f in definition.fields.values() if f.type == LONG_TEXT), None)
        if record_bytes and filler is not None:
            # the first long text field makes each record about record_bytes long as JSON
            bare = len(json.dumps(self.record(0), ensure_ascii=False)) + len(f', "{filler}": ""')
            self._getters[filler] = self._filler(max(0, record_bytes - bare))

    def _filler(self, size: int) -> Callable[[int], str]:
        text = _FILLER * (size // len(_FILLER) + 2)
        return lambda i: text[i % len(_FILLER) : i % len(_FILLER) + size]

    def _generated_getter(self, name: str, generate: Callable[[int, int], Any]) -> Callable[[int], Any]:
        salt = self._salts[name]
        return lambda i: generate(i, mix(i, salt))

    def _reference_getter(self, name: str, target: str) -> Callable[[int], Any]:
        salt = self._salts[name]

        def get(i: int) -> Any:
            seeded = self._references(target)
            if seeded is None or seeded.count == 0:
                return None
            return seeded.record_id(mix(i, salt) % seeded.count)

        return get

    def _created(self, i: int) -> int:
        return SEED_START_MS + i * self._step_ms + mix(i, 1) % max(self._step_ms, 1)

    def _modified(self, i: int) -> int:
        return self._created(i) + mix(i, self._salts["last_modified_time"]) % SEED_MODIFIED_AFTER_MAX_MS

    def _name(self, i: int) -> str:
        return f"{_WORDS[mix(i, self._salts['name']) % len(_WORDS)]} {self.definition.noun} {i + 1}"

    def record_id(self, i: int) -> str:
        """24 hex digits: create time in seconds, a tag of the object, then ``i``: rising with ``i``."""
        return f"{self._created(i) // 1000:08x}{self._tag}{i:06x}"

    def position(self, record_id: str) -> int | None:
        """The ``i`` of a seeded ``_id``, or None if no seeded record has it."""
        if len(record_id) != 24:
            return None
        try:
            i = int(record_id[18:], 16)
        except ValueError:
            return None
        return i if i < self.count and self.record_id(i) == record_id else None

    def getter(self, name: str) -> Callable[[int], Any] | None:
        """How to read field ``name`` of record ``i``; None for a field seeded records leave out."""
        return self._getters.get(name)

    def record(self, i: int, fields: Iterable[str] | None = None) -> dict[str, Any]:
        """Record ``i`` as a new dict: every generated field, or only ``fields``."""
        names = self._getters if fields is None else fields
        record = {}
        for name in names:
            get = self._getters.get(name)
            if get is not None:
                record[name] = get(i)
        return record
