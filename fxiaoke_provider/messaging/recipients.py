"""Recipients by what people know about each other: mobile numbers and departments.

The address book answers open user ids (``FSUID_...``); this module checks mobiles and department
ids locally (so bad input is refused before any request), reads the address book's answers, and
merges what it found with ``to_users`` so that each id goes out once, in requests of its own kind.

An employee id in ``to_users`` and the open id of the same person cannot be matched: the address
book's answers carry open ids only. Open ids are de-duplicated among themselves, employee ids among
themselves; name a person by one kind only (open ids when combining with mobiles or departments).
No I/O here: the hook passes its own lookups in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.exceptions import FxiaokeInvalidInputError, FxiaokeProtocolError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.messaging import bodies as messages
from fxiaoke_provider.messaging import wire

log = logging.getLogger(__name__)

#: The reference says nothing about the format; this refuses only what is obviously not a number
#: (letters, other punctuation, fewer than 6 or more than E.164's 15 digits). Spaces and dashes are
#: dropped; otherwise the address book is asked with the text given, so use the form it holds
#: (e.g. 11 digits without a country code).
MOBILE_RE = re.compile(r"\+?[0-9]{6,15}")
MOBILE_RULE = (
    "must be a mobile number: 6 to 15 digits, optionally after a leading + (spaces and dashes are ignored)"
)
DEPARTMENT_RULE = "must be a department id (a whole number >= 0)"


def check_mobile(value: object, field: str = "mobile") -> str:
    """One mobile number without spaces and dashes; integers are accepted as spreadsheets hold them."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    compact = value.replace(" ", "").replace("-", "") if isinstance(value, str) else None
    if compact is None or MOBILE_RE.fullmatch(compact) is None:
        raise FxiaokeInvalidInputError(field, f"{MOBILE_RULE}; got {value!r}")
    return compact


def check_department_id(value: object, field: str = "department_id") -> int:
    """A department id as the address book wants it (a number); digit strings come from templates."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FxiaokeInvalidInputError(field, f"{DEPARTMENT_RULE}; got {value!r}")
    return value


def _items(value: object, field: str, what: str) -> Sequence[Any]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise FxiaokeInvalidInputError(field, f"must be a list of {what}; got {type(value).__name__}")
    return value


def check_mobiles(value: object, field: str = "to_mobiles") -> list[str]:
    """Mobile numbers, each checked and kept once (order kept); None means none."""
    items = _items(value, field, "mobile numbers")
    return list(dict.fromkeys(check_mobile(item, f"{field}[{i}]") for i, item in enumerate(items)))


def check_department_ids(value: object, field: str = "to_departments") -> list[int]:
    """Department ids, each checked and kept once (order kept); None means none."""
    items = _items(value, field, "department ids")
    return list(dict.fromkeys(check_department_id(item, f"{field}[{i}]") for i, item in enumerate(items)))


@dataclass(frozen=True)
class WantedRecipients:
    """Recipients as given, checked locally: ``to_users`` ids, mobiles and department ids, each once."""

    users: list[str]
    dropped_users: int
    mobiles: list[str]
    department_ids: list[int]
    #: The original positions, for errors that name the item a user wrote.
    mobile_fields: dict[str, str]
    department_fields: dict[int, str]


def check_recipient_kinds(
    to_users: object, to_mobiles: object = None, to_departments: object = None
) -> WantedRecipients:
    """Every local rule of the three recipient kinds; at least one recipient overall.

    Without mobiles and departments, ``to_users`` alone must hold at least one id (as before).
    """
    mobiles_given = _items(to_mobiles, "to_mobiles", "mobile numbers")
    departments_given = _items(to_departments, "to_departments", "department ids")
    mobiles = check_mobiles(mobiles_given)
    department_ids = check_department_ids(departments_given)
    if mobiles or department_ids:
        users, dropped = messages.dedupe_recipients(to_users) if to_users else ([], 0)
    else:
        users, dropped = messages.dedupe_recipients(to_users)
    mobile_fields: dict[str, str] = {}
    for i, item in enumerate(mobiles_given):
        mobile_fields.setdefault(check_mobile(item), f"to_mobiles[{i}]")
    department_fields: dict[int, str] = {}
    for i, item in enumerate(departments_given):
        department_fields.setdefault(check_department_id(item), f"to_departments[{i}]")
    return WantedRecipients(users, dropped, mobiles, department_ids, mobile_fields, department_fields)


# --- answers ------------------------------------------------------------------------------------
def _entries(answer: Mapping[str, Any], key: str, path: str) -> list[dict[str, Any]]:
    entries = answer.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        trace_id = answer.get(protocol.TRACE_ID_FIELD)
        raise FxiaokeProtocolError(f"answer's {key!r} is not a list of objects", path=path, trace_id=trace_id)
    return entries


def open_user_id(entry: Mapping[str, Any], path: str) -> str:
    """The ``openUserId`` of an address-book entry; anything else is a broken answer."""
    value = entry.get(wire.OPEN_USER_ID_FIELD)
    if not isinstance(value, str) or not messages.is_open_user_id(value):
        raise FxiaokeProtocolError(
            f"an employee in the answer lacks an {wire.OPEN_USER_ID_FIELD} "
            f"({protocol.OPEN_USER_ID_PREFIX}...)",
            path=path,
        )
    return value


def employees_by_mobile(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _entries(answer, wire.EMPLOYEE_LIST_FIELD, wire.USER_BY_MOBILE_PATH)


def department_users(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _entries(answer, wire.USER_LIST_FIELD, wire.USER_SIMPLE_LIST_PATH)


def departments(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    return _entries(answer, wire.DEPARTMENTS_FIELD, wire.DEPARTMENT_LIST_PATH)


# --- resolution ---------------------------------------------------------------------------------
class AddressBook:
    """Open ids of mobiles and departments, each asked once per hook (so once per task).

    ``user_by_mobile(mobile)`` answers the employee entry or None; ``department_users(id,
    fetch_child)`` answers the entries of a department. Both are the hook's own helpers.
    """

    def __init__(
        self,
        user_by_mobile: Callable[[str], dict[str, Any] | None],
        department_users: Callable[[int, bool], list[dict[str, Any]]],
    ) -> None:
        self._user_by_mobile = user_by_mobile
        self._department_users = department_users
        self._by_mobile: dict[str, str] = {}
        self._members: dict[tuple[int, bool], tuple[str, ...]] = {}

    def open_id_of_mobile(self, mobile: str, field: str = "mobile") -> str:
        if mobile not in self._by_mobile:
            employee = self._user_by_mobile(mobile)
            if employee is None:
                rule = f"no employee has mobile {mobile!r} in the address book"
                raise FxiaokeInvalidInputError(field, rule)
            self._by_mobile[mobile] = open_user_id(employee, wire.USER_BY_MOBILE_PATH)
        return self._by_mobile[mobile]

    def members(self, department_id: int, fetch_child: bool, field: str = "department_id") -> tuple[str, ...]:
        key = (department_id, fetch_child)
        if key not in self._members:
            users = self._department_users(department_id, fetch_child)
            ids = tuple(dict.fromkeys(open_user_id(user, wire.USER_SIMPLE_LIST_PATH) for user in users))
            if not ids:
                scope = "or its sub-departments " if fetch_child else ""
                raise FxiaokeInvalidInputError(
                    field, f"department {department_id} {scope}has no members in the address book"
                )
            self._members[key] = ids
        return self._members[key]

    def resolve(self, wanted: WantedRecipients, include_sub_departments: bool = True) -> list[str]:
        """Open ids of every mobile, then of every department's members, each once; raises on the first
        mobile nobody has or department without members (before any message goes out)."""
        found: dict[str, None] = {}
        for mobile in wanted.mobiles:
            found.setdefault(self.open_id_of_mobile(mobile, wanted.mobile_fields.get(mobile, "to_mobiles")))
        for department_id in wanted.department_ids:
            field = wanted.department_fields.get(department_id, "to_departments")
            for open_id in self.members(department_id, include_sub_departments, field):
                found.setdefault(open_id)
        return list(found)


def merge_groups(
    user_groups: Sequence[messages.RecipientGroup], open_ids: Sequence[str], auth_style: str
) -> list[messages.RecipientGroup]:
    """``to_users``' groups plus the looked-up open ids, each open id once across both.

    Open ids go with ``convertUserId`` in header style and as they are in legacy style.
    """
    groups = [group for group in user_groups if group.ids]
    if not open_ids:
        return groups
    for i, group in enumerate(groups):
        if group.convert_user_id or auth_style == protocol.LEGACY_STYLE:  # the group of open ids
            merged = tuple(dict.fromkeys([*group.ids, *open_ids]))
            groups[i] = messages.RecipientGroup(merged, group.convert_user_id)
            break
    else:
        convert = auth_style != protocol.LEGACY_STYLE
        groups.append(messages.RecipientGroup(tuple(dict.fromkeys(open_ids)), convert_user_id=convert))
    if any(not (group.convert_user_id or auth_style == protocol.LEGACY_STYLE) for group in groups):
        log.info(
            "Sending to CRM employee ids and to open ids from the address book in separate requests; "
            "a person named both ways gets the message twice (the two kinds cannot be matched)"
        )
    return groups
