"""One HTTP exchange with the gateway and the mapping of everything that can go wrong in it.

The decisive question for every failure is whether the gateway may have acted on the request:
a connection that was never made is safe to retry; a request that was sent but not answered is
"outcome unknown". Imported lazily by the hook, so ``requests`` is not loaded at DAG-parse time.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError, ProxyError

from fxiaoke_provider.exceptions import (
    FxiaokeError,
    FxiaokeOutcomeUnknownError,
    FxiaokePermanentError,
    FxiaokeTransientError,
    FxiaokeWrongHostError,
    error_from_answer,
)
from fxiaoke_provider.gateway import protocol

JSON_HEADERS = {"Content-Type": protocol.CONTENT_TYPE_JSON, "Accept": "application/json"}


@dataclass(frozen=True)
class Answer:
    """A successful (``errorCode == 0``) answer and the ``thirdTraceId`` it was requested with."""

    body: dict[str, Any]
    third_trace_id: str


def new_third_trace_id() -> str:
    return str(uuid.uuid4())


def _never_connected(error: requests.ConnectionError) -> bool:
    """True when the request provably did not reach the server (refused, DNS, connect timeout)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = error.args[0] if error.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 MaxRetryError wraps the cause
    return isinstance(reason, (NewConnectionError, ProxyError))


def _request_error(
    error: requests.RequestException, path: str, third_trace_id: str, timeout_s: float
) -> FxiaokeError:
    ids = {"path": path, "third_trace_id": third_trace_id}
    if isinstance(error, requests.exceptions.SSLError):
        return FxiaokePermanentError(
            "TLS verification of the Fxiaoke host failed; if a proxy re-signs traffic, set extra 'ca_bundle'",
            **ids,
        )
    if isinstance(error, requests.ConnectionError) and _never_connected(error):
        return FxiaokeTransientError(f"could not connect to the Fxiaoke host ({type(error).__name__})", **ids)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return FxiaokeOutcomeUnknownError(
            f"no answer within {timeout_s:g}s after the request was sent; "
            "it may or may not have been acted on",
            **ids,
        )
    return FxiaokeOutcomeUnknownError(
        f"connection dropped after the request was sent ({type(error).__name__}); "
        "it may or may not have been acted on",
        **ids,
    )


WRONG_HOST_HINT = (
    f"the host is probably wrong (www.fxiaoke.com is the web site, not an API host); "
    f"use {protocol.DEFAULT_HOST} or your cloud's open-* host"
)


def _http_error(response: requests.Response, path: str, third_trace_id: str) -> FxiaokeError:
    """An answer that is not the gateway's JSON, classified by what its status says about the request."""
    status = response.status_code
    ids = {"path": path, "third_trace_id": third_trace_id, "http_status": status}
    content_type = response.headers.get("Content-Type", "unknown")
    if status in protocol.TRANSIENT_HTTP_STATUSES:
        return FxiaokeTransientError(f"Fxiaoke host answered HTTP {status}", **ids)
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        return FxiaokeWrongHostError(f"answer was a redirect to {location!r}: {WRONG_HOST_HINT}", **ids)
    if status >= 500:
        return FxiaokeOutcomeUnknownError(
            f"Fxiaoke host answered HTTP {status} ({content_type}); "
            "the request may or may not have been acted on",
            **ids,
        )
    return FxiaokeWrongHostError(
        f"answer was {content_type}, not the gateway's JSON: {WRONG_HOST_HINT}", **ids
    )


def post(
    session: requests.Session,
    base_url: str,
    path: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    timeout_s: float,
    verify: bool | str,
    third_trace_id: str | None = None,
) -> Answer:
    """POST ``body`` to ``path`` with a fresh (or the given) ``thirdTraceId``; return the answer or raise."""
    third_trace_id = third_trace_id or new_third_trace_id()
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _exchange(
        session,
        f"{base_url}{path}",
        path,
        third_trace_id,
        timeout_s,
        params={protocol.TRACE_QUERY_PARAM: third_trace_id},
        data=data,
        headers={**JSON_HEADERS, **(headers or {})},
        verify=verify,
    )


def post_form(
    session: requests.Session,
    base_url: str,
    path: str,
    files: dict[str, tuple[str, bytes, str]],
    *,
    fields: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float,
    verify: bool | str,
    third_trace_id: str | None = None,
) -> Answer:
    """POST a ``multipart/form-data`` body (an upload); answers and failures are read as ``post``'s."""
    third_trace_id = third_trace_id or new_third_trace_id()
    return _exchange(
        session,
        f"{base_url}{path}",
        path,
        third_trace_id,
        timeout_s,
        params={**(params or {}), protocol.TRACE_QUERY_PARAM: third_trace_id},
        data=fields or {},
        files=files,
        headers={"Accept": "application/json", **(headers or {})},
        verify=verify,
    )


def _exchange(
    session: requests.Session, url: str, path: str, third_trace_id: str, timeout_s: float, **request: Any
) -> Answer:
    """Send one request and map whatever happens to an ``Answer`` or the error that says what to do."""
    try:
        response = session.post(
            url,
            timeout=timeout_s,
            allow_redirects=False,  # a redirect means a wrong host; never forward credentials
            **request,
        )
        raw = response.content
    except requests.RequestException as error:
        raise _request_error(error, path, third_trace_id, timeout_s) from None
    try:
        answer = json.loads(raw) if response.status_code == 200 or raw[:1] == b"{" else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get(protocol.ERROR_CODE_FIELD), int):
        raise _http_error(response, path, third_trace_id)
    if answer[protocol.ERROR_CODE_FIELD] != protocol.SUCCESS:
        raise error_from_answer(path, answer, third_trace_id)
    return Answer(body=answer, third_trace_id=third_trace_id)
