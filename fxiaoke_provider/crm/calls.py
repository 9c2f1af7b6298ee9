"""What CRM needs from the gateway, and the one way it builds and sends a CRM request.

The gateway authorises, paces and retries; CRM adds only what is CRM's: in legacy style the acting
user's open id (``currentOpenUserId``) at the top level of every body. A legacy gateway without an
acting user is refused before any call, naming ``user_id``: the gateway refuses such CRM calls
anyway, after spending a call of the daily quota.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fxiaoke_provider.crm import wire
from fxiaoke_provider.exceptions import (
    FxiaokeConnectionConfigError,
    FxiaokeInvalidInputError,
    FxiaokeProtocolError,
)
from fxiaoke_provider.gateway import protocol


class CrmGateway(Protocol):
    """The part of the gateway CRM uses, and nothing more.

    ``call`` posts one authorised, paced request and returns the answer (``errorCode == 0``).
    ``repeatable=True`` says the call changes nothing (or the same thing again), so an unknown
    outcome is retried inside the call; otherwise it raises ``FxiaokeOutcomeUnknownError``.
    ``conn_id`` names the Airflow connection in configuration errors (``None`` outside Airflow).
    """

    auth_style: str
    user_id: str | None
    conn_id: str | None

    def call(
        self,
        path: str,
        body: dict[str, Any],
        *,
        repeatable: bool = False,
        before_send: Callable[[str], None] | None = None,
    ) -> dict[str, Any]: ...


def _config_error(gateway: CrmGateway, rule: str) -> FxiaokeInvalidInputError:
    conn_id = getattr(gateway, "conn_id", None)
    if conn_id:
        return FxiaokeConnectionConfigError(conn_id, "user_id", rule)
    return FxiaokeInvalidInputError("user_id", rule)


def acting_user_fields(gateway: CrmGateway) -> dict[str, str]:
    """The body fields CRM adds for the auth style: ``currentOpenUserId`` in legacy style, else none.

    Called before anything is sent, so a legacy connection without an ``FSUID_`` acting user
    fails with a configuration error naming ``user_id`` instead of a refused call.
    """
    if gateway.auth_style != protocol.LEGACY_STYLE:
        return {}  # header style: the gateway sends the acting employee in its own header
    user_id = gateway.user_id
    if not user_id:
        raise _config_error(
            gateway,
            "is required for CRM calls in legacy auth style: the acting user's open id "
            f"({protocol.OPEN_USER_ID_PREFIX}...), sent as {wire.CURRENT_OPEN_USER_ID_FIELD}",
        )
    if not user_id.startswith(protocol.OPEN_USER_ID_PREFIX):
        raise _config_error(
            gateway,
            f"must be an open user id ({protocol.OPEN_USER_ID_PREFIX}...) in legacy auth style; "
            f"got {user_id!r}",
        )
    return {wire.CURRENT_OPEN_USER_ID_FIELD: user_id}


def request_body(acting: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
    """``{"data": data}`` plus the acting-user fields at the top level."""
    return {wire.DATA_FIELD: data, **acting}


def answer_part(answer: dict[str, Any], path: str, *keys: str, kind: type = dict) -> Any:
    """``answer[keys[0]][keys[1]]...``, which must be a ``kind``; else a protocol error naming the path.

    An answer with ``errorCode == 0`` that lacks what the reference promises is the gateway's fault
    (or a wrong host's): it is reported, never read as "no records".
    """
    value: Any = answer
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, kind):
        raise FxiaokeProtocolError(
            f"the answer lacks {'.'.join(keys)} ({kind.__name__}) that the reference promises",
            trace_id=answer.get(wire.TRACE_ID_FIELD) if isinstance(answer, dict) else None,
            path=path,
        )
    return value
