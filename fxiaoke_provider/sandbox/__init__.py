"""An offline stand-in of the Fxiaoke OpenAPI gateway, for tests and demos over loopback only.

It behaves like the documented gateway (``fxiaoke_provider.protocol`` and the project's OpenAPI
reference), not like a client hopes: tokens with the 6600 s / 7200 s lifetime, both auth styles,
per-endpoint rate limits, the send/revoke validation codes, plus fault injection for the failures
a real deployment sees (error codes, HTML proxy pages, redirects, resets, slow answers).

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
)
from fxiaoke_provider.sandbox.faults import FAULT_KINDS
from fxiaoke_provider.sandbox.server import SandboxGateway

__all__ = [
    "DEFAULT_APP",
    "DEFAULT_APP_ID",
    "DEFAULT_APP_SECRET",
    "DEFAULT_CORP_ID",
    "DEFAULT_EA",
    "DEFAULT_OPEN_USER_ID",
    "DEFAULT_PERMANENT_CODE",
    "FAULT_KINDS",
    "INVALID_PARAMETER",
    "SandboxApp",
    "SandboxGateway",
]
