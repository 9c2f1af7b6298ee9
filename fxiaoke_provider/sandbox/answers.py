"""Bodies the sandbox sends back: the gateway's JSON envelope and the HTML pages proxies send."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fxiaoke_provider.sandbox.rules import SUCCESS, describe_code


def answer(code: int, trace_id: str, message: str | None = None, **fields: Any) -> dict[str, Any]:
    """The common envelope every gateway answer carries, plus endpoint-specific ``fields``."""
    if code == SUCCESS:
        envelope = {"errorCode": SUCCESS, "errorMessage": "OK", "errorDescription": "success"}
    else:
        description = describe_code(code)
        envelope = {
            "errorCode": code,
            "errorMessage": message or description,
            "errorDescription": description,
        }
    envelope["traceId"] = trace_id
    envelope.update(fields)
    return envelope


def error_page(status: int) -> str:
    """What a proxy in front of the gateway sends for a 5xx/429: HTML, not JSON."""
    try:
        title = f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        title = str(status)
    return f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center></body></html>"


#: What the public web site answers when a client posts to it by mistake.
LANDING_PAGE = (
    "<!DOCTYPE html><html><head><title>Fxiaoke CRM</title></head><body><h1>Fxiaoke CRM</h1></body></html>"
)
MOVED_PAGE = "<html><head><title>302 Found</title></head><body><h1>302 Found</h1></body></html>"
