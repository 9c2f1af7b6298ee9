"""pytest plugin for projects that use this provider: an offline Fxiaoke gateway and a connection to it.

Installed with the provider and enabled through the ``pytest11`` entry point (or ``-p
fxiaoke_provider.testing``). The fixture ``fxiaoke_sandbox`` starts the sandbox gateway on a free
loopback port and defines the connection ``fxiaoke_default`` for it as ``AIRFLOW_CONN_FXIAOKE_DEFAULT``,
so DAGs, operators, notifiers and hooks under test send there instead of to Fxiaoke; the test then
reads what the gateway received. Override the fixture ``fxiaoke_conn_id`` for another connection id,
and ``fxiaoke_crm_seed`` (e.g. ``{"AccountObj": 25000}``) to start with generated CRM records.

Nothing is imported at plugin load but pytest itself: enabling the plugin costs nothing and never
imports Airflow before your ``conftest.py`` has set up its environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fxiaoke_provider.sandbox import SandboxGateway

#: The acting employee id of the sandbox connection (header auth style).
SANDBOX_USER_ID = "1000"


@dataclass
class FxiaokeSandbox:
    """A running sandbox gateway and the connection that points at it."""

    gateway: SandboxGateway
    conn_id: str
    connection: dict[str, Any] = field(repr=False)

    @property
    def url(self) -> str:
        return self.gateway.url

    def messages(self) -> list[dict[str, Any]]:
        """Every message the gateway accepted, oldest first (``toUser``, ``msgType``, ``message``...)."""
        return self.gateway.messages()

    def texts(self) -> list[str]:
        """The text of every accepted ``text`` message, oldest first."""
        return [m["message"]["content"] for m in self.messages() if m.get("msgType") == "text"]

    def records(self, object_api_name: str, *, include_invalid: bool = True) -> list[dict[str, Any]]:
        """Every CRM record of an object in ``_id`` order: what a DAG created, updated or left alone."""
        return self.gateway.records(object_api_name, include_invalid=include_invalid)

    def record(self, object_api_name: str, record_id: str) -> dict[str, Any] | None:
        """One CRM record, or None when the object has none with that ``_id``."""
        return self.gateway.record(object_api_name, record_id)

    def put_records(self, object_api_name: str, records: list[dict[str, Any]]) -> list[str]:
        """Add CRM records as given (set-up for a test); returns their new ``_id`` values."""
        return self.gateway.put_records(object_api_name, records)

    def edit_record(self, object_api_name: str, record_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Change a CRM record as a user would (its ``last_modified_time`` moves on); returns it."""
        return self.gateway.edit_record(object_api_name, record_id, fields)


def sandbox_connection(gateway: SandboxGateway, token_cache_dir: Path, **extra: Any) -> dict[str, Any]:
    """An ``fxiaoke`` connection (Airflow's JSON form) with the sandbox app's credentials."""
    from fxiaoke_provider.sandbox import connection_for

    defaults = {
        "user_id": SANDBOX_USER_ID,
        "service_id": None,  # messages go out as the app unless the test names a service account
        "token_cache_dir": str(token_cache_dir),  # never the user's real token cache
        "retry_max_wait": 0.05,  # injected faults retry fast
    }
    return connection_for(gateway.url, **{**defaults, **extra})


@pytest.fixture
def fxiaoke_conn_id() -> str:
    """The connection id ``fxiaoke_sandbox`` defines; override this fixture to use another one."""
    return "fxiaoke_default"


@pytest.fixture
def fxiaoke_crm_seed() -> dict[str, int]:
    """CRM records the sandbox starts with, generated: override it, e.g. ``{"AccountObj": 25000}``."""
    return {}


@pytest.fixture
def fxiaoke_sandbox(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fxiaoke_conn_id: str, fxiaoke_crm_seed: dict[str, int]
) -> Iterator[FxiaokeSandbox]:
    """A fresh sandbox gateway on a free loopback port and ``AIRFLOW_CONN_<ID>`` pointing at it."""
    from fxiaoke_provider.sandbox import SandboxGateway

    with SandboxGateway(port=0, token_delay_s=0.0, crm_seed=fxiaoke_crm_seed) as gateway:
        connection = sandbox_connection(gateway, tmp_path / "fxiaoke-token-cache")
        monkeypatch.setenv(f"AIRFLOW_CONN_{fxiaoke_conn_id.upper()}", json.dumps(connection))
        yield FxiaokeSandbox(gateway, fxiaoke_conn_id, connection)
