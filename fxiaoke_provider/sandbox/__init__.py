"""A TEST DOUBLE of the Fxiaoke OpenAPI gateway, for tests and demos over loopback only.

This is not runtime code of the provider: nothing in a DAG or hook uses it. It plays the gateway
so the client can be tested against something that is not the client itself. It therefore imports
nothing from ``fxiaoke_provider`` outside ``fxiaoke_provider.sandbox`` (a test enforces this) and
states the gateway's rules on its own, in ``fxiaoke_provider.sandbox.rules``, from the project's
OpenAPI reference, each rule with its evidence mark; what it had to assume is listed in
``rules.ASSUMPTIONS``.

It behaves like the documented gateway, not like a client hopes: tokens living 7200 s (the same one
handed out again until 6650 s in header style, 6600 s in legacy style; ``expiresIn`` is what is
left), both auth styles with their id kinds, per-endpoint rate limits, the send/revoke validation
codes, the address book and material upload, plus fault injection for the failures a real
deployment sees (error codes, HTML proxy pages, redirects, resets, slow answers, error texts that
quote the request's secrets).

Uses only the standard library. ``INVALID_PARAMETER`` (10002) is sandbox-specific, not from the
manual: see ``fxiaoke_provider.sandbox.config``. Run it with ``python -m fxiaoke_provider.sandbox``.
"""

from __future__ import annotations

from fxiaoke_provider.sandbox.config import (
    DEFAULT_APP,
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_CORP_ID,
    DEFAULT_EA,
    DEFAULT_OPEN_USER_ID,
    DEFAULT_PERMANENT_CODE,
    INVALID_PARAMETER,
    SandboxApp,
    connection_for,
)
from fxiaoke_provider.sandbox.directory import DEFAULT_DIRECTORY, Department, Directory, Person
from fxiaoke_provider.sandbox.faults import FAULT_KINDS
from fxiaoke_provider.sandbox.rules import ASSUMPTIONS
from fxiaoke_provider.sandbox.server import SandboxGateway

__all__ = [
    "ASSUMPTIONS",
    "DEFAULT_APP",
    "DEFAULT_APP_ID",
    "DEFAULT_APP_SECRET",
    "DEFAULT_CORP_ID",
    "DEFAULT_DIRECTORY",
    "DEFAULT_EA",
    "DEFAULT_OPEN_USER_ID",
    "DEFAULT_PERMANENT_CODE",
    "FAULT_KINDS",
    "INVALID_PARAMETER",
    "Department",
    "Directory",
    "Person",
    "SandboxApp",
    "SandboxGateway",
    "connection_for",
]
