"""Every fault the gateway (or what stands in front of it) can produce, and what the hook makes of it.

Each row injects one fault into the sandbox, sends one message and checks the outcome against what
the sandbox recorded. Outcomes:

* ``delivered``: the message is recorded exactly once;
* ``failed fast``: a permanent error naming the code (or HTTP status), after exactly one request;
* ``unknown``: ``FxiaokeOutcomeUnknownError`` with the request's thirdTraceId, not retried; the
  sandbox recorded the message once if the fault let it through (``deliver``), else not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from fxiaoke_provider.exceptions import (
    FxiaokeAuthError,
    FxiaokeOutcomeUnknownError,
    FxiaokePermanentError,
    FxiaokeWrongHostError,
)
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging import wire
from tests.support import SleepRecorder, requests_to

SEND = wire.SERVICE_MESSAGE_SEND_PATH
TOKEN = protocol.TOKEN_PATH
DELIVERED, FAILED_FAST, UNKNOWN = "delivered exactly once", "failed fast", "outcome unknown"
CLIENT_TIMEOUT_S = 0.3
WRONG_HOST = "the host is probably wrong"


@dataclass(frozen=True)
class Row:
    kind: str
    params: dict = field(default_factory=dict)
    outcome: str = DELIVERED
    path: str = SEND
    error: type[Exception] | None = None  # default: by outcome
    in_message: str = ""
    recorded: int = 0  # for UNKNOWN: how many times the sandbox recorded the message
    token_calls: int = 1

    @property
    def expected_error(self) -> type[Exception]:
        if self.error is not None:
            return self.error
        return FxiaokeOutcomeUnknownError if self.outcome == UNKNOWN else FxiaokePermanentError


def code(value: int, outcome: str, **kw) -> tuple[str, Row]:
    row = Row("error", {"code": value}, outcome, in_message=f"errorCode {value}", **kw)
    return f"code {value}", row


TABLE = dict(
    [
        (
            "credentials echoed in errorMessage",
            Row("echo_secrets", {"code": protocol.NO_QUOTA}, FAILED_FAST, in_message="errorCode 30003"),
        ),
        code(protocol.RATE_LIMITED, DELIVERED),
        code(protocol.CALL_LIMIT_EXCEEDED, DELIVERED),
        code(protocol.SYSTEM_BUSY, DELIVERED),
        code(protocol.DAILY_QUOTA_EXHAUSTED, FAILED_FAST),
        code(protocol.NO_QUOTA, FAILED_FAST),
        code(protocol.APP_DISABLED, FAILED_FAST),
        code(protocol.APP_NOT_AUTHORISED, FAILED_FAST),
        code(protocol.NO_PERMISSION, FAILED_FAST),
        code(protocol.NO_CREDENTIALS, FAILED_FAST, error=FxiaokeAuthError),
        code(protocol.SERVICE_EXCEPTION, UNKNOWN),
        code(protocol.SYSTEM_ERROR, UNKNOWN),
        ("code 50009 +deliver", Row("error", {"code": 50009, "deliver": True}, UNKNOWN, recorded=1)),
        # 20016 without expiring the token: the renewal hands out the same token, the retry delivers
        code(protocol.TOKEN_EXPIRED, DELIVERED, token_calls=2),
        (
            "code 10006 on the token path",
            Row("error", {"code": 10006}, FAILED_FAST, TOKEN, FxiaokeAuthError, "errorCode 10006"),
        ),
        (
            "code 14001 on the token path",
            Row("error", {"code": protocol.CALL_LIMIT_EXCEEDED}, DELIVERED, TOKEN, token_calls=2),
        ),
        ("expired token", Row("expired-token", outcome=DELIVERED, token_calls=2)),
        ("HTML 502", Row("http", {"status": 502})),
        ("HTML 503", Row("http", {"status": 503})),
        ("HTML 504", Row("http", {"status": 504})),
        ("HTTP 429", Row("http", {"status": 429})),
        ("HTML 500", Row("http", {"status": 500}, UNKNOWN, in_message="HTTP 500")),
        ("connection reset", Row("reset", {}, UNKNOWN, in_message="connection dropped")),
        ("connection reset +deliver", Row("reset", {"deliver": True}, UNKNOWN, recorded=1)),
        (
            "delay beyond the client timeout",
            Row("delay", {"seconds": CLIENT_TIMEOUT_S + 0.4}, UNKNOWN, in_message="no answer", recorded=1),
        ),
        ("delay within the client timeout", Row("delay", {"seconds": 0.05})),
        ("non-JSON body", Row("non-json", {}, FAILED_FAST, SEND, FxiaokeWrongHostError, WRONG_HOST)),
        # never followed: a redirect would carry the credentials to another host
        ("redirect", Row("redirect", {}, FAILED_FAST, SEND, FxiaokeWrongHostError, "a redirect to")),
        (
            "non-JSON body on the token path",
            Row("non-json", {}, FAILED_FAST, TOKEN, FxiaokeWrongHostError, WRONG_HOST),
        ),
    ]
)


@pytest.mark.parametrize("row", TABLE.values(), ids=TABLE.keys())
def test_fault(sandbox, use_connection, row: Row):
    use_connection(sandbox, timeout=CLIENT_TIMEOUT_S)
    sleeps = SleepRecorder(really_sleep=False)
    sandbox.add_fault(row.path, row.kind, **row.params)
    hook = FxiaokeHook(sleep=sleeps)
    text = f"fault-table {row.kind} {row.params}"

    if row.outcome == DELIVERED:
        hook.send_message(["1000"], text)
        assert [m["message"]["content"] for m in sandbox.messages()] == [text]
        assert sandbox.stats()["token_calls"] == row.token_calls
        return

    with pytest.raises(row.expected_error) as info:
        hook.send_message(["1000"], text)
    error = info.value
    on_path = requests_to(sandbox, row.path)
    assert len(on_path) == 1, "exactly one request, no retry"
    assert sleeps == [], "no backoff"
    assert row.in_message in str(error)
    assert error.third_trace_id == on_path[0]["thirdTraceId"]
    assert error.third_trace_id in str(error)
    if row.outcome == FAILED_FAST:
        assert not isinstance(error, FxiaokeOutcomeUnknownError)
        assert sandbox.messages() == []
    else:
        assert isinstance(error, FxiaokeOutcomeUnknownError)
        delivered = sandbox.messages()
        assert len(delivered) == row.recorded
        if delivered:  # the id the user reports is the one the gateway saw
            assert delivered[0]["thirdTraceId"] == error.third_trace_id


def test_the_table_covers_every_fault_kind():
    from fxiaoke_provider.sandbox import FAULT_KINDS

    assert {row.kind for row in TABLE.values()} == set(FAULT_KINDS)
