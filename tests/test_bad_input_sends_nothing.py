"""Bad input is refused with an error naming the field, before any request (not even a token call)."""

from __future__ import annotations

import json

import pytest

from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError, FxiaokeInvalidInputError
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

ARTICLE = {"title": "t", "coverImage": "m1", "type": "TEXT", "content": "c"}
CARD = {"head": {"title": "t"}, "link": {"title": "open", "url": "https://example.invalid/x"}}

#: (id, send_message kwargs, error class, text the error must contain)
MESSAGE_CASES = [
    ("no recipients", {"to_users": []}, "to_users: must contain at least one id"),
    ("recipients as one string", {"to_users": "1000"}, "to_users: must be a list of ids"),
    ("empty recipient id", {"to_users": ["1000", " "]}, "to_users[1]: must be a non-empty string"),
    ("id of no known kind", {"to_users": ["1000", "alice"]}, "to_users[1]: must be a CRM employee id"),
    ("text not UTF-8", {"message": "broken \udc80"}, "message (text content): is not valid Unicode text"),
    ("unknown msg_type", {"msg_type": "image"}, "msg_type: must be one of text, composite, articles"),
    ("empty text", {"message": "  "}, "message (text content): required, a non-empty string"),
    (
        "card without link",
        {"msg_type": "composite", "message": {"head": {"title": "t"}}},
        "message.link: must be a dict",
    ),
    (
        "card without title",
        {"msg_type": "composite", "message": {**CARD, "head": {}}},
        "message.head.title: required",
    ),
    ("8 articles", {"msg_type": "articles", "message": [ARTICLE] * 8}, "1 to 7 articles; got 8"),
    (
        "article title of 46 chars",
        {"msg_type": "articles", "message": [{**ARTICLE, "title": "x" * 46}]},
        "message[0].title: at most 45 characters",
    ),
    (
        "article author of 9 chars",
        {"msg_type": "articles", "message": [{**ARTICLE, "author": "x" * 9}]},
        "message[0].author: at most 8 characters",
    ),
    (
        "article description of 141 chars",
        {"msg_type": "articles", "message": [{**ARTICLE, "description": "x" * 141}]},
        "message[0].description: at most 140 characters",
    ),
    (
        "article without cover",
        {"msg_type": "articles", "message": [{**ARTICLE, "coverImage": ""}]},
        "message[0].coverImage: required",
    ),
    (
        "article type unknown",
        {"msg_type": "articles", "message": [{**ARTICLE, "type": "HTML"}]},
        "message[0].type: must be one of TEXT, URL",
    ),
    ("empty service id", {"service_id": " "}, "service_id: required, a non-empty string"),
]

#: (id, connection changes, text the error must contain)
CONNECTION_CASES = [
    ("no appId", {"login": ""}, "'fxiaoke_default' login: is required"),
    ("no appSecret", {"password": None}, "'fxiaoke_default' password: is required"),
    ("no permanent_code", {"extra": {"permanent_code": ""}}, "extra 'permanent_code': is required"),
    ("no user_id (header style)", {"extra": {"user_id": None}}, "extra 'user_id': is required"),
    ("user_id not digits", {"extra": {"user_id": "FSUID_x"}}, "must be a CRM employee id made of digits"),
    (
        "legacy user_id not an open id",
        {"extra": {"auth_style": "legacy", "user_id": "1000"}},
        "with auth_style 'legacy' must be an open user id (FSUID_...)",
    ),
    ("web site as host", {"host": "https://www.fxiaoke.com"}, "is the web site, not the OpenAPI host"),
    ("host with a path", {"host": "https://open.fxiaoke.com/cgi"}, "must not contain a path"),
    ("plain http to a remote host", {"host": "http://open.fxiaoke.com"}, "plain http would send credentials"),
    (
        "ca_bundle not a file",
        {"extra": {"ca_bundle": "/nonexistent.pem"}},
        "extra 'ca_bundle': must be the path",
    ),
    ("timeout not a number", {"extra": {"timeout": "soon"}}, "extra 'timeout': must be a number"),
    (
        "retry_max_attempts 0",
        {"extra": {"retry_max_attempts": 0}},
        "extra 'retry_max_attempts': must be >= 1",
    ),
    (
        "token_cache unknown",
        {"extra": {"token_cache": "redis"}},
        "extra 'token_cache': must be one of file, memory",
    ),
    (
        "auth_style unknown",
        {"extra": {"auth_style": "oauth"}},
        "extra 'auth_style': must be one of header, legacy",
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "text"), [c[1:] for c in MESSAGE_CASES], ids=[c[0] for c in MESSAGE_CASES]
)
def test_bad_message_sends_nothing(sandbox, use_connection, kwargs, text):
    use_connection(sandbox)
    call = {"to_users": ["1000"], "message": "hi", **kwargs}
    with pytest.raises(FxiaokeInvalidInputError) as info:
        FxiaokeHook().send_message(**call)
    assert text in str(info.value)
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    ("changes", "text"), [c[1:] for c in CONNECTION_CASES], ids=[c[0] for c in CONNECTION_CASES]
)
def test_bad_connection_sends_nothing(sandbox, use_connection, monkeypatch, changes, text):
    conn = use_connection(sandbox)
    extra = {**conn["extra"], **changes.pop("extra", {})}
    monkeypatch.setenv("AIRFLOW_CONN_FXIAOKE_DEFAULT", json.dumps({**conn, **changes, "extra": extra}))
    with pytest.raises(FxiaokeConnectionConfigError) as info:
        FxiaokeHook().send_message(["1000"], "hi")
    assert text in str(info.value)
    assert sandbox.requests() == []


def test_employee_ids_in_legacy_style_send_nothing(sandbox, use_connection):
    use_connection(sandbox, auth_style="legacy", user_id="")
    with pytest.raises(FxiaokeInvalidInputError) as info:
        FxiaokeHook().send_message(["FSUID_ops", "1000"], "hi")
    assert "to_users[1]: legacy auth style addresses people by open user ids (FSUID_...)" in str(info.value)
    assert sandbox.requests() == []
