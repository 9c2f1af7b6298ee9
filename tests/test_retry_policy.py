"""The one retry policy (``fxiaoke_provider.gateway.retry``) as the hook applies it, against the sandbox.

Transient failures are retried with exponential backoff and jitter within ``retry_max_attempts`` /
``retry_max_wait``, except refusals for a business endpoint's call limit, waited out by time (a
random share of the window each, for up to three windows); unknown outcomes are not (unless opted
in); permanent failures make exactly one request and never wait; one hook paces itself under the
per-endpoint limit; a split send that fails half-way says which batches went out.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NameResolutionError, NewConnectionError

from fxiaoke_provider.airflow_support.version_compat import AirflowFailException
from fxiaoke_provider.connection.config import DEFAULT_RETRY_MAX_ATTEMPTS, DEFAULT_RETRY_MAX_WAIT_S
from fxiaoke_provider.exceptions import (
    FxiaokeAuthError,
    FxiaokeOutcomeUnknownError,
    FxiaokePartialSendError,
    FxiaokePermanentError,
    FxiaokeTokenExpiredError,
    FxiaokeTransientError,
)
from fxiaoke_provider.gateway import outcomes, protocol, retry
from fxiaoke_provider.gateway.deadline import Deadline, FxiaokeDeadlineError
from fxiaoke_provider.gateway.pacing import EndpointPacer
from fxiaoke_provider.gateway.retry import TOKEN_PATIENCE_S
from fxiaoke_provider.gateway.transport import _request_error
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging import wire
from fxiaoke_provider.operators.fxiaoke import FxiaokeSendMessageOperator
from fxiaoke_provider.sandbox import SandboxGateway
from tests.support import FakeClock, RecordingTI, SleepRecorder, free_port, requests_to

SEND = wire.SERVICE_MESSAGE_SEND_PATH  # the test connection has a service_id


def send_requests(gateway: SandboxGateway) -> list[dict]:
    return requests_to(gateway, SEND)


@pytest.fixture
def sleeps() -> SleepRecorder:
    """The hook's injected ``sleep``: records each backoff wait and returns at once."""
    return SleepRecorder(really_sleep=False)


# --- backoff shape ------------------------------------------------------------------------------
def test_backoff_is_exponential_with_jitter_and_capped():
    for attempt in range(1, 8):
        base = retry.INITIAL_WAIT_S * 2 ** (attempt - 1)
        samples = [retry.backoff_wait(attempt, 1000) for _ in range(200)]
        assert all(base <= s <= base + retry.JITTER_S for s in samples)
        assert len(set(samples)) > 100  # jitter: parallel processes do not retry in lockstep
    assert all(retry.backoff_wait(attempt, 3.0) <= 3.0 for attempt in range(1, 40))
    assert retry.backoff_wait(5, 0) == 0


def test_defaults():
    assert (DEFAULT_RETRY_MAX_ATTEMPTS, DEFAULT_RETRY_MAX_WAIT_S) == (7, 30.0)


# --- transient: retried, bounded ---------------------------------------------------------------
def test_transient_failures_stop_after_retry_max_attempts(sandbox, use_connection, sleeps):
    use_connection(sandbox, retry_max_attempts=4, retry_max_wait=0.02)
    sandbox.add_fault(SEND, "error", count=50, code=protocol.SYSTEM_BUSY)
    with pytest.raises(FxiaokeTransientError, match="errorCode -1") as info:
        FxiaokeHook(sleep=sleeps).send_message(["1000"], "never")
    assert len(send_requests(sandbox)) == 4
    assert len(sleeps) == 3 and all(0 <= s <= 0.02 for s in sleeps)
    assert info.value.third_trace_id == send_requests(sandbox)[-1]["thirdTraceId"]
    assert sandbox.stats()["messages_delivered"] == 0


def test_hook_arguments_override_retry_extras(sandbox, use_connection, sleeps):
    use_connection(sandbox, retry_max_attempts=4, retry_max_wait=5)
    sandbox.add_fault(SEND, "http", count=50, status=503)
    with pytest.raises(FxiaokeTransientError, match="HTTP 503"):
        FxiaokeHook(retry_max_attempts=2, retry_max_wait=0.01, sleep=sleeps).send_message(["1000"], "never")
    assert len(send_requests(sandbox)) == 2
    assert sleeps and all(s <= 0.01 for s in sleeps)


def test_connection_refused_is_retried_then_transient(sandbox, use_connection, sleeps):
    use_connection(sandbox, fields={"host": f"http://127.0.0.1:{free_port()}"}, retry_max_attempts=3)
    with pytest.raises(FxiaokeTransientError, match="could not connect"):
        FxiaokeHook(sleep=sleeps).send_message(["1000"], "nobody listens")
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    "reason",
    [
        NameResolutionError("open.fxiaoke.example", None, OSError("Name or service not known")),
        NewConnectionError(None, "Connection refused"),
    ],
    ids=["dns", "refused"],
)
def test_never_connected_errors_map_to_transient(reason):
    error = requests.ConnectionError(MaxRetryError(None, "/cgi/app/message/send", reason))
    mapped = _request_error(error, SEND, "tid", 1.0)
    assert isinstance(mapped, FxiaokeTransientError)
    assert outcomes.is_retryable(mapped, retry_unknown_outcome=False)


def test_connect_timeout_maps_to_transient_and_read_timeout_to_unknown():
    connect = requests.exceptions.ConnectTimeout(MaxRetryError(None, "/", ConnectTimeoutError()))
    assert isinstance(_request_error(connect, SEND, "tid", 1.0), FxiaokeTransientError)
    read = _request_error(requests.exceptions.ReadTimeout(), SEND, "tid", 1.0)
    assert isinstance(read, FxiaokeOutcomeUnknownError) and read.third_trace_id == "tid"
    assert not outcomes.is_retryable(read, retry_unknown_outcome=False)


# --- outcome unknown: not retried unless opted in ----------------------------------------------
def test_outcome_unknown_is_not_retried_and_carries_the_third_trace_id(sandbox, use_connection, sleeps):
    use_connection(sandbox)
    sandbox.add_fault(SEND, "error", code=protocol.SERVICE_EXCEPTION, deliver=True)
    with pytest.raises(FxiaokeOutcomeUnknownError) as info:
        FxiaokeHook(sleep=sleeps).send_message(["1000"], "maybe")
    (request,) = send_requests(sandbox)
    assert info.value.third_trace_id == request["thirdTraceId"]
    assert info.value.third_trace_id in str(info.value)
    assert sleeps == []
    assert len(sandbox.messages()) == 1  # it WAS delivered; retrying would have sent it twice


@pytest.mark.parametrize("where", ["extra", "hook argument"])
def test_retry_unknown_outcome_opt_in_retries(sandbox, use_connection, sleeps, where):
    use_connection(sandbox, **({"retry_unknown_outcome": True} if where == "extra" else {}))
    hook = FxiaokeHook(retry_unknown_outcome=True if where == "hook argument" else None, sleep=sleeps)
    sandbox.add_fault(SEND, "error", code=protocol.SERVICE_EXCEPTION, deliver=True)
    hook.send_message(["1000"], "at least once")
    assert len(send_requests(sandbox)) == 2
    assert len(sleeps) == 1
    assert len(sandbox.messages()) == 2  # the documented price of at-least-once delivery


def test_lookup_with_unknown_outcome_is_retried(sandbox, use_connection, sleeps):
    """An address-book lookup changes nothing on the gateway, so a dropped one is retried by default."""
    use_connection(sandbox)
    sandbox.add_fault(wire.USER_BY_MOBILE_PATH, "reset")
    FxiaokeHook(sleep=sleeps).send_message(None, "after a dropped lookup", to_mobiles=["13800001001"])
    lookups = [r for r in sandbox.requests() if r["path"] == wire.USER_BY_MOBILE_PATH]
    assert len(lookups) == 2
    assert len(sleeps) == 1
    assert len(sandbox.messages()) == 1


def test_token_request_with_unknown_outcome_is_retried(sandbox, use_connection, sleeps):
    """Asking for a token twice is harmless, so a dropped token call is retried even by default."""
    use_connection(sandbox)
    sandbox.add_fault(protocol.TOKEN_PATH, "reset")
    FxiaokeHook(sleep=sleeps).send_message(["1000"], "after a dropped token call")
    token_calls = requests_to(sandbox, protocol.TOKEN_PATH)
    assert len(token_calls) == 2
    assert len(sleeps) == 1
    assert len(sandbox.messages()) == 1


# --- permanent: one request, no backoff ---------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    [
        protocol.DAILY_QUOTA_EXHAUSTED,
        protocol.NO_QUOTA,
        protocol.APP_DISABLED,
        protocol.APP_NOT_AUTHORISED,
        protocol.NO_PERMISSION,
        protocol.NO_CREDENTIALS,
    ],
)
def test_permanent_codes_fail_at_once(sandbox, use_connection, sleeps, code):
    use_connection(sandbox)
    sandbox.add_fault(SEND, "error", code=code)
    with pytest.raises(FxiaokePermanentError, match=f"errorCode {code}"):
        FxiaokeHook(sleep=sleeps).send_message(["1000"], "doomed")
    assert len(send_requests(sandbox)) == 1
    assert sleeps == []


def test_bad_credentials_fail_at_once(sandbox, use_connection, sleeps):
    use_connection(sandbox, fields={"password": "not-the-secret"})
    with pytest.raises(FxiaokeAuthError, match="errorCode 10006"):
        FxiaokeHook(sleep=sleeps).send_message(["1000"], "doomed")
    assert sandbox.stats()["token_calls"] == 1
    assert send_requests(sandbox) == []
    assert sleeps == []


# --- 20016: renew once ------------------------------------------------------------------------
def test_token_expired_twice_fails_after_one_renewal(sandbox, use_connection, sleeps):
    use_connection(sandbox)
    sandbox.add_fault(SEND, "expired-token", count=2)
    with pytest.raises(FxiaokeTokenExpiredError):
        FxiaokeHook(sleep=sleeps).send_message(["1000"], "doomed")
    assert len(send_requests(sandbox)) == 2
    assert sandbox.stats()["token_calls"] == 2
    assert sleeps == []


def test_token_endpoint_failures_are_retried_by_one_loop_only(sandbox, use_connection):
    """A token refusal (call limit) is waited out past the endpoint's 60 s window once per call; the
    outer retry loop does not multiply that patience (nested retries would hammer 10/min)."""
    use_connection(sandbox, retry_max_attempts=3)
    sandbox.add_fault(protocol.TOKEN_PATH, "error", count=50, code=protocol.CALL_LIMIT_EXCEEDED)
    clock = FakeClock()
    waits = SleepRecorder(clock=clock)
    with pytest.raises(FxiaokeTransientError, match="errorCode 14001"):
        FxiaokeHook(sleep=waits, clock=clock).send_message(["1000"], "no token")
    # the patient waits share one budget per call: the loop's 3 attempts do not triple them
    assert 60 < clock.now - 1_000.0 <= TOKEN_PATIENCE_S + 2 * DEFAULT_RETRY_MAX_WAIT_S
    assert sandbox.stats()["token_calls"] <= 16 and len(waits) == sandbox.stats()["token_calls"] - 1


# --- what Airflow does with each kind -----------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "extra", "expected"),
    [
        ({"kind": "error", "code": protocol.NO_QUOTA}, {}, AirflowFailException),
        ({"kind": "redirect"}, {}, AirflowFailException),
        (  # waited out for 3 windows of 0.2 s, then handed to Airflow
            {"kind": "error", "code": protocol.RATE_LIMITED, "count": 10_000},
            {"rate_limit_window": 0.2, "retry_max_wait": 0.02},
            FxiaokeTransientError,
        ),
        ({"kind": "http", "status": 503, "count": 9}, {}, FxiaokeTransientError),
        ({"kind": "error", "code": protocol.SERVICE_EXCEPTION}, {}, AirflowFailException),
        (
            {"kind": "error", "code": protocol.SERVICE_EXCEPTION, "count": 9},
            {"retry_unknown_outcome": True},
            FxiaokeOutcomeUnknownError,
        ),
    ],
    ids=["permanent", "wrong-host", "30004-exhausted", "503-exhausted", "unknown", "unknown-opted-in"],
)
def test_operator_fails_for_good_only_when_retrying_cannot_help(
    sandbox, use_connection, fault, extra, expected
):
    use_connection(sandbox, **{"retry_max_attempts": 2, "retry_max_wait": 0, **extra})
    spec = dict(fault)
    sandbox.add_fault(SEND, spec.pop("kind"), count=spec.pop("count", 1), **spec)
    op = FxiaokeSendMessageOperator(task_id="send", to_users=["1000"], message="hi")
    with pytest.raises(expected) as info:
        op.execute({"ti": RecordingTI()})
    if expected is not AirflowFailException:
        assert not isinstance(info.value, AirflowFailException)  # Airflow's task retries apply


def test_operator_fails_for_good_on_bad_input_and_bad_connection(sandbox, use_connection):
    use_connection(sandbox, retry_max_attempts="many")
    op = FxiaokeSendMessageOperator(task_id="send", to_users=["1000"], message="hi")
    with pytest.raises(AirflowFailException, match="retry_max_attempts"):
        op.execute({"ti": RecordingTI()})
    assert sandbox.requests() == []


# --- pacing -----------------------------------------------------------------------------------
def test_pacer_makes_the_101st_request_wait_until_the_window_frees():
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    pacer = EndpointPacer(protocol.RATE_LIMIT_CALLS, protocol.RATE_LIMIT_WINDOW_S, lambda: now[0], sleep)
    started: list[float] = []
    for _ in range(120):
        with pacer.slot(SEND):
            started.append(now[0])
            now[0] += 0.01  # each answer takes 10 ms
    assert started[:100] == [pytest.approx(0.01 * i) for i in range(100)]
    assert sleeps[0] == pytest.approx(protocol.RATE_LIMIT_WINDOW_S - 0.99)  # until the first one ages out
    assert started[100] == pytest.approx(protocol.RATE_LIMIT_WINDOW_S + 0.01)
    # in every window of 20 s at most 100 requests started
    for i in range(len(started) - protocol.RATE_LIMIT_CALLS):
        assert started[i + protocol.RATE_LIMIT_CALLS] - started[i] >= protocol.RATE_LIMIT_WINDOW_S
    # only the 101st waited: after it, each new request finds the oldest one just aged out
    assert sum(sleeps) == pytest.approx(protocol.RATE_LIMIT_WINDOW_S - 0.99)
    assert started[119] - started[100] == pytest.approx(19 * 0.01)
    waited = len(sleeps)
    with pacer.slot(protocol.TOKEN_PATH):  # another endpoint has its own budget
        pass
    assert len(sleeps) == waited


def test_pacer_disabled_by_zero():
    pacer = EndpointPacer(0, 20.0, sleep=lambda s: pytest.fail("must not wait"))
    for _ in range(500):
        with pacer.slot(SEND):
            pass


def test_paced_fan_out_gets_no_30004_from_a_small_window(use_connection):
    """Four threads share one hook and send 4x the limit: the hook waits, the gateway never refuses."""
    with SandboxGateway(port=0, token_delay_s=0, rate_limit_calls=8, rate_limit_window_s=0.5) as gateway:
        use_connection(gateway, token_cache="memory", rate_limit_calls=8, rate_limit_window=0.5)
        _fan_out_through_one_hook(sends=32)
        stats = gateway.stats()
    assert stats["error_codes"].get(str(protocol.RATE_LIMITED), 0) == 0
    assert stats["messages_delivered"] == 32


def test_unpaced_fan_out_does_get_30004_from_the_same_kind_of_window(use_connection):
    """The contrast: with pacing off the gateway refuses (window long enough to never free in time)."""
    with SandboxGateway(port=0, token_delay_s=0, rate_limit_calls=8, rate_limit_window_s=30) as gateway:
        use_connection(gateway, token_cache="memory", rate_limit_calls=0, retry_max_attempts=1)
        _fan_out_through_one_hook(sends=32, tolerate=FxiaokeTransientError)
        stats = gateway.stats()
    assert stats["error_codes"].get(str(protocol.RATE_LIMITED), 0) == 24
    assert stats["messages_delivered"] == 8


def _fan_out_through_one_hook(sends: int, tolerate: type[Exception] | tuple = ()) -> None:
    hook = FxiaokeHook()

    def one(i: int) -> None:
        with contextlib.suppress(tolerate):
            hook.send_message(["1000"], f"fan {i}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(sends)))


# --- split sends -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (protocol.DAILY_QUOTA_EXHAUSTED, FxiaokePermanentError),
        (protocol.SERVICE_EXCEPTION, FxiaokeOutcomeUnknownError),
    ],
)
def test_failure_in_the_middle_of_a_split_send_names_what_went_out(
    sandbox, use_connection, monkeypatch, code, cause
):
    use_connection(sandbox)
    hook = FxiaokeHook()
    real_post = hook.client._post

    def post_then_arm(path, body, headers=None, before_send=None, **kwargs):
        answer = real_post(path, body, headers, before_send, **kwargs)
        if path == SEND:  # after the first batch is answered, the gateway starts refusing
            sandbox.add_fault(SEND, "error", code=code)
        return answer

    monkeypatch.setattr(hook.client, "_post", post_then_arm)
    recipients = [str(1000 + i) for i in range(1200)]  # 3 requests: 500, 500, 200
    with pytest.raises(FxiaokePartialSendError) as info:
        hook.send_message(recipients, "split")
    error = info.value
    (delivered,) = sandbox.messages()
    assert len(delivered["toUser"]) == 500
    assert [b.index for b in error.delivered] == [0]
    assert error.delivered_trace_ids == [delivered["traceId"]]
    assert error.failed.index == 1 and error.failed.recipients == 500
    assert [(b.index, b.recipients) for b in error.not_sent] == [(2, 200)]
    assert isinstance(error.cause, cause)
    assert error.third_trace_id == send_requests(sandbox)[-1]["thirdTraceId"]
    text = str(error)
    assert delivered["traceId"] in text and "batch #2 of 3" in text and "not sent: #3" in text
    assert not error.retryable_by_airflow  # a repeat would deliver batch #1 again


# --- call-limit refusals: waited out by time --------------------------------------------------
def test_call_limit_waits_are_a_spread_share_of_the_window_and_capped():
    samples = [retry.backoff_wait(1, 30.0, window_s=20.0) for _ in range(2000)]
    assert all(1.0 <= s <= 10.0 for s in samples)
    assert min(samples) < 2.0 and max(samples) > 9.0  # spread over the range, not one schedule
    assert len({round(s, 3) for s in samples}) > 1000
    # the attempt number does not grow the wait: refused clients do not double up in lockstep
    assert all(1.0 <= retry.backoff_wait(6, 30.0, window_s=20.0) <= 10.0 for _ in range(200))
    assert all(retry.backoff_wait(1, 3.0, window_s=20.0) <= 3.0 for _ in range(200))  # retry_max_wait
    assert retry.backoff_wait(1, 0, window_s=20.0) == 0


def test_call_limit_refusals_outlast_the_attempt_budget_within_the_patience(sandbox, use_connection):
    """Nine refusals: more than the 7 attempts allow, but within 3 windows (60 s) they are waited out."""
    use_connection(sandbox, retry_max_wait=5)  # waits of 1..5 s: 9 of them fit in 60 s
    clock = FakeClock()
    waits = SleepRecorder(clock=clock)
    hook = FxiaokeHook(sleep=waits, clock=clock)
    hook.get_token()
    sandbox.add_fault(SEND, "error", count=9, code=protocol.RATE_LIMITED)
    hook.send_message(["1000"], "after nine refusals")
    assert len(send_requests(sandbox)) == 10 > DEFAULT_RETRY_MAX_ATTEMPTS
    assert len(waits) == 9 and all(1.0 <= w <= 5.0 for w in waits)
    assert len(sandbox.messages()) == 1


def test_call_limit_refusals_do_not_use_up_the_attempts_of_other_failures(sandbox, use_connection, sleeps):
    """Refusals for the call limit, then busy answers: the busy ones still get their 3 attempts."""
    use_connection(sandbox, retry_max_attempts=3)
    hook = FxiaokeHook(sleep=sleeps)
    hook.get_token()
    sandbox.add_fault(SEND, "error", count=4, code=protocol.CALL_LIMIT_EXCEEDED)
    hook.send_message(["1000"], "after four refusals")
    sandbox.add_fault(SEND, "error", count=4, code=protocol.RATE_LIMITED)
    sandbox.add_fault(SEND, "error", count=2, code=protocol.SYSTEM_BUSY)
    hook.send_message(["1000"], "after refusals and two busy answers")
    assert len(sandbox.messages()) == 2
    assert len(send_requests(sandbox)) == 5 + 7


def test_call_limit_refusal_past_the_patience_raises(sandbox, use_connection):
    use_connection(sandbox, retry_max_wait=30)  # the default ceiling: waits of 1..10 s of a 20 s window
    clock = FakeClock()
    waits = SleepRecorder(clock=clock)
    hook = FxiaokeHook(sleep=waits, clock=clock)
    hook.get_token()
    sandbox.add_fault(SEND, "error", count=10_000, code=protocol.RATE_LIMITED)
    with pytest.raises(FxiaokeTransientError, match="errorCode 30004"):
        hook.send_message(["1000"], "never")
    patience = retry.CALL_LIMIT_PATIENCE_WINDOWS * protocol.RATE_LIMIT_WINDOW_S
    # it stopped when the next wait (at most 10 s) would have ended past the patience, not before
    assert patience - 10.0 < sum(waits) <= patience
    assert all(1.0 <= w <= 10.0 for w in waits)
    assert len(send_requests(sandbox)) == len(waits) + 1
    assert sandbox.messages() == []


def test_one_attempt_still_means_no_automatic_retry_of_a_call_limit_refusal(sandbox, use_connection, sleeps):
    use_connection(sandbox, retry_max_attempts=1)
    sandbox.add_fault(SEND, "error", count=1, code=protocol.RATE_LIMITED)
    with pytest.raises(FxiaokeTransientError, match="errorCode 30004"):
        FxiaokeHook(sleep=sleeps).send_message(["1000"], "not retried")
    assert len(send_requests(sandbox)) == 1 and sleeps == []


def test_the_deadline_stops_call_limit_waits(sandbox, use_connection):
    use_connection(sandbox, retry_max_wait=30)
    clock = FakeClock()
    waits = SleepRecorder(clock=clock)
    hook = FxiaokeHook(sleep=waits, clock=clock)
    hook.get_token()
    hook.client.deadline = Deadline(clock.now + 15.0, 0.0, clock)  # well inside the 60 s patience
    sandbox.add_fault(SEND, "error", count=10_000, code=protocol.RATE_LIMITED)
    with pytest.raises(FxiaokeDeadlineError):
        hook.send_message(["1000"], "never")
    assert waits and sum(waits) <= 15.0
    assert len(send_requests(sandbox)) == len(waits) + 1


def test_two_30004_with_the_defaults_wait_a_share_of_the_window(sandbox, use_connection, sleeps):
    """Was: 0.5 s then 1 s (the exponential schedule, the old rule for call-limit refusals)."""
    use_connection(sandbox, retry_max_wait=None)  # the defaults: 20 s window, 30 s cap
    hook = FxiaokeHook(sleep=sleeps)
    hook.get_token()
    sandbox.add_fault(SEND, "error", count=2, code=protocol.RATE_LIMITED)
    hook.send_message(["1000"], "after two refusals")
    assert len(sleeps) == 2
    assert all(1.0 <= s <= 10.0 for s in sleeps)
    assert len(sandbox.messages()) == 1


def test_two_busy_answers_with_the_default_backoff_wait_half_a_second_then_one(
    sandbox, use_connection, sleeps
):
    use_connection(sandbox, retry_max_wait=None)  # the defaults: 0.5 s doubling, 30 s cap
    hook = FxiaokeHook(sleep=sleeps)
    hook.get_token()
    sandbox.add_fault(SEND, "error", count=2, code=protocol.SYSTEM_BUSY)
    hook.send_message(["1000"], "after two busy answers")
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 1.5
    assert len(sandbox.messages()) == 1
