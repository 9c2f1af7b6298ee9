"""The sandbox gateway behaves like the documented Fxiaoke gateway, over real HTTP on loopback.

The sandbox is a TEST DOUBLE of the gateway, not runtime code. It is tested here on its own, with
plain ``requests`` / ``http.client`` (never the provider's hook), against the rules of the project's
OpenAPI reference; key numbers are written out literally so a wrong rule in ``sandbox.rules`` shows.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from fxiaoke_provider.sandbox import (
    ASSUMPTIONS,
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_CORP_ID,
    DEFAULT_DIRECTORY,
    DEFAULT_EA,
    DEFAULT_OPEN_USER_ID,
    DEFAULT_PERMANENT_CODE,
    FAULT_KINDS,
    INVALID_PARAMETER,
    Department,
    Directory,
    Person,
    SandboxGateway,
    rules,
)
from fxiaoke_provider.sandbox.config import REDIRECT_LOCATION
from fxiaoke_provider.sandbox.rules import (
    APP_MESSAGE_SEND_PATH,
    CALL_LIMIT_EXCEEDED,
    CREDENTIALS_REJECTED,
    EMPTY_BODY,
    EMPTY_TEXT,
    LEGACY_TOKEN_PATH,
    MAX_ARTICLES,
    MAX_RECIPIENTS_PER_REQUEST,
    MSG_TYPE_INVALID,
    MSG_TYPE_UNSUPPORTED,
    NO_CREDENTIALS,
    RATE_LIMITED,
    SERVICE_EXCEPTION,
    SERVICE_MESSAGE_REVOKE_PATH,
    SERVICE_MESSAGE_SEND_PATH,
    SUCCESS,
    SYSTEM_BUSY,
    TO_USER_INVALID,
    TO_USER_MISSING,
    TOKEN_EXPIRED,
    TOKEN_GRANT_TYPE,
    TOKEN_PATH,
    TRACE_QUERY_PARAM,
)

ROOT = Path(__file__).resolve().parents[1]
TRACE_ID_RE = re.compile(r"E-O\.SBX\.\d+\.[0-9a-f]{8}")
SERVICE_ID = "FSAID_service01"
OPEN_ID = {person.employee_id: person.open_user_id for person in DEFAULT_DIRECTORY.people}
TEXT = {"toUser": ["1001", "1002"], "msgType": "text", "text": {"content": "hello from the sandbox"}}
#: Legacy style addresses people by open user id (FSUID_...), as every public legacy client does.
LEGACY_TEXT = {**TEXT, "toUser": [OPEN_ID["1001"], OPEN_ID["1002"]]}
HEADER_REUSE_S, LEGACY_REUSE_S = 6650, 6600  # the reference's numbers, written out on purpose
COMPOSITE = {
    "toUser": ["1001"],
    "msgType": "composite",
    "composite": {
        "head": {"title": "Deal won"},
        "first": {"content": "ACME"},
        "form": [{"label": "Amount", "value": "100"}],
        "link": {"title": "Open", "url": 'fs://CRM/udobj?{"objDescApiName":"AccountObj","objDataId":"1"}'},
    },
}
ARTICLE = {"title": "Weekly", "author": "ops", "coverImage": "media-1", "type": "URL", "content": "https://x"}
ARTICLES = {"toUser": ["1001"], "msgType": "articles", "articles": [ARTICLE]}
TOKEN_BODY = {
    "appId": DEFAULT_APP_ID,
    "appSecret": DEFAULT_APP_SECRET,
    "permanentCode": DEFAULT_PERMANENT_CODE,
    "grantType": TOKEN_GRANT_TYPE,
}
LEGACY_TOKEN_BODY = {k: v for k, v in TOKEN_BODY.items() if k != "grantType"}
_FRESH = object()


class Client:
    """Thin test helper: one keep-alive session, a fresh thirdTraceId per call unless told otherwise."""

    def __init__(self, gateway: SandboxGateway) -> None:
        self.gateway = gateway
        self.session = requests.Session()

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        trace: Any = _FRESH,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        params = {TRACE_QUERY_PARAM: str(uuid.uuid4()) if trace is _FRESH else trace}
        if trace is None:
            params = {}
        kwargs.setdefault("timeout", 5)
        if data is not None:
            return self.session.post(
                self.gateway.url + path, params=params, data=data, headers=headers, **kwargs
            )
        return self.session.post(self.gateway.url + path, params=params, json=body, headers=headers, **kwargs)

    def call(self, path: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
        response = self.post(path, body, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def header_token(self) -> str:
        answer = self.call(TOKEN_PATH, TOKEN_BODY)
        assert answer["errorCode"] == SUCCESS, answer
        return answer["accessToken"]

    def legacy_token(self) -> str:
        answer = self.call(LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY)
        assert answer["errorCode"] == SUCCESS, answer
        return answer["corpAccessToken"]

    @staticmethod
    def headers(token: str, ea: str = DEFAULT_EA, user_id: str = "1000") -> dict[str, str]:
        return {"authorization": f"Bearer {token}", "x-fs-ea": ea, "x-fs-userid": user_id}

    def send(
        self,
        body: dict[str, Any],
        *,
        token: str,
        style: str = "header",
        path: str = SERVICE_MESSAGE_SEND_PATH,
        **kw,
    ) -> dict[str, Any]:
        body = dict(body)
        if path != APP_MESSAGE_SEND_PATH:
            body.setdefault("serviceId", SERVICE_ID)
        if style == "legacy":
            return self.call(path, {**body, "corpAccessToken": token, "corpId": DEFAULT_CORP_ID}, **kw)
        return self.call(path, body, headers=self.headers(token), **kw)


@pytest.fixture
def make_gateway():
    started: list[SandboxGateway] = []

    def make(**kwargs: Any) -> SandboxGateway:
        kwargs.setdefault("token_delay_s", 0)
        gateway = SandboxGateway(**kwargs).start()
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(make_gateway) -> SandboxGateway:
    return make_gateway()


@pytest.fixture
def client(gateway):
    client = Client(gateway)
    yield client
    client.session.close()


@pytest.fixture
def token(client) -> str:
    return client.header_token()


# --- tokens --------------------------------------------------------------------------------------
def test_header_style_token_answer(client):
    answer = client.call(TOKEN_PATH, TOKEN_BODY)
    assert answer["errorCode"] == SUCCESS and answer["errorMessage"] == "OK"
    assert answer["errorDescription"] == "success" and TRACE_ID_RE.fullmatch(answer["traceId"])
    assert answer["expiresIn"] == 7200 and len(answer["accessToken"]) >= 32
    assert (answer["ea"], answer["appId"], answer["openUserId"]) == (
        DEFAULT_EA,
        DEFAULT_APP_ID,
        DEFAULT_OPEN_USER_ID,
    )


def test_legacy_style_token_answer(client):
    answer = client.call(LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY)
    assert answer["errorCode"] == SUCCESS
    assert answer["corpId"] == DEFAULT_CORP_ID and answer["expiresIn"] == 7200
    assert answer["corpAccessToken"] and "accessToken" not in answer


@pytest.mark.parametrize(
    ("path", "body", "field", "reuse_until", "style"),
    [
        (TOKEN_PATH, TOKEN_BODY, "accessToken", HEADER_REUSE_S, "header"),
        (LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY, "corpAccessToken", LEGACY_REUSE_S, "legacy"),
    ],
    ids=["header-6650", "legacy-6600"],
)
def test_same_token_until_reuse_age_then_new_one_while_old_stays_valid(
    client, gateway, path, body, field, reuse_until, style
):
    first = client.call(path, body)
    assert first["expiresIn"] == 7200
    gateway.advance_clock(100)
    again = client.call(path, body)
    assert again[field] == first[field]
    assert again["expiresIn"] in (7099, 7100)  # the REMAINING lifetime, as the manual's 7084 shows
    gateway.advance_clock(reuse_until - 101)
    late = client.call(path, body)
    assert late[field] == first[field] and late["expiresIn"] in (7200 - reuse_until, 7201 - reuse_until)
    gateway.advance_clock(1)
    renewed = client.call(path, body)
    assert renewed[field] != first[field] and renewed["expiresIn"] == 7200
    send = LEGACY_TEXT if style == "legacy" else TEXT
    assert client.send(send, token=first[field], style=style)["errorCode"] == SUCCESS  # old still valid
    gateway.advance_clock(7200 - reuse_until)
    assert client.send(send, token=first[field], style=style)["errorCode"] == TOKEN_EXPIRED
    assert client.send(send, token=renewed[field], style=style)["errorCode"] == SUCCESS


def test_token_expires_at_its_lifetime(client, gateway):
    header, legacy = client.header_token(), client.legacy_token()
    gateway.advance_clock(7199)
    assert client.send(TEXT, token=header)["errorCode"] == SUCCESS
    assert client.send(LEGACY_TEXT, token=legacy, style="legacy")["errorCode"] == SUCCESS
    gateway.advance_clock(1)
    assert client.send(TEXT, token=header)["errorCode"] == TOKEN_EXPIRED
    assert client.send(LEGACY_TEXT, token=legacy, style="legacy")["errorCode"] == TOKEN_EXPIRED


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (TOKEN_PATH, {**TOKEN_BODY, "appSecret": "wrong"}),
        (TOKEN_PATH, {**TOKEN_BODY, "permanentCode": "wrong"}),
        (TOKEN_PATH, {**TOKEN_BODY, "appId": "FSAID_other"}),
        (TOKEN_PATH, {**TOKEN_BODY, "grantType": "password"}),
        (TOKEN_PATH, LEGACY_TOKEN_BODY),
        (LEGACY_TOKEN_PATH, {**LEGACY_TOKEN_BODY, "appSecret": ""}),
        (LEGACY_TOKEN_PATH, {"appId": DEFAULT_APP_ID, "appSecret": DEFAULT_APP_SECRET}),
    ],
)
def test_wrong_or_missing_credentials_are_rejected(client, path, body):
    answer = client.call(path, body)
    assert answer["errorCode"] == CREDENTIALS_REJECTED
    assert "accessToken" not in answer and "corpAccessToken" not in answer


def test_token_endpoint_limit_per_minute(make_gateway):
    gateway = make_gateway(token_calls_per_minute=3)
    client = Client(gateway)
    codes = [client.call(TOKEN_PATH, TOKEN_BODY)["errorCode"] for _ in range(3)]
    codes.append(client.call(LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY)["errorCode"])
    assert codes == [SUCCESS, SUCCESS, SUCCESS, CALL_LIMIT_EXCEEDED]
    gateway.advance_clock(60)
    assert client.call(TOKEN_PATH, TOKEN_BODY)["errorCode"] == SUCCESS
    assert gateway.stats()["token_calls"] == 5 and gateway.stats()["token_calls_ok"] == 4


def test_concurrent_token_calls_are_observable(make_gateway):
    gateway = make_gateway(token_delay_s=0.2)
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(4)

    def fetch() -> None:
        barrier.wait()
        answers.append(Client(gateway).call(TOKEN_PATH, TOKEN_BODY))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = gateway.stats()
    assert stats["token_calls"] == stats["token_calls_ok"] == 4
    assert stats["token_concurrent_max"] >= 2 and stats["token_in_flight"] == 0
    assert len({answer["accessToken"] for answer in answers}) == 1  # all within the renew window


# --- request envelope ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "trace", [None, "", "not-a-uuid", "1234", "+" + "1" * 31, f"urn:uuid:{uuid.UUID(int=1)}"]
)
def test_third_trace_id_is_required_and_must_be_a_uuid(client, token, trace):
    answer = client.send(TEXT, token=token, trace=trace)
    assert answer["errorCode"] == INVALID_PARAMETER and "thirdTraceId" in answer["errorMessage"]
    assert client.call(TOKEN_PATH, TOKEN_BODY, trace=trace)["errorCode"] == INVALID_PARAMETER


def test_reused_third_trace_ids_are_counted(client, gateway, token):
    trace = str(uuid.uuid4())
    for _ in range(3):
        client.send(TEXT, token=token, trace=trace)
    assert gateway.stats()["duplicate_third_trace_ids"] == 1
    assert [r["thirdTraceId"] for r in gateway.requests()[-3:]] == [trace] * 3


@pytest.mark.parametrize("raw", [b"", b"   ", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_empty_or_non_json_body_is_12004(client, token, raw):
    headers = {**client.headers(token), "Content-Type": "application/json"}
    assert client.post(SERVICE_MESSAGE_SEND_PATH, data=raw, headers=headers).json()["errorCode"] == EMPTY_BODY
    assert client.post(TOKEN_PATH, data=raw).json()["errorCode"] == EMPTY_BODY


def test_trace_ids_are_unique_and_sandbox_shaped(client, token):
    ids = [client.send(TEXT, token=token)["traceId"] for _ in range(10)]
    ids += [client.call(TOKEN_PATH, TOKEN_BODY)["traceId"] for _ in range(3)]
    assert len(set(ids)) == len(ids) and all(TRACE_ID_RE.fullmatch(i) for i in ids)


def test_unknown_path_and_wrong_method(client, gateway):
    missing = client.post("/cgi/nothing/here", TEXT)
    assert missing.status_code == 404 and missing.json()["errorCode"] == INVALID_PARAMETER
    wrong = client.session.get(gateway.url + SERVICE_MESSAGE_SEND_PATH, timeout=5)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert wrong.json()["errorCode"] != SUCCESS
    assert gateway.requests() == [] and gateway.stats()["not_found"] == 1


def test_keep_alive_connection_is_reused(gateway):
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    sockets = []
    for _ in range(3):
        body = json.dumps(TOKEN_BODY)
        connection.request("POST", f"{TOKEN_PATH}?{TRACE_QUERY_PARAM}={uuid.uuid4()}", body=body)
        response = connection.getresponse()
        assert int(response.headers["Content-Length"]) == len(response.read())
        sockets.append(connection.sock)
    connection.close()
    assert sockets[0] is not None and sockets.count(sockets[0]) == 3


# --- auth ----------------------------------------------------------------------------------------
def test_both_auth_styles_deliver(client, gateway):
    assert client.send(TEXT, token=client.header_token())["errorCode"] == SUCCESS
    assert client.send(LEGACY_TEXT, token=client.legacy_token(), style="legacy")["errorCode"] == SUCCESS
    styles = [r["auth_style"] for r in gateway.requests() if r["path"] == SERVICE_MESSAGE_SEND_PATH]
    assert styles == ["header", "legacy"] and len(gateway.messages()) == 2


def test_mixed_auth_styles_are_refused(client, gateway, token):
    legacy = client.legacy_token()
    body = {**TEXT, "serviceId": SERVICE_ID, "corpAccessToken": legacy, "corpId": DEFAULT_CORP_ID}
    answer = client.call(SERVICE_MESSAGE_SEND_PATH, body, headers=client.headers(token))
    assert answer["errorCode"] == INVALID_PARAMETER and "one auth style per request" in answer["errorMessage"]
    assert gateway.messages() == []


def test_no_credentials_is_20017(client):
    assert (
        client.call(SERVICE_MESSAGE_SEND_PATH, {**TEXT, "serviceId": SERVICE_ID})["errorCode"]
        == NO_CREDENTIALS
    )
    no_token = {**TEXT, "serviceId": SERVICE_ID, "corpId": DEFAULT_CORP_ID}
    assert client.call(SERVICE_MESSAGE_SEND_PATH, no_token)["errorCode"] == NO_CREDENTIALS


@pytest.mark.parametrize(
    "mangle",
    [
        lambda h, b, tok: h.update(authorization="Bearer forged-token"),
        lambda h, b, tok: h.update(authorization=f"Bearer  {tok}"),
        lambda h, b, tok: h.update(authorization=f"bearer {tok}"),
        lambda h, b, tok: h.update(authorization=tok),
        lambda h, b, tok: h.update({"x-fs-ea": "other-ea"}),
        lambda h, b, tok: h.pop("x-fs-ea"),
    ],
    ids=["forged", "two-spaces", "lowercase", "no-bearer", "other-ea", "no-ea"],
)
def test_bad_header_credentials_are_20016(client, gateway, token, mangle):
    headers, body = client.headers(token), {**TEXT, "serviceId": SERVICE_ID}
    mangle(headers, body, token)
    assert client.call(SERVICE_MESSAGE_SEND_PATH, body, headers=headers)["errorCode"] == TOKEN_EXPIRED
    assert gateway.messages() == []


def test_bad_legacy_credentials_and_style_mismatch_are_20016(client, token):
    legacy = client.legacy_token()
    body = {**TEXT, "serviceId": SERVICE_ID}
    forged = {**body, "corpAccessToken": "forged", "corpId": DEFAULT_CORP_ID}
    other_corp = {**body, "corpAccessToken": legacy, "corpId": "FSCID_other"}
    header_token_in_body = {**body, "corpAccessToken": token, "corpId": DEFAULT_CORP_ID}
    for bad in (forged, other_corp, header_token_in_body):
        assert client.call(SERVICE_MESSAGE_SEND_PATH, bad)["errorCode"] == TOKEN_EXPIRED
    legacy_in_header = client.call(SERVICE_MESSAGE_SEND_PATH, body, headers=client.headers(legacy))
    assert legacy_in_header["errorCode"] == TOKEN_EXPIRED


def test_user_id_header_must_be_an_employee_id(client, token):
    headers = client.headers(token, user_id="admin")
    answer = client.call(SERVICE_MESSAGE_SEND_PATH, {**TEXT, "serviceId": SERVICE_ID}, headers=headers)
    assert answer["errorCode"] == INVALID_PARAMETER and "x-fs-userid" in answer["errorMessage"]


def test_expire_tokens_invalidates_everything(client, gateway, token):
    gateway.expire_tokens()
    assert client.send(TEXT, token=token)["errorCode"] == TOKEN_EXPIRED
    assert client.send(TEXT, token=client.header_token())["errorCode"] == SUCCESS


# --- rate limit ----------------------------------------------------------------------------------
def test_rate_limit_per_endpoint_counts_only_authenticated_calls(make_gateway):
    gateway = make_gateway(rate_limit_calls=3, rate_limit_window_s=20)
    client = Client(gateway)
    token = client.header_token()
    client.send(TEXT, token="forged")  # refused before the limit: not counted
    codes = [client.send(TEXT, token=token)["errorCode"] for _ in range(4)]
    assert codes == [SUCCESS, SUCCESS, SUCCESS, RATE_LIMITED]
    assert client.send(TEXT, token=token, path=APP_MESSAGE_SEND_PATH)["errorCode"] == SUCCESS
    gateway.advance_clock(20)
    assert client.send(TEXT, token=token)["errorCode"] == SUCCESS


def test_rate_limit_zero_disables_it(make_gateway):
    gateway = make_gateway(rate_limit_calls=0)
    client = Client(gateway)
    token = client.header_token()
    assert {client.send(TEXT, token=token)["errorCode"] for _ in range(105)} == {SUCCESS}


# --- validation ----------------------------------------------------------------------------------
def _articles(**changes: Any) -> dict[str, Any]:
    article = {k: v for k, v in {**ARTICLE, **changes}.items() if v is not None}
    return {**ARTICLES, "articles": [article]}


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"msgType": "text", "text": {"content": "x"}}, TO_USER_MISSING, None),
        ({**TEXT, "toUser": []}, TO_USER_INVALID, None),
        ({**TEXT, "toUser": "1001"}, TO_USER_INVALID, None),
        ({**TEXT, "toUser": [1001]}, TO_USER_INVALID, None),
        ({**TEXT, "toUser": ["abc"]}, TO_USER_INVALID, None),
        ({**TEXT, "toUser": ["1234567890123"]}, TO_USER_INVALID, None),
        ({**TEXT, "toUser": [str(i) for i in range(MAX_RECIPIENTS_PER_REQUEST + 1)]}, TO_USER_INVALID, None),
        ({**TEXT, "toUser": ["1001"], "convertUserId": True}, TO_USER_INVALID, None),
        ({**TEXT, "toUser": ["FSUID_abc"]}, TO_USER_INVALID, None),
        ({**TEXT, "msgType": "image"}, MSG_TYPE_INVALID, None),
        ({k: v for k, v in TEXT.items() if k != "msgType"}, MSG_TYPE_INVALID, None),
        ({"toUser": ["1001"], "msgType": "text"}, MSG_TYPE_UNSUPPORTED, None),
        ({"toUser": ["1001"], "msgType": "composite", "text": {"content": "x"}}, MSG_TYPE_UNSUPPORTED, None),
        ({**TEXT, "text": {"content": "   "}}, EMPTY_TEXT, None),
        ({**TEXT, "text": {}}, EMPTY_TEXT, None),
        ({**COMPOSITE, "composite": {**COMPOSITE["composite"], "head": {}}}, INVALID_PARAMETER, "head.title"),
        (
            {**COMPOSITE, "composite": {**COMPOSITE["composite"], "link": {"url": "u"}}},
            INVALID_PARAMETER,
            "link.title",
        ),
        (
            {**COMPOSITE, "composite": {**COMPOSITE["composite"], "link": {"title": "t"}}},
            INVALID_PARAMETER,
            "link.url",
        ),
        ({**ARTICLES, "articles": []}, INVALID_PARAMETER, "articles"),
        ({**ARTICLES, "articles": [ARTICLE] * (MAX_ARTICLES + 1)}, INVALID_PARAMETER, "articles"),
        (_articles(title=None), INVALID_PARAMETER, "articles[0].title"),
        (_articles(title="t" * 46), INVALID_PARAMETER, "articles[0].title"),
        (_articles(author="a" * 9), INVALID_PARAMETER, "articles[0].author"),
        (_articles(description="d" * 141), INVALID_PARAMETER, "articles[0].description"),
        (_articles(coverImage=None), INVALID_PARAMETER, "articles[0].coverImage"),
        (_articles(type="HTML"), INVALID_PARAMETER, "articles[0].type"),
        (_articles(content=""), INVALID_PARAMETER, "articles[0].content"),
        (_articles(coverImageInContent="yes"), INVALID_PARAMETER, "articles[0].coverImageInContent"),
        ({**ARTICLES, "articles": [ARTICLE, "x"]}, INVALID_PARAMETER, "articles[1]"),
    ],
)
def test_send_validation_codes(client, gateway, token, body, code, field):
    answer = client.send(body, token=token)
    assert answer["errorCode"] == code, answer
    if field is not None:
        assert field in answer["errorMessage"]
    assert gateway.messages() == [] and gateway.requests()[-1]["delivered"] is False


def test_service_send_needs_service_id_and_app_send_does_not(client, token):
    body = {**TEXT, "serviceId": "  "}
    answer = client.call(SERVICE_MESSAGE_SEND_PATH, body, headers=client.headers(token))
    assert answer["errorCode"] == INVALID_PARAMETER and "serviceId" in answer["errorMessage"]
    assert client.send(TEXT, token=token, path=APP_MESSAGE_SEND_PATH)["errorCode"] == SUCCESS


@pytest.mark.parametrize(
    "body",
    [
        TEXT,
        COMPOSITE,
        ARTICLES,
        {**ARTICLES, "articles": [{**ARTICLE, "type": "TEXT", "coverImageInContent": True}] * MAX_ARTICLES},
        {**TEXT, "toUser": ["FSUID_abc", "FSUID_x1"], "convertUserId": True},
        {**TEXT, "toUser": [str(1000 + i) for i in range(MAX_RECIPIENTS_PER_REQUEST)]},
        _articles(title="t" * 45, author="a" * 8, description="d" * 140),
    ],
)
def test_valid_messages_are_delivered_and_recorded(client, gateway, token, body):
    third = str(uuid.uuid4())
    answer = client.send(body, token=token, trace=third)
    assert answer == {"errorCode": SUCCESS, "errorMessage": "OK", "errorDescription": "success", **answer}
    assert set(answer) == {"errorCode", "errorMessage", "errorDescription", "traceId"}  # no messageId
    [message] = gateway.messages()
    assert message["traceId"] == answer["traceId"] and message["thirdTraceId"] == third
    assert message["path"] == SERVICE_MESSAGE_SEND_PATH and message["serviceId"] == SERVICE_ID
    assert message["msgType"] == body["msgType"] and message["toUser"] == body["toUser"]
    assert message["message"] == body[body["msgType"]] and message["revoked"] is False
    assert message["seq"] == 1 and isinstance(message["received_at"], float)


def test_revoke_accepts_any_message_id_and_pretends_no_match(client, gateway, token):
    sent = client.send(TEXT, token=token)
    headers = client.headers(token)
    # a traceId is a request id, NOT a message id: the sandbox must not treat it as one
    for message_id in (sent["traceId"], "E-O.unknown", "anything at all"):
        revoke = {"serviceId": SERVICE_ID, "messageId": message_id}
        assert client.call(SERVICE_MESSAGE_REVOKE_PATH, revoke, headers=headers)["errorCode"] == SUCCESS
    assert gateway.messages()[0]["revoked"] is False
    records = gateway.revokes()
    assert [(r["serviceId"], r["messageId"], r["matched"]) for r in records] == [
        (SERVICE_ID, sent["traceId"], False),
        (SERVICE_ID, "E-O.unknown", False),
        (SERVICE_ID, "anything at all", False),
    ]
    assert all(TRACE_ID_RE.fullmatch(r["traceId"]) for r in records) and gateway.stats()["revokes"] == 3
    legacy = client.legacy_token()
    legacy_revoke = {
        "serviceId": SERVICE_ID,
        "messageId": "m-1",
        "corpAccessToken": legacy,
        "corpId": DEFAULT_CORP_ID,
    }
    assert client.call(SERVICE_MESSAGE_REVOKE_PATH, legacy_revoke)["errorCode"] == SUCCESS
    revoke = {"serviceId": SERVICE_ID, "messageId": "m-2"}
    for missing in ("serviceId", "messageId"):
        body = {**revoke, missing: ""}
        answer = client.call(SERVICE_MESSAGE_REVOKE_PATH, body, headers=headers)
        assert answer["errorCode"] == INVALID_PARAMETER and missing in answer["errorMessage"]


# --- faults --------------------------------------------------------------------------------------
def test_error_fault_is_answered_without_processing(client, gateway, token):
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "error", code=SYSTEM_BUSY)
    assert client.send(TEXT, token=token)["errorCode"] == SYSTEM_BUSY
    assert gateway.messages() == []
    assert client.send(TEXT, token=token)["errorCode"] == SUCCESS
    faults = [(r["fault"], r["errorCode"], r["delivered"]) for r in gateway.requests()[-2:]]
    assert faults == [("error", SYSTEM_BUSY, False), (None, SUCCESS, True)]


def test_error_fault_with_deliver_is_outcome_unknown(client, gateway, token):
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "error", code=SERVICE_EXCEPTION, deliver=True)
    answer = client.send(TEXT, token=token)
    assert answer["errorCode"] == SERVICE_EXCEPTION
    assert [m["traceId"] for m in gateway.messages()] == [answer["traceId"]]


def test_faults_are_consumed_in_order(client, gateway, token):
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "error", count=2, code=SYSTEM_BUSY)
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "http", status=502)
    assert gateway.pending_faults()["queued"][SERVICE_MESSAGE_SEND_PATH][0]["count"] == 2
    statuses = [client.post(SERVICE_MESSAGE_SEND_PATH, TEXT, headers=client.headers(token)) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 502, 200]
    assert [statuses[i].json()["errorCode"] for i in (0, 1)] == [SYSTEM_BUSY, SYSTEM_BUSY]
    assert gateway.pending_faults()["queued"] == {}


def test_expired_token_fault_invalidates_tokens(client, gateway, token):
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "expired-token")
    assert client.send(TEXT, token=token)["errorCode"] == TOKEN_EXPIRED
    assert client.send(TEXT, token=token)["errorCode"] == TOKEN_EXPIRED
    assert client.send(TEXT, token=client.header_token())["errorCode"] == SUCCESS


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_http_fault_sends_an_html_page(client, gateway, token, status):
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "http", status=status)
    response = client.post(
        SERVICE_MESSAGE_SEND_PATH, {**TEXT, "serviceId": SERVICE_ID}, headers=client.headers(token)
    )
    assert response.status_code == status and response.text.startswith("<html>")
    assert response.headers["Content-Type"].startswith("text/html")
    assert gateway.messages() == [] and gateway.requests()[-1]["errorCode"] is None


def test_non_json_and_redirect_faults(client, gateway, token):
    gateway.add_fault(TOKEN_PATH, "non-json")
    gateway.add_fault(TOKEN_PATH, "redirect")
    page = client.post(TOKEN_PATH, TOKEN_BODY)
    assert page.status_code == 200 and "<html>" in page.text
    with pytest.raises(ValueError):
        page.json()
    moved = client.post(TOKEN_PATH, TOKEN_BODY, allow_redirects=False)
    assert moved.status_code == 302 and moved.headers["Location"] == REDIRECT_LOCATION
    assert [r["http_status"] for r in gateway.requests()[-2:]] == [200, 302]
    assert gateway.stats()["token_calls"] == 3 and gateway.stats()["token_calls_ok"] == 1


@pytest.mark.parametrize("deliver", [False, True])
def test_reset_fault_drops_the_connection(client, gateway, token, deliver):
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "reset", deliver=deliver)
    with pytest.raises(requests.ConnectionError):
        client.send(TEXT, token=token)
    assert len(gateway.messages()) == int(deliver)
    record = gateway.requests()[-1]
    assert (record["fault"], record["http_status"], record["delivered"]) == ("reset", None, deliver)
    assert client.send(TEXT, token=token)["errorCode"] == SUCCESS  # the next connection is fine


def test_delay_fault_outlives_a_short_read_timeout(client, gateway, token):
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "delay", seconds=0.4)
    with pytest.raises(requests.ReadTimeout):
        client.send(TEXT, token=token, timeout=(2, 0.1))
    assert len(gateway.messages()) == 1  # processed before the sleep: the client cannot know
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "delay", seconds=0.05, deliver=False)
    assert client.send(TEXT, token=token)["errorCode"] == SYSTEM_BUSY
    assert len(gateway.messages()) == 1


def test_faults_apply_to_token_paths(client, gateway):
    gateway.add_fault(LEGACY_TOKEN_PATH, "error", code=CALL_LIMIT_EXCEEDED)
    assert client.call(LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY)["errorCode"] == CALL_LIMIT_EXCEEDED
    assert client.call(LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY)["errorCode"] == SUCCESS


@pytest.mark.parametrize(
    ("args", "params"),
    [
        ((SERVICE_MESSAGE_SEND_PATH, "explode"), {}),
        ((SERVICE_MESSAGE_SEND_PATH, "error"), {}),
        ((SERVICE_MESSAGE_SEND_PATH, "http"), {"status": 204}),
        ((SERVICE_MESSAGE_SEND_PATH, "reset"), {"seconds": 1}),
        ((SERVICE_MESSAGE_SEND_PATH, "delay"), {"seconds": -1}),
        ((SERVICE_MESSAGE_SEND_PATH, "error", 0), {"code": 1}),
        (("/cgi/unknown", "error"), {"code": 1}),
    ],
)
def test_bad_fault_specs_fail_loudly(gateway, args, params):
    with pytest.raises(ValueError):
        gateway.add_fault(*args, **params)


def _chaos_run(client: Client, gateway: SandboxGateway, seed: int) -> list[tuple[Any, ...]]:
    kinds = [{"kind": "error", "code": SYSTEM_BUSY}, {"kind": "http", "status": 503}]
    gateway.set_chaos(SERVICE_MESSAGE_SEND_PATH, 0.5, kinds, seed)
    token = client.header_token()
    for _ in range(30):
        client.post(
            SERVICE_MESSAGE_SEND_PATH, {**TEXT, "serviceId": SERVICE_ID}, headers=client.headers(token)
        )
    records = [r for r in gateway.requests() if r["path"] == SERVICE_MESSAGE_SEND_PATH]
    return [(r["fault"], r["errorCode"], r["http_status"], r["delivered"]) for r in records]


def test_chaos_is_deterministic_for_a_seed(client, gateway):
    first = _chaos_run(client, gateway, seed=42)
    gateway.reset()
    assert _chaos_run(client, gateway, seed=42) == first
    faults = [row[0] for row in first]
    assert 0 < faults.count(None) < len(faults) and {"error", "http"} <= set(faults)
    assert sum(row[3] for row in first) == len(gateway.messages())
    gateway.set_chaos(SERVICE_MESSAGE_SEND_PATH, 0)
    assert client.send(TEXT, token=client.header_token())["errorCode"] == SUCCESS


# --- inspection over HTTP ------------------------------------------------------------------------
def test_admin_endpoints(client, gateway, token):
    admin = gateway.url + "/__sandbox__/"
    get = client.session.get
    assert get(admin + "health", timeout=5).json() == {"status": "ok"}
    client.send(TEXT, token=token)
    assert len(get(admin + "messages", timeout=5).json()) == 1
    assert get(admin + "requests", timeout=5).json()[-1]["delivered"] is True
    assert get(admin + "stats", timeout=5).json()["messages_delivered"] == 1
    fault = {"path": SERVICE_MESSAGE_SEND_PATH, "kind": "error", "count": 2, "code": SYSTEM_BUSY}
    assert client.session.post(admin + "faults", json=fault, timeout=5).status_code == 200
    assert get(admin + "faults", timeout=5).json()["queued"][SERVICE_MESSAGE_SEND_PATH][0]["count"] == 2
    assert client.send(TEXT, token=token)["errorCode"] == SYSTEM_BUSY
    assert client.session.delete(admin + "faults/clear", timeout=5).status_code == 200
    assert client.send(TEXT, token=token)["errorCode"] == SUCCESS
    chaos = {
        "path": SERVICE_MESSAGE_SEND_PATH,
        "rate": 1,
        "kinds": [{"kind": "http", "status": 504}],
        "seed": 1,
    }
    assert client.session.post(admin + "chaos", json=chaos, timeout=5).status_code == 200
    assert client.post(SERVICE_MESSAGE_SEND_PATH, TEXT, headers=client.headers(token)).status_code == 504
    assert client.session.post(admin + "faults/clear", timeout=5).status_code == 200
    seconds = {"seconds": 7200}
    assert client.session.post(admin + "advance-clock", json=seconds, timeout=5).json()["ok"] is True
    assert client.send(TEXT, token=token)["errorCode"] == TOKEN_EXPIRED
    fresh = client.header_token()
    assert client.session.post(admin + "expire-tokens", timeout=5).status_code == 200
    assert client.send(TEXT, token=fresh)["errorCode"] == TOKEN_EXPIRED
    assert client.session.post(admin + "reset", timeout=5).status_code == 200
    assert gateway.messages() == [] and gateway.requests() == [] and gateway.stats()["requests"] == 0
    bad = client.session.post(admin + "faults", json={"path": TOKEN_PATH, "kind": "nope"}, timeout=5)
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["error"]
    assert client.session.post(admin + "advance-clock", json={}, timeout=5).status_code == 400
    assert client.session.post(admin + "stats", timeout=5).status_code == 405
    assert get(admin + "nothing", timeout=5).status_code == 404


# --- secrets and the log -------------------------------------------------------------------------
def test_no_token_or_secret_is_ever_recorded_or_logged(make_gateway):
    log = io.StringIO()
    gateway = make_gateway(log_stream=log)
    client = Client(gateway)
    header, legacy = client.header_token(), client.legacy_token()
    client.send(TEXT, token=header)
    client.send(LEGACY_TEXT, token=legacy, style="legacy")
    client.call(
        SERVICE_MESSAGE_SEND_PATH, {**TEXT, "corpAccessToken": legacy}, headers=client.headers(header)
    )
    client.call(TOKEN_PATH, {**TOKEN_BODY, "appSecret": DEFAULT_APP_SECRET + "x"})
    client.post(TOKEN_PATH, TOKEN_BODY, trace=header)  # a token where the trace id goes
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "error", code=SERVICE_EXCEPTION, deliver=True)
    client.send(TEXT, token=header)
    dumped = json.dumps([gateway.requests(), gateway.stats(), gateway.messages(), gateway.revokes()])
    dumped += json.dumps(gateway.pending_faults()) + repr(gateway.app) + log.getvalue()
    for secret in (header, legacy, DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE):
        assert secret not in dumped
    assert len(log.getvalue().splitlines()) == len(gateway.requests()) == 8


def test_log_line_is_readable_and_content_free(make_gateway):
    log = io.StringIO()
    gateway = make_gateway(log_stream=log)
    client = Client(gateway)
    third = str(uuid.uuid4())
    answer = client.send(TEXT, token=client.header_token(), trace=third)
    client.send(TEXT, token="forged", trace="bogus trace")
    lines = log.getvalue().splitlines()
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ POST {SERVICE_MESSAGE_SEND_PATH} thirdTraceId={third} -> "
        rf"errorCode=0 traceId={re.escape(answer['traceId'])} auth=header msgType=text toUser=2 delivered",
        lines[1],
    )
    assert "thirdTraceId=<invalid>" in lines[2] and f"errorCode={INVALID_PARAMETER}" in lines[2]
    assert TEXT["text"]["content"] not in log.getvalue()


# --- construction and the CLI --------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_refuses_non_loopback_hosts(host):
    with pytest.raises(ValueError, match="loopback"):
        SandboxGateway(host=host)


def test_context_manager_starts_and_stops():
    with SandboxGateway(token_delay_s=0) as gateway:
        url = gateway.url
        assert requests.get(url + "/__sandbox__/health", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/__sandbox__/health", timeout=2)


def _cli(*args: str, **kwargs: Any) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "fxiaoke_provider.sandbox", *args]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, **kwargs)


@pytest.mark.slow
def test_cli_serves_until_sigterm(tmp_path):
    ready, log = tmp_path / "ready", tmp_path / "sandbox.log"
    proc = _cli("--port", "0", "--ready-file", str(ready), "--log-file", str(log), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.02)
        url = ready.read_text().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert proc.stdout.readline() == f"Fxiaoke sandbox listening on {url}\n"
        assert requests.get(url + "/__sandbox__/health", timeout=5).json() == {"status": "ok"}
        params = {TRACE_QUERY_PARAM: str(uuid.uuid4())}
        answer = requests.post(url + TOKEN_PATH, params=params, json=TOKEN_BODY, timeout=5).json()
        assert answer["errorCode"] == SUCCESS
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not ready.exists()
    assert f"POST {TOKEN_PATH}" in log.read_text() and DEFAULT_APP_SECRET not in log.read_text()


@pytest.mark.slow
def test_cli_refuses_non_loopback_host():
    proc = _cli("--host", "0.0.0.0", "--port", "0", stderr=subprocess.PIPE)
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 2 and "loopback" in err


# --- the rules as the reference states them ------------------------------------------------------
def test_rules_state_the_reference_numbers():
    """The sandbox's own rules, checked against the reference's numbers written out here."""
    assert rules.TOKEN_LIFETIME_S == 7200
    assert rules.TOKEN_REUSE_UNTIL_S == {"header": 6650, "legacy": 6600}
    assert (rules.TOKEN_ENDPOINT_CALLS_PER_MINUTE, rules.TOKEN_LIMIT_WINDOW_S) == (10, 60.0)
    assert (rules.RATE_LIMIT_CALLS, rules.RATE_LIMIT_WINDOW_S) == (100, 20.0)
    assert (rules.MAX_RECIPIENTS_PER_REQUEST, rules.MAX_ARTICLES) == (500, 7)
    assert (rules.ARTICLE_TITLE_MAX, rules.ARTICLE_AUTHOR_MAX, rules.ARTICLE_DESCRIPTION_MAX) == (45, 8, 140)
    assert rules.MEDIA_MAX_BYTES == 5 * 1024 * 1024
    codes = (rules.TOKEN_EXPIRED, rules.NO_CREDENTIALS, rules.CREDENTIALS_REJECTED, rules.RATE_LIMITED)
    assert codes == (20016, 20017, 10006, 30004)
    assert (rules.TO_USER_MISSING, rules.TO_USER_INVALID, rules.MSG_TYPE_INVALID) == (10015, 11016, 11017)
    assert (rules.MSG_TYPE_UNSUPPORTED, rules.EMPTY_BODY, rules.EMPTY_TEXT) == (12003, 12004, 12005)


def test_every_assumption_is_marked_and_rules_carry_evidence_marks():
    assert ASSUMPTIONS and all(a.startswith(("[secondary] ", "[sandbox] ")) for a in ASSUMPTIONS)
    source = (ROOT / "fxiaoke_provider" / "sandbox" / "rules.py").read_text()
    for mark in ("[manual]", "[code]", "[secondary]", "[sandbox]"):
        assert mark in source
    for rule in ("14001", "messageId", "mediaId", "empty empList", "11016"):
        assert any(rule in assumption for assumption in ASSUMPTIONS), rule


# --- rule 1: id kinds per auth style -------------------------------------------------------------
@pytest.mark.parametrize(
    ("to_user", "convert", "code"),
    [
        (["1001", "1002"], None, SUCCESS),
        (["1001"], False, SUCCESS),
        ([OPEN_ID["1001"]], None, TO_USER_INVALID),
        ([OPEN_ID["1001"], OPEN_ID["1003"]], True, SUCCESS),
        (["1001"], True, TO_USER_INVALID),
        (["1001", OPEN_ID["1002"]], None, TO_USER_INVALID),
        (["1001", OPEN_ID["1002"]], True, TO_USER_INVALID),
        ([OPEN_ID["1001"]], "true", TO_USER_INVALID),  # only a JSON true switches the kind
    ],
    ids=[
        "digits",
        "digits-convert-false",
        "open-no-convert",
        "open-convert",
        "digits-convert",
        "mixed",
        "mixed-convert",
        "convert-string",
    ],
)
def test_header_style_id_kinds(client, gateway, token, to_user, convert, code):
    body = {**TEXT, "toUser": to_user}
    if convert is not None:
        body["convertUserId"] = convert
    answer = client.send(body, token=token)
    assert answer["errorCode"] == code, answer
    assert len(gateway.messages()) == (1 if code == SUCCESS else 0)


@pytest.mark.parametrize(
    ("to_user", "convert", "code"),
    [
        ([OPEN_ID["1001"], OPEN_ID["1002"]], None, SUCCESS),
        ([OPEN_ID["1001"]], True, SUCCESS),  # convertUserId is not needed, and ignored
        (["1001"], None, TO_USER_INVALID),  # plain employee ids are refused in legacy style
        (["1001"], True, TO_USER_INVALID),
        ([OPEN_ID["1001"], "1002"], None, TO_USER_INVALID),
    ],
    ids=["open", "open-convert", "digits", "digits-convert", "mixed"],
)
def test_legacy_style_id_kinds(client, gateway, to_user, convert, code):
    body = {**TEXT, "toUser": to_user}
    if convert is not None:
        body["convertUserId"] = convert
    answer = client.send(body, token=client.legacy_token(), style="legacy")
    assert answer["errorCode"] == code, answer
    assert len(gateway.messages()) == (1 if code == SUCCESS else 0)


def test_wrong_kind_messages_name_the_rule(client, token):
    legacy = client.legacy_token()
    assert "legacy style" in client.send(TEXT, token=legacy, style="legacy")["errorMessage"]
    assert "mixes" in client.send({**TEXT, "toUser": ["1001", OPEN_ID["1001"]]}, token=token)["errorMessage"]
    no_convert = client.send({**TEXT, "toUser": [OPEN_ID["1001"]]}, token=token)
    assert "convertUserId" in no_convert["errorMessage"]


@pytest.mark.parametrize("user_id", [None, "", "admin", OPEN_ID["1000"], "1000 "])
def test_header_style_needs_a_digits_user_id_header(client, gateway, token, user_id):
    headers = client.headers(token)
    if user_id is None:
        del headers["x-fs-userid"]
    else:
        headers["x-fs-userid"] = user_id
    for path, body in (
        (SERVICE_MESSAGE_SEND_PATH, {**TEXT, "serviceId": SERVICE_ID}),
        (rules.DEPARTMENT_LIST_PATH, {}),
    ):
        answer = client.call(path, body, headers=headers)
        assert answer["errorCode"] == INVALID_PARAMETER and "x-fs-userid" in answer["errorMessage"]
    assert gateway.messages() == []


def test_legacy_style_needs_no_user_id(client, gateway):
    legacy = client.legacy_token()
    assert client.send(LEGACY_TEXT, token=legacy, style="legacy")["errorCode"] == SUCCESS
    assert gateway.messages()[0]["auth_style"] == "legacy"


# --- deliveries per person -----------------------------------------------------------------------
def test_delivery_records_name_the_person_whichever_id_kind(client, gateway, token):
    client.send({**TEXT, "toUser": ["1001", "9999"]}, token=token)
    client.send({**TEXT, "toUser": [OPEN_ID["1001"], OPEN_ID["1003"]], "convertUserId": True}, token=token)
    client.send({**TEXT, "toUser": [OPEN_ID["1001"]]}, token=client.legacy_token(), style="legacy")
    messages = gateway.messages()
    assert [m["persons"] for m in messages] == [["1001", None], ["1001", "1003"], ["1001"]]
    assert [m["auth_style"] for m in messages] == ["header", "header", "legacy"]
    view = gateway.deliveries_per_person()
    assert view["persons"]["1001"]["deliveries"] == 3 and view["persons"]["1001"]["messages"] == [1, 2, 3]
    assert view["persons"]["1001"]["openUserId"] == OPEN_ID["1001"]
    assert view["persons"]["1003"]["deliveries"] == 1 and view["persons"]["1002"]["deliveries"] == 0
    assert view["unknown_ids"] == {"9999": 1}
    over_http = requests.get(gateway.url + "/__sandbox__/deliveries-per-person", timeout=5).json()
    assert over_http == view


def test_the_same_person_twice_in_one_request_counts_twice(client, gateway, token):
    client.send({**TEXT, "toUser": ["1002", "1002"]}, token=token)
    assert gateway.deliveries_per_person()["persons"]["1002"]["deliveries"] == 2


# --- rule 2: aged tokens -------------------------------------------------------------------------
def test_a_brand_new_client_can_get_a_token_late_in_its_life(make_gateway):
    gateway = make_gateway(initial_token_age_s=6610)
    client = Client(gateway)
    header = client.call(TOKEN_PATH, TOKEN_BODY)
    assert header["expiresIn"] in (589, 590)  # 6610 < 6650: the same old token is handed out
    legacy = client.call(LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY)
    assert legacy["expiresIn"] == 7200  # 6610 >= 6600: legacy style renews instead
    assert client.send(TEXT, token=header["accessToken"])["errorCode"] == SUCCESS
    gateway.advance_clock(590)
    assert client.send(TEXT, token=header["accessToken"])["errorCode"] == TOKEN_EXPIRED
    again = client.call(TOKEN_PATH, TOKEN_BODY)
    assert again["accessToken"] != header["accessToken"] and again["expiresIn"] == 7200
    gateway.reset()  # a fresh start keeps the constructor's setting
    assert client.call(TOKEN_PATH, TOKEN_BODY)["expiresIn"] in (589, 590)


def test_age_current_token_from_python_and_over_http(client, gateway):
    first = client.header_token()
    assert {k: int(v) for k, v in gateway.age_current_token(6000, "header").items()} == {"header": 1200}
    aged = client.call(TOKEN_PATH, TOKEN_BODY)
    assert aged["accessToken"] == first and aged["expiresIn"] in (1199, 1200)
    admin = gateway.url + "/__sandbox__/age-token"
    answer = requests.post(admin, json={"seconds": 7000}, timeout=5).json()
    assert answer == {"ok": True, "expires_in": {"header": 200, "legacy": 200}}
    assert client.call(TOKEN_PATH, TOKEN_BODY)["accessToken"] != first  # 7000 > 6650: renewed
    legacy = client.call(LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY)
    assert legacy["expiresIn"] == 7200  # 7000 > 6600
    for bad in ({"seconds": 7200}, {"seconds": -1}, {}, {"seconds": 1, "style": "other"}):
        assert requests.post(admin, json=bad, timeout=5).status_code == 400
    with pytest.raises(ValueError):
        gateway.age_current_token(True)


# --- rule 3: token endpoint limit and concurrency (see also the token tests above) ---------------
def test_token_limit_code_is_an_assumption():
    assert any("14001" in a and "token-endpoint limit" in a for a in ASSUMPTIONS)
    assert any("10 calls a minute" in a and a.startswith("[secondary]") for a in ASSUMPTIONS)


def test_token_limit_is_per_minute_by_default(make_gateway):
    gateway = make_gateway()
    client = Client(gateway)
    codes = [client.call(TOKEN_PATH, TOKEN_BODY)["errorCode"] for _ in range(11)]
    assert codes == [SUCCESS] * 10 + [CALL_LIMIT_EXCEEDED]
    gateway.advance_clock(60)
    assert client.call(TOKEN_PATH, TOKEN_BODY)["errorCode"] == SUCCESS


# --- rule 4: per-endpoint limit counts each endpoint separately ----------------------------------
def test_rate_limit_covers_address_book_and_upload_separately(make_gateway):
    gateway = make_gateway(rate_limit_calls=2)
    client = Client(gateway)
    headers = client.headers(client.header_token())
    codes = [client.call(rules.DEPARTMENT_LIST_PATH, {}, headers=headers)["errorCode"] for _ in range(3)]
    assert codes == [SUCCESS, SUCCESS, RATE_LIMITED]
    mobile = {"mobile": "13800001001"}
    assert client.call(rules.USER_BY_MOBILE_PATH, mobile, headers=headers)["errorCode"] == SUCCESS
    uploads = [_upload(client, headers=headers)["errorCode"] for _ in range(3)]
    assert uploads == [SUCCESS, SUCCESS, RATE_LIMITED]


# --- rule 6: the hypothetical messageId ----------------------------------------------------------
def test_message_ids_are_off_by_default(client, gateway, token):
    assert "messageId" not in client.send(TEXT, token=token)
    assert gateway.messages()[0]["messageId"] is None and gateway.stats()["message_ids"] is False


def test_opt_in_message_ids_are_answered_recorded_and_revocable(make_gateway):
    gateway = make_gateway(message_ids=True)
    client = Client(gateway)
    token = client.header_token()
    first, second = client.send(TEXT, token=token), client.send(COMPOSITE, token=token)
    assert set(first) == {"errorCode", "errorMessage", "errorDescription", "traceId", "messageId"}
    assert first["messageId"] != second["messageId"] and first["messageId"] != first["traceId"]
    assert [m["messageId"] for m in gateway.messages()] == [first["messageId"], second["messageId"]]
    revoke = {"serviceId": SERVICE_ID, "messageId": first["messageId"]}
    assert (
        client.call(SERVICE_MESSAGE_REVOKE_PATH, revoke, headers=client.headers(token))["errorCode"]
        == SUCCESS
    )
    assert [m["revoked"] for m in gateway.messages()] == [True, False]
    assert gateway.revokes()[0]["matched"] is True
    refused = client.send({**TEXT, "toUser": []}, token=token)
    assert "messageId" not in refused  # only a delivery gets one


def test_message_ids_can_be_switched_over_http(client, gateway, token):
    admin = gateway.url + "/__sandbox__/message-ids"
    assert requests.post(admin, json={"enabled": True}, timeout=5).json() == {"ok": True, "message_ids": True}
    assert "messageId" in client.send(TEXT, token=token)
    gateway.set_message_ids(False)
    assert "messageId" not in client.send(TEXT, token=token)
    assert requests.post(admin, json={"enabled": "yes"}, timeout=5).status_code == 400
    gateway.set_message_ids(True)
    gateway.reset()  # back to the constructor's choice
    assert "messageId" not in client.send(TEXT, token=client.header_token())


# --- rule 7: untrusted gateway text --------------------------------------------------------------
def test_echo_secrets_on_token_paths_quotes_the_app_secret_and_permanent_code(client, gateway):
    assert "echo_secrets" in FAULT_KINDS
    gateway.add_fault(TOKEN_PATH, "echo_secrets", code=CREDENTIALS_REJECTED)
    answer = client.call(TOKEN_PATH, TOKEN_BODY)
    assert answer["errorCode"] == CREDENTIALS_REJECTED and "accessToken" not in answer
    for text in (answer["errorMessage"], answer["error_description"], answer["errorDescription"]):
        assert DEFAULT_APP_SECRET in text and DEFAULT_PERMANENT_CODE in text
    gateway.add_fault(LEGACY_TOKEN_PATH, "echo_secrets")
    legacy = client.call(LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY)
    assert legacy["errorCode"] == SYSTEM_BUSY and DEFAULT_APP_SECRET in legacy["errorMessage"]
    assert gateway.stats()["token_calls_ok"] == 0


def test_echo_secrets_on_business_paths_quotes_the_token(client, gateway, token):
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "echo_secrets", count=2)
    answer = client.send(TEXT, token=token)
    assert (
        answer["errorCode"] == SYSTEM_BUSY
        and token in answer["errorMessage"]
        and token in answer["error_description"]
    )
    legacy = client.legacy_token()
    answer = client.send(LEGACY_TEXT, token=legacy, style="legacy")
    assert legacy in answer["errorMessage"] and gateway.messages() == []
    gateway.add_fault(rules.MEDIA_UPLOAD_PATH, "echo_secrets")
    upload = _upload(client, params={"corpAccessToken": legacy, "corpId": DEFAULT_CORP_ID})
    assert legacy in upload["errorMessage"] and gateway.media() == []
    gateway.add_fault(rules.USER_GET_PATH, "echo_secrets", code=TOKEN_EXPIRED)
    found = client.call(rules.USER_GET_PATH, {"openUserId": OPEN_ID["1001"]}, headers=client.headers(token))
    assert found["errorCode"] == TOKEN_EXPIRED and token in found["errorMessage"]
    records = json.dumps(gateway.requests())
    assert token not in records and legacy not in records  # the sandbox's own records stay clean


def test_echo_secrets_with_deliver_delivers_then_answers_the_error(client, gateway, token):
    gateway.add_fault(SERVICE_MESSAGE_SEND_PATH, "echo_secrets", deliver=True)
    assert token in client.send(TEXT, token=token)["errorMessage"]
    assert len(gateway.messages()) == 1


def test_echo_secrets_needs_a_non_zero_code(gateway):
    with pytest.raises(ValueError, match="non-zero"):
        gateway.add_fault(TOKEN_PATH, "echo_secrets", code=0)


# --- rule 8: address book ------------------------------------------------------------------------
@pytest.fixture(params=["header", "legacy"])
def directory_call(request, client):
    """Call an address-book path in one auth style; answers the parsed JSON."""
    if request.param == "header":
        headers = client.headers(client.header_token())
        return lambda path, body: client.call(path, body, headers=headers)
    creds = {"corpAccessToken": client.legacy_token(), "corpId": DEFAULT_CORP_ID}
    return lambda path, body: client.call(path, {**body, **creds})


def test_get_by_mobile(directory_call):
    answer = directory_call(rules.USER_BY_MOBILE_PATH, {"mobile": "13800001003"})
    assert answer["errorCode"] == SUCCESS
    assert answer["empList"] == [
        {"openUserId": OPEN_ID["1003"], "name": "Chen Jing", "mobile": "13800001003", "departmentIds": [3]}
    ]
    unknown = directory_call(rules.USER_BY_MOBILE_PATH, {"mobile": "19900000000"})
    assert (unknown["errorCode"], unknown["empList"]) == (SUCCESS, [])
    missing = directory_call(rules.USER_BY_MOBILE_PATH, {})
    assert missing["errorCode"] == INVALID_PARAMETER and "mobile" in missing["errorMessage"]


def test_user_get(directory_call):
    answer = directory_call(rules.USER_GET_PATH, {"openUserId": OPEN_ID["1002"]})
    assert answer["errorCode"] == SUCCESS
    assert (answer["openUserId"], answer["name"], answer["mobile"]) == (
        OPEN_ID["1002"],
        "Wang Wei",
        "13800001002",
    )
    for bad in ({"openUserId": "FSUID_nobody"}, {"openUserId": "1002"}, {}):
        refused = directory_call(rules.USER_GET_PATH, bad)
        assert refused["errorCode"] == INVALID_PARAMETER and "openUserId" in refused["errorMessage"]


def test_simple_list_with_and_without_sub_departments(directory_call):
    def names(department_id: int, **kw: Any) -> list[str]:
        answer = directory_call(rules.USER_SIMPLE_LIST_PATH, {"departmentId": department_id, **kw})
        assert answer["errorCode"] == SUCCESS, answer
        assert all(set(user) == {"openUserId", "name"} for user in answer["userList"])
        assert all(rules.OPEN_USER_ID_RE.fullmatch(user["openUserId"]) for user in answer["userList"])
        return sorted(user["name"] for user in answer["userList"])

    assert names(2) == ["Li Na", "Wang Wei"]
    assert names(2, fetchChild=False) == ["Li Na", "Wang Wei"]
    assert names(2, fetchChild=True) == ["Chen Jing", "Li Na", "Wang Wei", "Zhao Lei"]
    assert names(1, fetchChild=True) == sorted(p.name for p in DEFAULT_DIRECTORY.people)
    assert names(1) == ["Admin Zhang", "Zhao Lei"]
    for bad in (
        {"departmentId": 99},
        {"departmentId": "2"},
        {"departmentId": True},
        {"departmentId": 2, "fetchChild": "yes"},
        {},
    ):
        assert directory_call(rules.USER_SIMPLE_LIST_PATH, bad)["errorCode"] == INVALID_PARAMETER


def test_department_list(directory_call):
    answer = directory_call(rules.DEPARTMENT_LIST_PATH, {})
    assert answer["errorCode"] == SUCCESS
    assert answer["departments"] == [
        {"id": 1, "name": "Sandbox Co.", "parentId": 0},
        {"id": 2, "name": "Sales", "parentId": 1},
        {"id": 3, "name": "Sales East", "parentId": 2},
    ]


def test_default_directory_knows_both_ids_and_a_mobile_per_person():
    assert len(DEFAULT_DIRECTORY.people) >= 3 and len(DEFAULT_DIRECTORY.departments) >= 3
    for person in DEFAULT_DIRECTORY.people:
        assert rules.EMPLOYEE_ID_RE.fullmatch(person.employee_id)
        assert (
            rules.OPEN_USER_ID_RE.fullmatch(person.open_user_id)
            and person.employee_id not in person.open_user_id
        )
        assert person.mobile.isdigit()
        assert (
            DEFAULT_DIRECTORY.person(person.employee_id)
            is DEFAULT_DIRECTORY.person(person.open_user_id)
            is person
        )
    assert any(d.parent_id not in (0, 1) for d in DEFAULT_DIRECTORY.departments)  # a sub-sub-department


def test_address_book_needs_auth(client, gateway):
    assert client.call(rules.DEPARTMENT_LIST_PATH, {})["errorCode"] == NO_CREDENTIALS
    headers = client.headers("forged")
    assert (
        client.call(rules.USER_GET_PATH, {"openUserId": OPEN_ID["1001"]}, headers=headers)["errorCode"]
        == TOKEN_EXPIRED
    )
    assert (
        client.post(rules.DEPARTMENT_LIST_PATH, data=b"", headers=headers).json()["errorCode"] == EMPTY_BODY
    )


def test_a_custom_directory_replaces_the_default(make_gateway):
    directory = Directory(
        [
            Person("7", "FSUID_SEVEN", "Seven", "100", (10,)),
            Person("8", "FSUID_EIGHT", "Eight", "100", (11,)),
        ],
        [Department(10, "Root"), Department(11, "Child", 10)],
    )
    gateway = make_gateway(directory=directory)
    client = Client(gateway)
    headers = client.headers(client.header_token())
    by_mobile = client.call(rules.USER_BY_MOBILE_PATH, {"mobile": "100"}, headers=headers)
    assert [e["openUserId"] for e in by_mobile["empList"]] == ["FSUID_SEVEN", "FSUID_EIGHT"]
    tree = client.call(rules.USER_SIMPLE_LIST_PATH, {"departmentId": 10, "fetchChild": True}, headers=headers)
    assert [u["name"] for u in tree["userList"]] == ["Seven", "Eight"]
    assert client.call(rules.USER_BY_MOBILE_PATH, {"mobile": "13800001001"}, headers=headers)["empList"] == []
    client.send({**TEXT, "toUser": ["7", "1001"]}, token=client.header_token())
    assert gateway.messages()[0]["persons"] == ["7", None]
    assert gateway.directory is directory
    view = requests.get(gateway.url + "/__sandbox__/directory", timeout=5).json()
    assert view["people"][0] == {
        "employeeId": "7",
        "openUserId": "FSUID_SEVEN",
        "name": "Seven",
        "mobile": "100",
        "departmentIds": [10],
    }


@pytest.mark.parametrize(
    ("people", "departments"),
    [
        ([Person("x", "FSUID_A", "A", "1")], []),
        ([Person("1", "A", "A", "1")], []),
        ([Person("1", "FSUID_A", "A", "1"), Person("1", "FSUID_B", "B", "2")], []),
        ([Person("1", "FSUID_A", "A", "1", (5,))], []),
        ([], [Department(1, "a"), Department(1, "b")]),
        ([], [Department(2, "a", 9)]),
    ],
)
def test_bad_directories_fail_loudly(people, departments):
    with pytest.raises(ValueError):
        Directory(people, departments)


def test_faults_apply_to_address_book_paths(client, gateway, token):
    gateway.add_fault(rules.DEPARTMENT_LIST_PATH, "http", status=503)
    gateway.add_fault(rules.USER_BY_MOBILE_PATH, "error", code=SERVICE_EXCEPTION)
    headers = client.headers(token)
    assert client.post(rules.DEPARTMENT_LIST_PATH, {}, headers=headers).status_code == 503
    assert (
        client.call(rules.USER_BY_MOBILE_PATH, {"mobile": "1"}, headers=headers)["errorCode"]
        == SERVICE_EXCEPTION
    )


# --- rule 8: material upload ---------------------------------------------------------------------
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
BMP = b"BM" + b"\x00" * 64


def _upload(
    client: Client,
    *,
    filename: str = "cover.png",
    content: bytes = PNG,
    field: str = "media",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    if headers is None and params is None:
        headers = client.headers(token or client.header_token())
    query = {TRACE_QUERY_PARAM: str(uuid.uuid4()), **(params or {})}
    files = {field: (filename, content, "application/octet-stream")}
    response = client.session.post(
        client.gateway.url + rules.MEDIA_UPLOAD_PATH, params=query, files=files, headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("filename", "content", "kind"),
    [
        ("a.png", PNG, "png"),
        ("a.JPG", JPEG, "jpeg"),
        ("a.jpeg", JPEG, "jpeg"),
        ("a.gif", GIF, "gif"),
        ("a.bmp", BMP, "bmp"),
    ],
)
def test_upload_in_header_style(client, gateway, filename, content, kind):
    answer = _upload(client, filename=filename, content=content)
    assert answer["errorCode"] == SUCCESS and answer["mediaId"]
    [record] = gateway.media()
    assert (record["mediaId"], record["filename"], record["size"], record["type"]) == (
        answer["mediaId"],
        filename,
        len(content),
        kind,
    )
    assert record["auth_style"] == "header" and record["traceId"] == answer["traceId"]
    assert requests.get(gateway.url + "/__sandbox__/media", timeout=5).json() == [record]


def test_upload_in_legacy_style_uses_query_parameters(client, gateway):
    legacy = client.legacy_token()
    answer = _upload(client, params={"corpAccessToken": legacy, "corpId": DEFAULT_CORP_ID})
    assert answer["errorCode"] == SUCCESS and gateway.media()[0]["auth_style"] == "legacy"
    assert (
        _upload(client, params={"corpAccessToken": legacy, "corpId": "FSCID_other"})["errorCode"]
        == TOKEN_EXPIRED
    )
    assert _upload(client, params={})["errorCode"] == NO_CREDENTIALS
    mixed = _upload(
        client,
        headers=client.headers(client.header_token()),
        params={"corpAccessToken": legacy, "corpId": DEFAULT_CORP_ID},
    )
    assert mixed["errorCode"] == INVALID_PARAMETER
    assert len(gateway.media()) == 1 and legacy not in json.dumps(gateway.media() + gateway.requests())


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"filename": "a.png", "content": JPEG}, "type"),  # extension and magic bytes disagree
        ({"filename": "a.jpg", "content": b"not an image at all"}, "type"),
        ({"filename": "a.txt", "content": PNG}, "type"),
        ({"filename": "png", "content": PNG}, "type"),
        ({"filename": "a.webp", "content": b"RIFF\x00\x00\x00\x00WEBP"}, "type"),
        ({"filename": "a.png", "content": b""}, "empty"),
        ({"filename": "a.png", "content": PNG, "field": "file"}, "field"),
        ({"filename": "a.png", "content": PNG + b"\x00" * (5 * 1024 * 1024 - len(PNG) + 1)}, "size"),
    ],
)
def test_upload_refusals(client, gateway, kwargs, why):
    answer = _upload(client, **kwargs)
    assert answer["errorCode"] == INVALID_PARAMETER and "media" in answer["errorMessage"], (why, answer)
    assert gateway.media() == []


def test_upload_of_exactly_5_mb_is_accepted(client, gateway):
    content = PNG + b"\x00" * (5 * 1024 * 1024 - len(PNG))
    assert _upload(client, content=content)["errorCode"] == SUCCESS
    assert gateway.media()[0]["size"] == 5 * 1024 * 1024


def test_upload_needs_a_multipart_body_and_a_trace_id(client, gateway, token):
    headers = client.headers(token)
    assert (
        client.post(rules.MEDIA_UPLOAD_PATH, {"media": "x"}, headers=headers).json()["errorCode"]
        == INVALID_PARAMETER
    )
    assert client.post(rules.MEDIA_UPLOAD_PATH, data=b"", headers=headers).json()["errorCode"] == EMPTY_BODY
    broken = {**headers, "Content-Type": "multipart/form-data; boundary=xyz"}
    assert (
        client.post(rules.MEDIA_UPLOAD_PATH, data=b"--xyz\r\nnonsense", headers=broken).json()["errorCode"]
        == INVALID_PARAMETER
    )
    no_trace = client.session.post(
        gateway.url + rules.MEDIA_UPLOAD_PATH, files={"media": ("a.png", PNG)}, headers=headers, timeout=5
    ).json()
    assert no_trace["errorCode"] == INVALID_PARAMETER and "thirdTraceId" in no_trace["errorMessage"]
    assert gateway.media() == []


def test_uploaded_media_ids_are_reusable_and_unknown_ones_are_not_refused(client, gateway, token):
    media_id = _upload(client, token=token)["mediaId"]
    for cover in (media_id, media_id, "never-uploaded"):
        assert client.send(_articles(coverImage=cover), token=token)["errorCode"] == SUCCESS
    assert len(gateway.media()) == 1 and gateway.stats()["media_uploads"] == 1


def test_faults_apply_to_the_upload_path(client, gateway, token):
    gateway.add_fault(rules.MEDIA_UPLOAD_PATH, "error", code=SYSTEM_BUSY)
    assert _upload(client, token=token)["errorCode"] == SYSTEM_BUSY and gateway.media() == []
    gateway.add_fault(rules.MEDIA_UPLOAD_PATH, "reset")
    with pytest.raises(requests.ConnectionError):
        _upload(client, token=token)
    assert _upload(client, token=token)["errorCode"] == SUCCESS


# --- rule 9: the CLI prints a ready-to-paste connection ------------------------------------------
def test_cli_prints_a_ready_to_paste_connection(tmp_path):
    proc = _cli("--port", "0", "--quiet", stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline()
        url = re.fullmatch(r"Fxiaoke sandbox listening on (http://127\.0\.0\.1:\d+)\n", first).group(1)
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(4)]
        export = next(line for line in lines if line.startswith("export "))
        name, _, value = shlex.split(export[len("export ") :])[0].partition("=")
        assert name == "AIRFLOW_CONN_FXIAOKE_DEFAULT"
        conn = json.loads(value)
        assert conn["conn_type"] == "fxiaoke" and conn["host"] == url
        assert (conn["login"], conn["password"]) == (DEFAULT_APP_ID, DEFAULT_APP_SECRET)
        assert conn["extra"] == {
            "permanent_code": DEFAULT_PERMANENT_CODE,
            "auth_style": "header",
            "user_id": "1000",
            "service_id": "FSAID_service_alerts",
        }
        command = shlex.split(next(line for line in lines if line.startswith("airflow ")))
        assert command[:4] == ["airflow", "connections", "add", "fxiaoke_default"]
        options = dict(zip(command[4::2], command[5::2], strict=True))
        assert options["--conn-type"] == "fxiaoke" and options["--conn-host"] == url
        assert (options["--conn-login"], options["--conn-password"]) == (DEFAULT_APP_ID, DEFAULT_APP_SECRET)
        assert json.loads(options["--conn-extra"]) == conn["extra"]
        # the printed credentials really work against this sandbox
        body = {
            "appId": conn["login"],
            "appSecret": conn["password"],
            "permanentCode": conn["extra"]["permanent_code"],
            "grantType": "app_secret",
        }
        token = requests.post(
            url + TOKEN_PATH, params={TRACE_QUERY_PARAM: str(uuid.uuid4())}, json=body, timeout=5
        ).json()
        assert token["errorCode"] == SUCCESS
        headers = {
            "authorization": f"Bearer {token['accessToken']}",
            "x-fs-ea": token["ea"],
            "x-fs-userid": conn["extra"]["user_id"],
        }
        send = {**TEXT, "serviceId": conn["extra"]["service_id"]}
        sent = requests.post(
            url + SERVICE_MESSAGE_SEND_PATH,
            params={TRACE_QUERY_PARAM: str(uuid.uuid4())},
            json=send,
            headers=headers,
            timeout=5,
        )
        assert sent.json()["errorCode"] == SUCCESS
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)


def test_cli_options_for_message_ids_and_aged_tokens():
    proc = _cli(
        "--port", "0", "--quiet", "--message-ids", "--initial-token-age", "6610", stderr=subprocess.PIPE
    )
    try:
        url = proc.stdout.readline().rsplit(" ", 1)[1].strip()
        params = {TRACE_QUERY_PARAM: str(uuid.uuid4())}
        answer = requests.post(url + TOKEN_PATH, params=params, json=TOKEN_BODY, timeout=5).json()
        assert answer["expiresIn"] in (589, 590)
        assert requests.get(url + "/__sandbox__/stats", timeout=5).json()["message_ids"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)


# --- rule 10: loopback only, by the sandbox's own rule -------------------------------------------
@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_own_loopback_rule(host, loopback):
    assert rules.is_loopback(host) is loopback


def test_listens_on_ipv6_loopback_when_available():
    try:
        gateway = SandboxGateway(host="::1", token_delay_s=0).start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert gateway.url.startswith("http://[::1]:")
        assert requests.get(gateway.url + "/__sandbox__/health", timeout=5).json() == {"status": "ok"}
    finally:
        gateway.stop()
