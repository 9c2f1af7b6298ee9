"""The CRM check: may the app read CRM data with this connection? One describe, read-only.

Describing a preset object every tenant has costs one call and reads no record. A refusal is a
warning, not a failure: a connection used only for messages is healthy without CRM access.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fxiaoke_provider.doctor.checks import Clock, collect_ids
from fxiaoke_provider.doctor.diagnosis import diagnose
from fxiaoke_provider.doctor.findings import Finding, Status
from fxiaoke_provider.doctor.wire import WireLog
from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError, FxiaokeError
from fxiaoke_provider.gateway import protocol

CHECK = "crm"
#: A preset object every tenant has; describing it reads no record.
CHECKED_OBJECT = "AccountObj"
CRM_PERMISSION_FIX = (
    "grant the app permission to CRM data (the gateway answered that the app lacks permission "
    "for this call); then run the doctor again"
)


def crm_read(hook: Any, config: Any, wire: WireLog, clock: Clock) -> Finding:
    """Describe ``AccountObj`` as the hook's CRM reads do (same auth style and acting user)."""
    mark = wire.mark()
    started = clock()
    try:
        fields = hook.describe_object(CHECKED_OBJECT)
    except FxiaokeConnectionConfigError as error:  # legacy style without an acting user: nothing sent
        return Finding(
            CHECK,
            Status.WARN,
            f"not checked: {error}",
            fix=f"set extra 'user_id' to the acting user's open id ({protocol.OPEN_USER_ID_PREFIX}...) "
            "for CRM reads in legacy style; messages do not need it",
        )
    except Exception as error:
        finding = _refused(error, config)
        collect_ids(finding, wire.since(mark), error)
        return finding
    elapsed_ms = (clock() - started) * 1000
    finding = Finding(
        CHECK,
        Status.OK,
        f"the app may read CRM data: {CHECKED_OBJECT} describes {len(fields)} fields, "
        f"round trip {elapsed_ms:.0f} ms",
        details={"object": CHECKED_OBJECT, "fields": len(fields), "round_trip_ms": round(elapsed_ms, 1)},
    )
    collect_ids(finding, wire.since(mark))
    return finding


def _refused(error: Exception, config: Any) -> Finding:
    code = getattr(error, "error_code", None)
    details = {"object": CHECKED_OBJECT, "error": type(error).__name__, "error_code": code}
    if isinstance(error, FxiaokeError) and code == protocol.NO_PERMISSION:
        return Finding(
            CHECK,
            Status.WARN,
            f"the app may not read CRM data: errorCode {code} ({protocol.describe_code(code)}) "
            f"for {error.path}",
            fix=CRM_PERMISSION_FIX,
            details=details,
        )
    host = urlsplit(config.base_url).hostname or config.base_url
    diagnosis = diagnose(error, host=host, auth_style=config.auth_style)
    return Finding(
        CHECK, Status.WARN, f"could not read CRM data: {diagnosis.cause}", fix=diagnosis.fix, details=details
    )
