"""The gateway's rules: one API call in, one reply out, as the reference documents them. No HTTP here.

Order of checks: fault (after the request was read) -> thirdTraceId -> JSON body -> token call, or
auth -> per-endpoint rate limit -> body validation -> delivery.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.protocol import (
    APP_MESSAGE_SEND_PATH,
    BEARER_PREFIX,
    CALL_LIMIT_EXCEEDED,
    CREDENTIALS_REJECTED,
    EMPTY_BODY,
    LEGACY_CORP_ID_FIELD,
    LEGACY_TOKEN_FIELD,
    LEGACY_TOKEN_PATH,
    NO_CREDENTIALS,
    RATE_LIMITED,
    SERVICE_MESSAGE_REVOKE_PATH,
    SERVICE_MESSAGE_SEND_PATH,
    SUCCESS,
    SYSTEM_BUSY,
    TOKEN_EXPIRED,
    TOKEN_GRANT_TYPE,
    TOKEN_PATH,
    TOKEN_PATHS,
)
from fxiaoke_provider.sandbox.answers import LANDING_PAGE, MOVED_PAGE, answer, error_page
from fxiaoke_provider.sandbox.config import INVALID_PARAMETER, REDIRECT_LOCATION
from fxiaoke_provider.sandbox.faults import Fault
from fxiaoke_provider.sandbox.requestlog import RequestLog
from fxiaoke_provider.sandbox.state import SandboxState
from fxiaoke_provider.sandbox.validation import EMPLOYEE_ID_RE, Rejection, check_revoke, check_send

SEND_PATHS = frozenset({APP_MESSAGE_SEND_PATH, SERVICE_MESSAGE_SEND_PATH})
API_PATHS = TOKEN_PATHS | SEND_PATHS | {SERVICE_MESSAGE_REVOKE_PATH}
_TOKEN_STYLE = {TOKEN_PATH: "header", LEGACY_TOKEN_PATH: "legacy"}
_TOKEN_FIELDS = {
    TOKEN_PATH: ("appId", "appSecret", "permanentCode", "grantType"),
    LEGACY_TOKEN_PATH: ("appId", "appSecret", "permanentCode"),
}
#: Shown instead of a thirdTraceId that is not a UUID: it could hold anything, even a token.
INVALID_TRACE_ID = "<invalid>"
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class ApiCall:
    """What the sandbox reads from one HTTP request (headers other than these are never kept)."""

    path: str
    third_trace_id: str | None
    body: bytes
    authorization: str | None = None
    ea: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Reply:
    """What to send: a JSON answer, an HTML page, or nothing at all (``abort`` the connection)."""

    status: int = 200
    payload: dict[str, Any] | None = None
    html: str | None = None
    location: str | None = None
    abort: bool = False


@dataclass
class _Processed:
    payload: dict[str, Any]
    auth_style: str | None = None
    delivered: bool = False
    msg_type: str | None = None
    recipients: int | None = None


def _is_uuid(value: str | None) -> bool:
    """A UUID in its usual text form, hyphens optional (``uuid.UUID`` would also take ``+``, ``_``, urn:)."""
    return value is not None and _UUID_RE.fullmatch(value) is not None


def _parse_body(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _same(given: object, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


class SandboxEngine:
    """Applies faults and the documented rules to each call; safe to use from many threads."""

    def __init__(self, state: SandboxState, *, token_delay_s: float, log: RequestLog) -> None:
        self.state = state
        self.app = state.app
        self.token_delay_s = token_delay_s
        self.log = log

    def handle(self, call: ApiCall) -> Reply:
        trace_id = self.state.new_trace_id()
        fault = self.state.take_fault(call.path)
        processed = self._process(call, trace_id) if fault is None or fault.deliver else None
        reply = self._reply(fault, processed, trace_id)
        third_trace_id = self._shown_trace_id(call.third_trace_id)
        record = self.state.record_request(
            path=call.path,
            third_trace_id=third_trace_id,
            third_trace_id_valid=third_trace_id not in (None, INVALID_TRACE_ID),
            auth_style=processed.auth_style if processed is not None else None,
            error_code=reply.payload["errorCode"] if reply.payload is not None else None,
            trace_id=trace_id,
            fault=fault,
            delivered=processed is not None and processed.delivered,
            http_status=None if reply.abort else reply.status,
        )
        if self.log.enabled:
            self.log.write(
                record,
                at=self.state.now(),
                shown_trace_id=third_trace_id or "-",
                fault=fault,
                msg_type=processed.msg_type if processed is not None else None,
                recipients=processed.recipients if processed is not None else None,
            )
        if fault is not None and fault.kind == "delay" and fault.seconds:
            time.sleep(fault.seconds)
        return reply

    @staticmethod
    def _shown_trace_id(value: str | None) -> str | None:
        """A thirdTraceId as records and logs show it: only a real UUID is repeated, never free text."""
        if value is None:
            return None
        return value if _is_uuid(value) else INVALID_TRACE_ID

    def _reply(self, fault: Fault | None, processed: _Processed | None, trace_id: str) -> Reply:
        if fault is None or (fault.kind == "delay" and processed is not None):
            assert processed is not None
            return Reply(payload=processed.payload)
        if fault.kind == "error":
            return Reply(payload=answer(fault.code if fault.code is not None else SYSTEM_BUSY, trace_id))
        if fault.kind == "expired-token":
            self.state.expire_tokens()
            return Reply(payload=answer(TOKEN_EXPIRED, trace_id))
        if fault.kind == "http":
            status = fault.status if fault.status is not None else 502
            return Reply(status=status, html=error_page(status))
        if fault.kind == "non-json":
            return Reply(html=LANDING_PAGE)
        if fault.kind == "redirect":
            return Reply(status=302, html=MOVED_PAGE, location=REDIRECT_LOCATION)
        if fault.kind == "reset":
            return Reply(abort=True)
        return Reply(payload=answer(SYSTEM_BUSY, trace_id))  # delay without delivery: refused late

    # --- normal handling -------------------------------------------------------------------------
    def _process(self, call: ApiCall, trace_id: str) -> _Processed:
        if not _is_uuid(call.third_trace_id):
            message = "invalid parameter thirdTraceId: required query parameter, a UUID"
            return _Processed(answer(INVALID_PARAMETER, trace_id, message))
        body = _parse_body(call.body)
        if body is None:
            return _Processed(answer(EMPTY_BODY, trace_id, "POST body is empty or not a JSON object"))
        if call.path in TOKEN_PATHS:
            return self._token(call.path, body, trace_id)
        return self._business(call, body, trace_id)

    def _token(self, path: str, body: dict[str, Any], trace_id: str) -> _Processed:
        self.state.token_call_started()
        try:
            if self.token_delay_s > 0:
                time.sleep(self.token_delay_s)
            app_id = body.get("appId")
            if isinstance(app_id, str) and app_id and not self.state.allow_token_call(app_id):
                return _Processed(answer(CALL_LIMIT_EXCEEDED, trace_id))
            if not self._credentials_ok(path, body):
                return _Processed(answer(CREDENTIALS_REJECTED, trace_id))
            token, remaining = self.state.issue_token(self.app.app_id, _TOKEN_STYLE[path])
        finally:
            self.state.token_call_finished()
        expires_in = max(0, int(remaining))
        if path == TOKEN_PATH:
            fields = {"accessToken": token.value, "ea": self.app.ea, "appId": self.app.app_id}
            fields.update(openUserId=self.app.open_user_id, expiresIn=expires_in)
        else:
            fields = {"corpAccessToken": token.value, "corpId": self.app.corp_id, "expiresIn": expires_in}
        return _Processed(answer(SUCCESS, trace_id, **fields))

    def _credentials_ok(self, path: str, body: dict[str, Any]) -> bool:
        if any(not isinstance(body.get(name), str) or not body[name] for name in _TOKEN_FIELDS[path]):
            return False
        if path == TOKEN_PATH and body["grantType"] != TOKEN_GRANT_TYPE:
            return False
        return (
            _same(body["appId"], self.app.app_id)
            & _same(body["appSecret"], self.app.app_secret)
            & _same(body["permanentCode"], self.app.permanent_code)
        )

    def _authenticate(self, call: ApiCall, body: dict[str, Any]) -> tuple[str | None, Rejection | None]:
        """The auth style used and, if the credentials are refused, why."""
        in_header = call.authorization is not None
        in_body = LEGACY_TOKEN_FIELD in body or LEGACY_CORP_ID_FIELD in body
        if in_header and in_body:
            message = "invalid parameter auth: one auth style per request (header or corpAccessToken)"
            return None, Rejection(INVALID_PARAMETER, message)
        if in_header:
            value = call.authorization or ""
            token = None
            if value.startswith(BEARER_PREFIX):
                token = self.state.find_token(value[len(BEARER_PREFIX) :])
            if token is None or token.style != "header" or call.ea != token.tenant:
                return "header", Rejection(TOKEN_EXPIRED)
            if call.user_id is None or EMPLOYEE_ID_RE.fullmatch(call.user_id) is None:
                message = "invalid parameter x-fs-userid: required header, a CRM employee id"
                return "header", Rejection(INVALID_PARAMETER, message)
            return "header", None
        value = body.get(LEGACY_TOKEN_FIELD)
        if not isinstance(value, str) or not value:
            return None, Rejection(NO_CREDENTIALS)
        token = self.state.find_token(value)
        if token is None or token.style != "legacy" or body.get(LEGACY_CORP_ID_FIELD) != self.app.corp_id:
            return "legacy", Rejection(TOKEN_EXPIRED)
        return "legacy", None

    def _business(self, call: ApiCall, body: dict[str, Any], trace_id: str) -> _Processed:
        style, refusal = self._authenticate(call, body)
        if refusal is not None:
            return _Processed(answer(refusal.code, trace_id, refusal.message), auth_style=style)
        if not self.state.allow_call(call.path, self.app.ea):
            return _Processed(answer(RATE_LIMITED, trace_id), auth_style=style)
        if call.path == SERVICE_MESSAGE_REVOKE_PATH:
            rejection = check_revoke(body)
            if rejection is not None:
                return _Processed(answer(rejection.code, trace_id, rejection.message), auth_style=style)
            self.state.record_revoke(
                trace_id=trace_id,
                third_trace_id=call.third_trace_id,
                service_id=body["serviceId"],
                message_id=body["messageId"],
            )
            return _Processed(answer(SUCCESS, trace_id), auth_style=style)
        rejection = check_send(body, needs_service_id=call.path == SERVICE_MESSAGE_SEND_PATH)
        if rejection is not None:
            return _Processed(answer(rejection.code, trace_id, rejection.message), auth_style=style)
        msg_type = body["msgType"]
        self.state.record_message(
            trace_id=trace_id,
            third_trace_id=call.third_trace_id,
            path=call.path,
            service_id=body.get("serviceId"),
            msg_type=msg_type,
            to_user=body["toUser"],
            message=body[msg_type],
        )
        return _Processed(
            answer(SUCCESS, trace_id),
            auth_style=style,
            delivered=True,
            msg_type=msg_type,
            recipients=len(body["toUser"]),
        )
