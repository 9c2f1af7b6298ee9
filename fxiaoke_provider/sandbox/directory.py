"""The sandbox tenant's address book: people (employee id AND open id AND mobile) and departments.

The sandbox knows, for each person, both ids, so a delivery record can say which PERSON received a
message whichever id kind the request used. ``Directory`` is immutable; pass your own to
``SandboxGateway(directory=...)`` to replace the default one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.sandbox.rules import EMPLOYEE_ID_RE, OPEN_USER_ID_RE


@dataclass(frozen=True)
class Person:
    """One employee: CRM employee id (digits), open user id (``FSUID_...``), name, mobile, departments."""

    employee_id: str
    open_user_id: str
    name: str
    mobile: str
    department_ids: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        """How records name this person: the employee id (stable whichever id a request used)."""
        return self.employee_id

    def as_employee(self) -> dict[str, Any]:
        """The person as an address-book answer shows them: open id only, never the employee id."""
        return {
            "openUserId": self.open_user_id,
            "name": self.name,
            "mobile": self.mobile,
            "departmentIds": list(self.department_ids),
        }


@dataclass(frozen=True)
class Department:
    id: int
    name: str
    parent_id: int = 0  # the root department's parentId is 0 [sandbox]

    def as_answer(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "parentId": self.parent_id}


class Directory:
    """People and departments, checked on construction (unique ids, known departments)."""

    def __init__(self, people: Iterable[Person], departments: Iterable[Department]) -> None:
        self.people: tuple[Person, ...] = tuple(people)
        self.departments: tuple[Department, ...] = tuple(departments)
        people, departments = self.people, self.departments
        department_ids = {department.id for department in departments}
        if len(department_ids) != len(departments):
            raise ValueError("department ids must be unique")
        for department in departments:
            if department.parent_id != 0 and department.parent_id not in department_ids:
                raise ValueError(f"department {department.id} has an unknown parent {department.parent_id}")
        by_employee: dict[str, Person] = {}
        by_open: dict[str, Person] = {}
        for person in people:
            if not EMPLOYEE_ID_RE.fullmatch(person.employee_id):
                raise ValueError(f"employee id {person.employee_id!r} must be digits")
            if not OPEN_USER_ID_RE.fullmatch(person.open_user_id):
                raise ValueError(f"open user id {person.open_user_id!r} must look like FSUID_...")
            if person.employee_id in by_employee or person.open_user_id in by_open:
                raise ValueError(f"person {person.employee_id} / {person.open_user_id} listed twice")
            unknown = set(person.department_ids) - department_ids
            if unknown:
                raise ValueError(f"person {person.employee_id} is in unknown department(s) {sorted(unknown)}")
            by_employee[person.employee_id] = person
            by_open[person.open_user_id] = person
        self._by_employee = by_employee
        self._by_open = by_open

    def __repr__(self) -> str:
        return f"Directory({len(self.people)} people, {len(self.departments)} departments)"

    def person(self, user_id: str) -> Person | None:
        """The person an employee id or an open id belongs to."""
        return self._by_employee.get(user_id) or self._by_open.get(user_id)

    def by_mobile(self, mobile: str) -> list[Person]:
        return [person for person in self.people if person.mobile == mobile]

    def department(self, department_id: int) -> Department | None:
        return next((d for d in self.departments if d.id == department_id), None)

    def subtree(self, department_id: int) -> set[int]:
        """The department and every department below it, at any depth."""
        found = {department_id}
        changed = True
        while changed:
            changed = False
            for department in self.departments:
                if department.parent_id in found and department.id not in found:
                    found.add(department.id)
                    changed = True
        return found

    def members(self, department_id: int, *, fetch_child: bool) -> list[Person]:
        wanted = self.subtree(department_id) if fetch_child else {department_id}
        return [person for person in self.people if wanted & set(person.department_ids)]

    def as_dict(self) -> dict[str, Any]:
        """The whole directory, BOTH ids per person (an admin view; gateway answers show open ids only)."""
        return {
            "people": [{"employeeId": person.employee_id, **person.as_employee()} for person in self.people],
            "departments": [department.as_answer() for department in self.departments],
        }


#: The default tenant: a root department, Sales, and Sales East below Sales.
DEFAULT_DEPARTMENTS: tuple[Department, ...] = (
    Department(1, "Sandbox Co.", 0),
    Department(2, "Sales", 1),
    Department(3, "Sales East", 2),
)
#: Opaque open ids on purpose: nothing derives one id kind from the other but the directory.
DEFAULT_PEOPLE: tuple[Person, ...] = (
    Person("1000", "FSUID_7C1E2A90D44B4F0C8E2B5A61C3D90A10", "Admin Zhang", "13800001000", (1,)),
    Person("1001", "FSUID_2B8F6E13A0C54D7E9F1A3B5C7D9E1F21", "Li Na", "13800001001", (2,)),
    Person("1002", "FSUID_9D4C3B2A1F0E4D8C7B6A59483726A102", "Wang Wei", "13800001002", (2,)),
    Person("1003", "FSUID_5E6F7A8B9C0D4E1F2A3B4C5D6E7F8C03", "Chen Jing", "13800001003", (3,)),
    Person("1004", "FSUID_0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C04", "Zhao Lei", "13800001004", (1, 3)),
)
DEFAULT_DIRECTORY = Directory(DEFAULT_PEOPLE, DEFAULT_DEPARTMENTS)
