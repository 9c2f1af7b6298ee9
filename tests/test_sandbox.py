"""The sandbox gateway behaves like the documented Fxiaoke gateway, over real HTTP on loopback."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
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

from fxiaoke_provider.protocol import (
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
    TOKEN_LIFETIME_S,
    TOKEN_PATH,
    TOKEN_RENEW_AFTER_S,
    TRACE_QUERY_PARAM,
)
from fxiaoke_provider.sandbox import (
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_CORP_ID,
    DEFAULT_EA,
    DEFAULT_OPEN_USER_ID,
    DEFAULT_PERMANENT_CODE,
    INVALID_PARAMETER,
    SandboxGateway,
)
from fxiaoke_provider.sandbox.config import REDIRECT_LOCATION

ROOT = Path(__file__).resolve().parents[1]
TRACE_ID_RE = re.compile(r"E-O\.SBX\.\d+\.[0-9a-f]{8}")
SERVICE_ID = "FSAID_service01"
TEXT = {"toUser": ["1001", "1002"], "msgType": "text", "text": {"content": "hello from the sandbox"}}
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
    assert answer["expiresIn"] == TOKEN_LIFETIME_S and len(answer["accessToken"]) >= 32
    assert (answer["ea"], answer["appId"], answer["openUserId"]) == (
        DEFAULT_EA,
        DEFAULT_APP_ID,
        DEFAULT_OPEN_USER_ID,
    )


def test_legacy_style_token_answer(client):
    answer = client.call(LEGACY_TOKEN_PATH, LEGACY_TOKEN_BODY)
    assert answer["errorCode"] == SUCCESS
    assert answer["corpId"] == DEFAULT_CORP_ID and answer["expiresIn"] == TOKEN_LIFETIME_S
    assert answer["corpAccessToken"] and "accessToken" not in answer


def test_same_token_until_renew_age_then_new_one_while_old_stays_valid(client, gateway):
    first = client.header_token()
    gateway.advance_clock(100)
    again = client.call(TOKEN_PATH, TOKEN_BODY)
    assert again["accessToken"] == first
    assert TOKEN_LIFETIME_S - 101 <= again["expiresIn"] <= TOKEN_LIFETIME_S - 100
    gateway.advance_clock(TOKEN_RENEW_AFTER_S - 100)
    renewed = client.call(TOKEN_PATH, TOKEN_BODY)
    assert renewed["accessToken"] != first and renewed["expiresIn"] == TOKEN_LIFETIME_S
    assert client.send(TEXT, token=first)["errorCode"] == SUCCESS
    gateway.advance_clock(TOKEN_LIFETIME_S - TOKEN_RENEW_AFTER_S)
    assert client.send(TEXT, token=first)["errorCode"] == TOKEN_EXPIRED
    assert client.send(TEXT, token=renewed["accessToken"])["errorCode"] == SUCCESS


def test_token_expires_at_its_lifetime(client, gateway):
    header, legacy = client.header_token(), client.legacy_token()
    gateway.advance_clock(TOKEN_LIFETIME_S - 1)
    assert client.send(TEXT, token=header)["errorCode"] == SUCCESS
    assert client.send(TEXT, token=legacy, style="legacy")["errorCode"] == SUCCESS
    gateway.advance_clock(1)
    assert client.send(TEXT, token=header)["errorCode"] == TOKEN_EXPIRED
    assert client.send(TEXT, token=legacy, style="legacy")["errorCode"] == TOKEN_EXPIRED


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
    assert client.send(TEXT, token=client.legacy_token(), style="legacy")["errorCode"] == SUCCESS
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


def test_revoke_marks_the_message_and_always_succeeds(client, gateway, token):
    sent = client.send(TEXT, token=token)
    revoke = {"serviceId": SERVICE_ID, "messageId": sent["traceId"]}
    headers = client.headers(token)
    assert client.call(SERVICE_MESSAGE_REVOKE_PATH, revoke, headers=headers)["errorCode"] == SUCCESS
    unknown = {"serviceId": SERVICE_ID, "messageId": "E-O.unknown"}
    assert client.call(SERVICE_MESSAGE_REVOKE_PATH, unknown, headers=headers)["errorCode"] == SUCCESS
    assert gateway.messages()[0]["revoked"] is True
    assert [r["matched"] for r in gateway.revokes()] == [True, False]
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
    seconds = {"seconds": TOKEN_LIFETIME_S}
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
    client.send(TEXT, token=legacy, style="legacy")
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
