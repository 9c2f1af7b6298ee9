"""The gateway's rules (stated in ``rules``): one API call in, one reply out. No HTTP here.

Order of checks: fault (after the request was read) -> thirdTraceId -> body (JSON, or the non-empty
multipart form of an upload) -> token call, or auth -> per-endpoint rate limit -> body validation
-> delivery / answer.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fxiaoke_provider.sandbox.answers import LANDING_PAGE, MOVED_PAGE, answer, error_page
from fxiaoke_provider.sandbox.config import REDIRECT_LOCATION
from fxiaoke_provider.sandbox.faults import Fault
from fxiaoke_provider.sandbox.media import check_upload, is_multipart, parse_multipart
from fxiaoke_provider.sandbox.requestlog import RequestLog
from fxiaoke_provider.sandbox.rules import (
    API_PATHS,
    BEARER_PREFIX,
    CALL_LIMIT_EXCEEDED,
    CREDENTIALS_REJECTED,
    CRM_PATHS,
    DEPARTMENT_LIST_PATH,
    EMPLOYEE_ID_RE,
    EMPTY_BODY,
    HEADER_STYLE,
    INVALID_PARAMETER,
    LEGACY_CORP_ID_FIELD,
    LEGACY_STYLE,
    LEGACY_TOKEN_FIELD,
    LEGACY_TOKEN_PATH,
    MEDIA_FIELD,
    MEDIA_ID_FIELD,
    MEDIA_UPLOAD_PATH,
    NO_CREDENTIALS,
    RATE_LIMITED,
    SEND_PATHS,
    SERVICE_MESSAGE_REVOKE_PATH,
    SERVICE_MESSAGE_SEND_PATH,
    SUCCESS,
    SYSTEM_BUSY,
    TOKEN_EXPIRED,
    TOKEN_FIELDS,
    TOKEN_GRANT_TYPE,
    TOKEN_PATH,
    TOKEN_PATHS,
    USER_BY_MOBILE_PATH,
    USER_GET_PATH,
    USER_SIMPLE_LIST_PATH,
)
from fxiaoke_provider.sandbox.state import SandboxState
from fxiaoke_provider.sandbox.validation import (
    Rejection,
    check_mobile,
    check_open_user_id,
    check_revoke,
    check_send,
    check_simple_list,
)

__all__ = ["API_PATHS", "ApiCall", "Reply", "SandboxEngine"]

_TOKEN_STYLE = {TOKEN_PATH: HEADER_STYLE, LEGACY_TOKEN_PATH: LEGACY_STYLE}
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
    content_type: str | None = None
    #: First value of each query parameter (an upload's legacy credentials travel here).
    query: Mapping[str, str] = field(default_factory=dict)


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
        reply = self._reply(fault, processed, trace_id, call)
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

    def _reply(
        self, fault: Fault | None, processed: _Processed | None, trace_id: str, call: ApiCall
    ) -> Reply:
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
        if fault.kind == "echo_secrets":
            return Reply(
                payload=_echo_secrets(fault.code if fault.code is not None else SYSTEM_BUSY, trace_id, call)
            )
        return Reply(payload=answer(SYSTEM_BUSY, trace_id))  # delay without delivery: refused late

    # --- normal handling -------------------------------------------------------------------------
    def _process(self, call: ApiCall, trace_id: str) -> _Processed:
        if not _is_uuid(call.third_trace_id):
            message = "invalid parameter thirdTraceId: required query parameter, a UUID"
            return _Processed(answer(INVALID_PARAMETER, trace_id, message))
        if call.path == MEDIA_UPLOAD_PATH:
            return self._upload(call, trace_id)
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
        if any(
            not isinstance(body.get(name), str) or not body[name] for name in TOKEN_FIELDS[_TOKEN_STYLE[path]]
        ):
            return False
        if path == TOKEN_PATH and body["grantType"] != TOKEN_GRANT_TYPE:
            return False
        return (
            _same(body["appId"], self.app.app_id)
            & _same(body["appSecret"], self.app.app_secret)
            & _same(body["permanentCode"], self.app.permanent_code)
        )

    def _authenticate(self, call: ApiCall, body: Mapping[str, Any]) -> tuple[str | None, Rejection | None]:
        """The auth style used and, if the credentials are refused, why.

        ``body`` is where legacy credentials travel: the JSON body, or the query of an upload.
        """
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
            if token is None or token.style != HEADER_STYLE or call.ea != token.tenant:
                return HEADER_STYLE, Rejection(TOKEN_EXPIRED)
            if call.user_id is None or EMPLOYEE_ID_RE.fullmatch(call.user_id) is None:
                message = "invalid parameter x-fs-userid: required header, a CRM employee id (digits)"
                return HEADER_STYLE, Rejection(INVALID_PARAMETER, message)
            return HEADER_STYLE, None
        value = body.get(LEGACY_TOKEN_FIELD)
        if not isinstance(value, str) or not value:
            return None, Rejection(NO_CREDENTIALS)
        token = self.state.find_token(value)
        if token is None or token.style != LEGACY_STYLE or body.get(LEGACY_CORP_ID_FIELD) != self.app.corp_id:
            return LEGACY_STYLE, Rejection(TOKEN_EXPIRED)
        return LEGACY_STYLE, None

    def _admit(
        self, call: ApiCall, credentials: Mapping[str, Any], trace_id: str
    ) -> tuple[str | None, _Processed | None]:
        """Auth, then the per-endpoint limit: the style, and the refusal if the call goes no further."""
        style, refusal = self._authenticate(call, credentials)
        if refusal is not None:
            return style, _Processed(answer(refusal.code, trace_id, refusal.message), auth_style=style)
        if not self.state.allow_call(call.path, self.app.ea):
            return style, _Processed(answer(RATE_LIMITED, trace_id), auth_style=style)
        return style, None

    def _upload(self, call: ApiCall, trace_id: str) -> _Processed:
        if not call.body.strip():
            return _Processed(answer(EMPTY_BODY, trace_id, "POST body is empty"))
        style, refusal = self._admit(call, call.query, trace_id)
        if refusal is not None:
            return refusal
        parts = (
            parse_multipart(call.content_type or "", call.body) if is_multipart(call.content_type) else None
        )
        if parts is None:
            message = f"invalid parameter {MEDIA_FIELD}: multipart/form-data, the file in {MEDIA_FIELD!r}"
            return _Processed(answer(INVALID_PARAMETER, trace_id, message), auth_style=style)
        upload, reason = check_upload(parts)
        if upload is None:
            return _Processed(answer(INVALID_PARAMETER, trace_id, reason), auth_style=style)
        assert style is not None
        media_id = self.state.record_media(
            trace_id=trace_id,
            third_trace_id=call.third_trace_id,
            filename=upload.filename,
            size=upload.size,
            image_type=upload.image_type,
            auth_style=style,
        )
        return _Processed(answer(SUCCESS, trace_id, **{MEDIA_ID_FIELD: media_id}), auth_style=style)

    def _directory(self, path: str, body: dict[str, Any], trace_id: str) -> dict[str, Any]:
        directory = self.state.directory
        if path == USER_BY_MOBILE_PATH:
            rejection = check_mobile(body)
            if rejection is not None:
                return answer(rejection.code, trace_id, rejection.message)
            # an unknown mobile is not an error: an empty empList [sandbox]
            return answer(
                SUCCESS, trace_id, empList=[p.as_employee() for p in directory.by_mobile(body["mobile"])]
            )
        if path == USER_GET_PATH:
            rejection = check_open_user_id(body)
            if rejection is not None:
                return answer(rejection.code, trace_id, rejection.message)
            person = directory.person(body["openUserId"])
            if person is None or person.open_user_id != body["openUserId"]:
                return answer(INVALID_PARAMETER, trace_id, "invalid parameter openUserId: no such employee")
            return answer(SUCCESS, trace_id, **person.as_employee())
        if path == USER_SIMPLE_LIST_PATH:
            rejection = check_simple_list(body)
            if rejection is not None:
                return answer(rejection.code, trace_id, rejection.message)
            if directory.department(body["departmentId"]) is None:
                return answer(
                    INVALID_PARAMETER, trace_id, "invalid parameter departmentId: no such department"
                )
            members = directory.members(body["departmentId"], fetch_child=body.get("fetchChild") is True)
            users = [{"openUserId": p.open_user_id, "name": p.name} for p in members]
            return answer(SUCCESS, trace_id, userList=users)
        assert path == DEPARTMENT_LIST_PATH
        return answer(SUCCESS, trace_id, departments=[d.as_answer() for d in directory.departments])

    def _business(self, call: ApiCall, body: dict[str, Any], trace_id: str) -> _Processed:
        style, refusal = self._admit(call, body, trace_id)
        if refusal is not None:
            return refusal
        assert style is not None
        if call.path in CRM_PATHS:
            payload, applied = self.state.crm.handle(
                call.path, body, style=style, user_id=call.user_id, trace_id=trace_id
            )
            return _Processed(payload, auth_style=style, delivered=applied)
        if call.path not in SEND_PATHS and call.path != SERVICE_MESSAGE_REVOKE_PATH:
            return _Processed(self._directory(call.path, body, trace_id), auth_style=style)
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
        rejection = check_send(body, style=style, needs_service_id=call.path == SERVICE_MESSAGE_SEND_PATH)
        if rejection is not None:
            return _Processed(answer(rejection.code, trace_id, rejection.message), auth_style=style)
        msg_type = body["msgType"]
        message_id = self.state.record_message(
            trace_id=trace_id,
            third_trace_id=call.third_trace_id,
            path=call.path,
            service_id=body.get("serviceId"),
            msg_type=msg_type,
            to_user=body["toUser"],
            message=body[msg_type],
            auth_style=style,
        )
        # the documented answer has the common fields only; messageId is the opt-in hypothetical
        extra = {"messageId": message_id} if message_id is not None else {}
        return _Processed(
            answer(SUCCESS, trace_id, **extra),
            auth_style=style,
            delivered=True,
            msg_type=msg_type,
            recipients=len(body["toUser"]),
        )


def _echo_secrets(code: int, trace_id: str, call: ApiCall) -> dict[str, Any]:
    """An error answer whose free text QUOTES the secrets the request carried (the ``echo_secrets`` fault).

    The reference warns that ``errorMessage`` is free text that may hold what the request carried;
    this is the worst case, for proving a client never shows or logs such text unfiltered.
    """
    body = _parse_body(call.body) or {}
    carried = []
    for key in ("appSecret", "permanentCode", LEGACY_TOKEN_FIELD):
        for source in (body, call.query):
            value = source.get(key)
            if isinstance(value, str) and value:
                carried.append(f"{key}={value}")
    if call.authorization:
        value = call.authorization
        carried.append(
            f"accessToken={value[len(BEARER_PREFIX) :] if value.startswith(BEARER_PREFIX) else value}"
        )
    text = "invalid request: " + (", ".join(carried) if carried else "nothing to quote")
    return answer(
        code, trace_id, text, errorDescription=text, error="invalid_request", error_description=text
    )
