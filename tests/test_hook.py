"""``FxiaokeHook`` against the sandbox gateway over real HTTP on loopback."""

from __future__ import annotations

import logging
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest

from fxiaoke_provider.exceptions import (
    FxiaokeError,
    FxiaokeInvalidInputError,
    FxiaokeOutcomeUnknownError,
    FxiaokePermanentError,
    FxiaokeTokenExpiredError,
    FxiaokeTransientError,
)
from fxiaoke_provider.gateway.protocol import (
    DAILY_QUOTA_EXHAUSTED,
    LEGACY_TOKEN_PATH,
    RATE_LIMITED,
    TOKEN_EXPIRED,
    TOKEN_PATH,
    TOKEN_REISSUE_AFTER_S,
)
from fxiaoke_provider.gateway.tokens import AccessToken
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging.wire import (
    APP_MESSAGE_SEND_PATH,
    SERVICE_MESSAGE_REVOKE_PATH,
    SERVICE_MESSAGE_SEND_PATH,
)
from fxiaoke_provider.sandbox import DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, SandboxGateway
from tests.support import SERVICE_ID, FakeClock, article, card, requests_to


@pytest.fixture
def hook(sandbox: SandboxGateway, use_connection) -> FxiaokeHook:
    use_connection(sandbox)
    return FxiaokeHook()


# --- sending --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("msg_type", "message", "stored"),
    [
        ("text", "disk full on db-1", {"content": "disk full on db-1"}),
        ("composite", card(), card()),
        ("articles", [article(), article(type="URL", content="https://x.invalid")], None),
    ],
)
def test_send_as_the_connections_service_account(
    sandbox: SandboxGateway, hook: FxiaokeHook, msg_type: str, message: Any, stored: Any
) -> None:
    answers = hook.send_message(["1000", 1001], message, msg_type=msg_type)
    delivered = sandbox.messages()
    assert len(delivered) == 1
    record = delivered[0]
    assert record["path"] == SERVICE_MESSAGE_SEND_PATH
    assert record["serviceId"] == SERVICE_ID
    assert record["msgType"] == msg_type
    assert record["toUser"] == ["1000", "1001"]
    assert record["message"] == (stored if stored is not None else message)
    assert [a["traceId"] for a in answers] == [record["traceId"]]
    assert answers[0]["errorCode"] == 0


def test_service_id_argument_wins(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    hook.send_message(["1000"], "hi", service_id="FSAID_other_service")
    assert [(m["path"], m["serviceId"]) for m in sandbox.messages()] == [
        (SERVICE_MESSAGE_SEND_PATH, "FSAID_other_service")
    ]


def test_send_as_the_app_without_any_service_id(sandbox: SandboxGateway, use_connection) -> None:
    use_connection(sandbox, service_id="")  # an untouched form field: no service account
    hook = FxiaokeHook()
    hook.send_message(["1000"], card(), msg_type="composite")
    [record] = sandbox.messages()
    assert record["path"] == APP_MESSAGE_SEND_PATH
    assert record["serviceId"] is None
    assert requests_to(sandbox, SERVICE_MESSAGE_SEND_PATH) == []


def test_open_user_ids_are_sent_with_conversion(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    """The gateway accepts FSUID_ ids only with convertUserId, and employee ids only without it."""
    hook.send_message(["FSUID_alice", "FSUID_bob"], "hi")
    hook.send_message(["1000"], "hi")
    assert [m["toUser"] for m in sandbox.messages()] == [["FSUID_alice", "FSUID_bob"], ["1000"]]


def test_1234_recipients_go_out_in_three_ordered_batches(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    recipients = [str(100_000 + i) for i in range(1234)]
    answers = hook.send_message(recipients, "maintenance tonight")
    delivered = sandbox.messages()
    assert [len(m["toUser"]) for m in delivered] == [500, 500, 234]
    assert [m["toUser"] for m in delivered] == [recipients[:500], recipients[500:1000], recipients[1000:]]
    assert len(answers) == 3
    assert [a["traceId"] for a in answers] == [m["traceId"] for m in delivered]
    assert all(a["traceId"] for a in answers)
    assert len({a["traceId"] for a in answers}) == 3


def test_send_keeps_the_message_id_an_answer_carries(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    [plain] = hook.send_message(["1000"], "the documented answer has no messageId")
    assert "messageId" not in plain
    sandbox.set_message_ids(True)
    [sent] = hook.send_message(["1000"], "oops, wrong group")
    assert sent["messageId"] == sandbox.messages()[1]["messageId"] != sent["traceId"]


@pytest.mark.parametrize("path", [TOKEN_PATH, SERVICE_MESSAGE_SEND_PATH])
def test_gateway_text_echoing_credentials_is_redacted(
    sandbox: SandboxGateway, hook: FxiaokeHook, path
) -> None:
    """The gateway's errorMessage is untrusted: what it quotes of the request never reaches our text."""
    if path != TOKEN_PATH:
        hook.get_token()
    sandbox.add_fault(path, "echo_secrets", code=15003)
    with pytest.raises(FxiaokeError) as excinfo:
        hook.send_message(["1000"], "x")
    error = excinfo.value
    texts = [str(error), repr(error), error.error_message or "", str(pickle.loads(pickle.dumps(error)))]
    assert "errorCode 15003" in texts[0] and "***" in (error.error_message or "")
    for secret in [DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, *sandbox.issued_tokens()]:
        assert all(secret not in text for text in texts)


def test_revoke(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    sandbox.set_message_ids(True)
    [sent] = hook.send_message(["1000"], "oops, wrong group")
    answer = hook.revoke_message(sent["messageId"])
    assert answer["errorCode"] == 0
    [revoke] = sandbox.revokes()
    assert revoke["serviceId"] == SERVICE_ID
    assert revoke["messageId"] == sent["messageId"]
    assert revoke["matched"] is True
    assert sandbox.messages()[0]["revoked"] is True
    hook.revoke_message("another-id", service_id="FSAID_other")
    assert sandbox.revokes()[1]["serviceId"] == "FSAID_other"


def test_every_request_has_a_fresh_uuid4_third_trace_id(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    hook.send_message([str(i) for i in range(1, 1001)], "two batches")
    hook.send_message(["1000"], card(), msg_type="composite")
    hook.send_message(["1000"], "one more")
    hook.revoke_message("MSG-1")
    recorded = sandbox.requests()
    assert [r["path"] for r in recorded] == [TOKEN_PATH] + [SERVICE_MESSAGE_SEND_PATH] * 4 + [
        SERVICE_MESSAGE_REVOKE_PATH
    ]
    ids = [r["thirdTraceId"] for r in recorded]
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)
    assert len(set(ids)) == len(ids)
    assert sandbox.stats()["duplicate_third_trace_ids"] == 0


# --- tokens -----------------------------------------------------------------------------------
def test_token_is_fetched_once_for_many_calls(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    for i in range(5):
        hook.send_message(["1000"], f"message {i}")
    hook.revoke_message("x")
    FxiaokeHook().send_message(["1000"], "another task process, same machine")  # reads the shared file
    stats = sandbox.stats()
    assert stats["token_calls"] == 1
    assert stats["messages_delivered"] == 6


def test_token_is_renewed_once_the_gateway_reissues(sandbox: SandboxGateway, use_connection) -> None:
    use_connection(sandbox)
    clock = FakeClock()  # every hook reads token ages from it: a new hook is a later task process
    first = FxiaokeHook(clock=clock)
    first.send_message(["1000"], "first")
    first_value = first.get_token().value

    # Just before the renewal age: client and gateway both see a 6500 s old token; it is reused.
    for advance in (sandbox.advance_clock, clock.advance):
        advance(TOKEN_REISSUE_AFTER_S["header"] - 100)
    later = FxiaokeHook(clock=clock)
    later.send_message(["1000"], "second")
    assert sandbox.stats()["token_calls"] == 1
    assert later.get_token().value == first_value

    # Past it: the next hook asks again and the gateway, seeing the same age, hands out a new token.
    for advance in (sandbox.advance_clock, clock.advance):
        advance(101)
    renewing = FxiaokeHook(clock=clock)
    renewing.send_message(["1000"], "third")
    stats = sandbox.stats()
    assert stats["token_calls"] == 2
    assert stats["tokens_live"] == 2
    assert renewing.get_token().value != first_value
    assert AccessToken.from_json(Path(first.client.token_store.path).read_text()).value != first_value
    assert [m["message"]["content"] for m in sandbox.messages()] == ["first", "second", "third"]


def test_expired_token_is_renewed_once_and_the_call_retried_once(
    sandbox: SandboxGateway, hook: FxiaokeHook
) -> None:
    hook.send_message(["1000"], "warm-up")
    before = hook.get_token().value
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "expired-token")
    [answer] = hook.send_message(["1000"], "after expiry")
    assert [m["message"]["content"] for m in sandbox.messages()] == ["warm-up", "after expiry"]
    assert answer["traceId"] == sandbox.messages()[1]["traceId"]
    assert sandbox.stats()["token_calls"] == 2
    assert [r["errorCode"] for r in requests_to(sandbox, SERVICE_MESSAGE_SEND_PATH)] == [0, TOKEN_EXPIRED, 0]
    assert hook.get_token().value != before


def test_token_is_renewed_at_most_once_per_call(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    """A rate-limit retry in between does not earn the call a second renewal."""
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "expired-token")
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "error", code=RATE_LIMITED)
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "expired-token")
    with pytest.raises(FxiaokeTokenExpiredError):
        hook.send_message(["1000"], "never delivered")
    codes = [r["errorCode"] for r in requests_to(sandbox, SERVICE_MESSAGE_SEND_PATH)]
    assert codes == [TOKEN_EXPIRED, RATE_LIMITED, TOKEN_EXPIRED]
    assert sandbox.stats()["token_calls"] == 2
    assert sandbox.messages() == []


# --- session ----------------------------------------------------------------------------------
def test_one_keep_alive_session_per_hook(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    session = hook.session
    hook.send_message([str(i) for i in range(1, 1201)], "three requests")
    hook.send_message(["1000"], "and one more")
    hook.revoke_message("x")
    assert hook.session is session
    manager = session.get_adapter(sandbox.url).poolmanager
    pools = [manager.pools[key] for key in manager.pools.keys()]  # noqa: SIM118 (no __iter__)
    assert sandbox.stats()["requests"] == 6  # token + 4 sends + revoke
    assert len(pools) == 1
    assert pools[0].port == sandbox.port
    assert pools[0].num_requests == 6
    assert pools[0].num_connections == 1  # every request rode the same kept-alive connection
    assert FxiaokeHook().session is not session  # one per hook, not one per process


# --- gateway errors ---------------------------------------------------------------------------
def test_error_answer_carries_every_id(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "error", code=DAILY_QUOTA_EXHAUSTED)
    with pytest.raises(FxiaokePermanentError) as excinfo:
        hook.send_message(["1000"], "quota gone")
    error = excinfo.value
    [recorded] = requests_to(sandbox, SERVICE_MESSAGE_SEND_PATH)
    assert error.error_code == DAILY_QUOTA_EXHAUSTED
    assert error.error_message
    assert error.trace_id == recorded["traceId"]
    assert error.third_trace_id == recorded["thirdTraceId"]
    assert error.path == SERVICE_MESSAGE_SEND_PATH
    for value in ("30002", recorded["traceId"], recorded["thirdTraceId"], SERVICE_MESSAGE_SEND_PATH):
        assert value in str(error)
    assert not isinstance(error, (FxiaokeTransientError, FxiaokeOutcomeUnknownError))


# --- test_connection --------------------------------------------------------------------------
def test_test_connection_ok(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    ok, message = hook.test_connection()
    assert ok is True
    assert sandbox.url in message
    assert DEFAULT_APP_SECRET not in message and DEFAULT_PERMANENT_CODE not in message
    assert sandbox.stats()["token_calls_ok"] == 1


def test_test_connection_wrong_secret(sandbox: SandboxGateway, use_connection) -> None:
    wrong_secret = "wrong-secret-0c9d2e"
    use_connection(sandbox, "fxiaoke_wrong", fields={"password": wrong_secret})
    ok, message = FxiaokeHook("fxiaoke_wrong").test_connection()
    assert ok is False
    assert "FxiaokeAuthError" in message
    for secret in (wrong_secret, DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE):
        assert secret not in message
    assert sandbox.stats()["token_calls_ok"] == 0


def test_test_connection_bad_config_does_not_raise(sandbox: SandboxGateway, use_connection) -> None:
    use_connection(sandbox, "fxiaoke_badcfg", user_id="")
    ok, message = FxiaokeHook("fxiaoke_badcfg").test_connection()
    assert ok is False
    assert "user_id" in message and "fxiaoke_badcfg" in message
    assert DEFAULT_APP_SECRET not in message


# --- logs -------------------------------------------------------------------------------------
def test_logs_say_what_happened_without_content_or_secrets(
    sandbox: SandboxGateway, hook: FxiaokeHook, caplog
) -> None:
    content = "PRIVATE-CONTENT salary list 9f8e7d"
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "expired-token")  # also log the renewal path
    with caplog.at_level(logging.DEBUG):
        answers = hook.send_message([str(i) for i in range(1, 601)], content)
        token = hook.get_token().value
    text = "\n".join(record.getMessage() for record in caplog.records)
    sent_lines = [line for line in text.splitlines() if line.startswith("Sent Fxiaoke")]
    assert len(sent_lines) == 1
    assert "text message" in sent_lines[0]
    assert "600 recipient(s)" in sent_lines[0]
    for answer in answers:
        assert answer["traceId"] in sent_lines[0]
    assert "20016" in text  # the renewal is visible
    for secret in (content, "salary", DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, token):
        assert secret not in text


def test_error_text_holds_no_secret_or_token(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    hook.send_message(["1000"], "warm-up")
    token = hook.get_token().value
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "error", code=DAILY_QUOTA_EXHAUSTED)
    with pytest.raises(FxiaokeError) as excinfo:
        hook.send_message(["1000"], "secret plans")
    for secret in (DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, token, "secret plans"):
        assert secret not in str(excinfo.value)
        assert secret not in repr(excinfo.value)


# --- legacy auth, timeouts ----------------------------------------------------------------------
def test_legacy_auth_style_end_to_end(sandbox: SandboxGateway, use_connection) -> None:
    """Legacy style addresses open user ids as they are: no convertUserId, no acting user."""
    use_connection(sandbox, auth_style="legacy", user_id="")
    hook = FxiaokeHook()
    hook.send_message(["FSUID_ops1", "FSUID_ops2"], card(), msg_type="composite")
    hook.revoke_message("MSG-from-the-tenant")
    recorded = sandbox.requests()
    assert [r["path"] for r in recorded] == [
        LEGACY_TOKEN_PATH,
        SERVICE_MESSAGE_SEND_PATH,
        SERVICE_MESSAGE_REVOKE_PATH,
    ]
    assert [r["auth_style"] for r in recorded[1:]] == ["legacy", "legacy"]
    assert [r["errorCode"] for r in recorded] == [0, 0, 0]
    assert sandbox.messages()[0]["toUser"] == ["FSUID_ops1", "FSUID_ops2"]
    assert "convertUserId" not in sandbox.messages()[0]
    assert [r["messageId"] for r in sandbox.revokes()] == ["MSG-from-the-tenant"]


def test_header_auth_style_is_recorded(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    hook.send_message(["1000"], "x")
    assert [r["auth_style"] for r in requests_to(sandbox, SERVICE_MESSAGE_SEND_PATH)] == ["header"]


def test_hook_timeout_argument_applies(sandbox: SandboxGateway, use_connection) -> None:
    use_connection(sandbox, timeout=30)
    hook = FxiaokeHook(timeout=0.3)
    hook.get_token()
    sandbox.add_fault(SERVICE_MESSAGE_SEND_PATH, "delay", seconds=3)
    with pytest.raises(FxiaokeOutcomeUnknownError) as excinfo:
        hook.send_message(["1000"], "slow gateway")
    assert "no answer within 0.3s" in str(excinfo.value)
    assert excinfo.value.path == SERVICE_MESSAGE_SEND_PATH
    assert len(requests_to(sandbox, SERVICE_MESSAGE_SEND_PATH)) == 1  # outcome unknown: not repeated


# --- CRM through the hook: the client's capability, with Airflow's retry semantics stamped --------
def test_hook_reads_crm_records_through_its_client(sandbox: SandboxGateway, hook: FxiaokeHook) -> None:
    sandbox.seed_records("AccountObj", 250)
    ids = [record["_id"] for record in hook.iter_records("AccountObj", page_size=100)]
    assert len(ids) == len(set(ids)) == 250
    assert hook.get_record("AccountObj", ids[0])["_id"] == ids[0]
    with pytest.raises(FxiaokeInvalidInputError) as refused:
        hook.iter_records("AccountObj", page_size=1000)  # refused when called, not at the first record
    assert refused.value.retryable_by_airflow is False
