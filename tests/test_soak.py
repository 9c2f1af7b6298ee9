"""Soak: 2,000 messages through the sandbox while ~10% of requests meet a random fault.

Every message carries a unique id in its text. At the end each one is either recorded by the
sandbox exactly once, or was reported failed with the thirdTraceId of its last request: no silent
loss, no unreported duplicate. Unknown-outcome faults that still deliver (``deliver``) must be
recorded once AND reported as unknown. Pacing and the sandbox limits are off, waits are tiny.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from fxiaoke_provider.exceptions import (
    FxiaokeError,
    FxiaokeOutcomeUnknownError,
    FxiaokePermanentError,
    FxiaokeTransientError,
)
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.messaging import wire
from fxiaoke_provider.sandbox import SandboxGateway
from tests.support import SleepRecorder

MESSAGES = 2000
FAULT_RATE = 0.10
SEED = 20260101
CLIENT_TIMEOUT_S = 0.2
SEND = wire.SERVICE_MESSAGE_SEND_PATH

CHAOS = [
    # transient: refused before any work, retried
    {"kind": "error", "code": protocol.RATE_LIMITED},
    {"kind": "error", "code": protocol.CALL_LIMIT_EXCEEDED},
    {"kind": "error", "code": protocol.SYSTEM_BUSY},
    {"kind": "http", "status": 429},
    {"kind": "http", "status": 502},
    {"kind": "http", "status": 503},
    {"kind": "delay", "seconds": 0.01, "deliver": False},  # late "system busy"
    {"kind": "expired-token"},  # renewed, retried once
    # permanent: one request, reported
    {"kind": "error", "code": protocol.DAILY_QUOTA_EXHAUSTED},
    {"kind": "error", "code": protocol.NO_PERMISSION},
    {"kind": "non-json"},
    # outcome unknown: reported with the thirdTraceId, delivered or not
    {"kind": "error", "code": protocol.SERVICE_EXCEPTION},
    {"kind": "error", "code": protocol.SERVICE_EXCEPTION, "deliver": True},
    {"kind": "error", "code": protocol.SYSTEM_ERROR, "deliver": True},
    {"kind": "http", "status": 500},
    {"kind": "reset"},
    {"kind": "reset", "deliver": True},
    {"kind": "delay", "seconds": CLIENT_TIMEOUT_S + 0.05, "deliver": True},
]


@pytest.mark.slow
def test_soak_every_message_delivered_once_or_reported(use_connection, monkeypatch):
    gateway = SandboxGateway(port=0, token_delay_s=0, rate_limit_calls=0, token_calls_per_minute=0)
    with gateway:
        use_connection(
            gateway, rate_limit_calls=0, retry_max_wait=0.001, retry_max_attempts=5, timeout=CLIENT_TIMEOUT_S
        )
        retries = SleepRecorder(really_sleep=False)
        gateway.set_chaos(SEND, FAULT_RATE, CHAOS, seed=SEED)
        hook = FxiaokeHook(sleep=retries)
        ids = [f"soak-{n:04d}-{uuid.uuid4().hex[:12]}" for n in range(MESSAGES)]
        errors: dict[str, FxiaokeError] = {}
        for message_id in ids:
            try:
                hook.send_message(["1000"], f"message {message_id}")
            except FxiaokeError as error:
                errors[message_id] = error
        recorded = Counter(m["message"]["content"].split(" ", 1)[1] for m in gateway.messages())
        by_text = {m["message"]["content"].split(" ", 1)[1]: m for m in gateway.messages()}
        third_trace_ids = {r["thirdTraceId"] for r in gateway.requests()}
        stats = gateway.stats()

    assert set(recorded) <= set(ids), "the sandbox holds a message nobody sent"
    assert max(recorded.values()) == 1, "a message was delivered twice"
    counts: Counter[str] = Counter()
    for message_id in ids:
        error = errors.get(message_id)
        if error is None:
            assert recorded[message_id] == 1, f"{message_id} reported sent but not recorded"
            counts["delivered"] += 1
            continue
        assert error.third_trace_id in third_trace_ids, f"{message_id}: error without a real thirdTraceId"
        assert error.third_trace_id in str(error)
        if isinstance(error, FxiaokeOutcomeUnknownError):
            if recorded[message_id]:
                assert by_text[message_id]["thirdTraceId"] == error.third_trace_id
                counts["unknown outcome, delivered"] += 1
            else:
                counts["unknown outcome, not delivered"] += 1
        else:
            assert recorded[message_id] == 0, f"{message_id} reported failed but delivered"
            kind = "permanent" if isinstance(error, FxiaokePermanentError) else "transient exhausted"
            assert isinstance(error, (FxiaokePermanentError, FxiaokeTransientError))
            counts[f"failed {kind}"] += 1
    counts["retries"] = len(retries)

    assert sum(v for k, v in counts.items() if k != "retries") == MESSAGES
    assert counts["delivered"] > MESSAGES * 0.9
    for kind in (
        "failed permanent",
        "unknown outcome, delivered",
        "unknown outcome, not delivered",
        "retries",
    ):
        assert counts[kind] > 0, f"the chaos mix produced no {kind!r}: the soak proves less than it claims"
    assert stats["faults_injected"] > MESSAGES * FAULT_RATE * 0.7
