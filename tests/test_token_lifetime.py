"""``expiresIn`` is the remaining lifetime: a token handed out late in its life is used, not refetched.

The gateway hands out the SAME token until it is 6650 s old (header style), so asking sooner only
spends the token endpoint's 10 calls a minute. These runs start the sandbox with its current token
already 6610 s old, so a brand-new worker receives it with 590 s left.
"""

from __future__ import annotations

import time

import pytest

from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway.tokens import AccessToken
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.sandbox import SandboxGateway

SENDS = 20


class Clock:
    """Wall-clock seconds a test can move forward (injected into the hook)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def late_token_gateway():
    with SandboxGateway(port=0, token_delay_s=0, initial_token_age_s=6610) as gateway:
        yield gateway


def token_answers(gateway: SandboxGateway) -> list[dict]:
    return [r for r in gateway.requests() if r["path"] == protocol.TOKEN_PATH]


def test_new_worker_given_a_late_token_makes_one_token_call(late_token_gateway, use_connection):
    use_connection(late_token_gateway)
    clock = Clock()
    hook = FxiaokeHook(clock=clock)
    for i in range(SENDS):
        hook.send_message(["1000"], f"send {i}")
    token = hook.get_token()
    calls = late_token_gateway.stats()["token_calls"]
    left = f"{token.expires_in:.0f} s"
    print(f"\n{SENDS} sends by a new worker handed a token with {left} left: {calls} token call(s)")
    assert token.expires_in == pytest.approx(590, abs=2)  # the sandbox clock runs in real time
    assert calls == 1
    assert len(late_token_gateway.messages()) == SENDS

    # Once the gateway can hand out a new token (age 6650 s, 550 s left), one call renews it.
    late_token_gateway.advance_clock(41)
    clock.now += 41
    for i in range(SENDS):
        FxiaokeHook(clock=clock).send_message(["1000"], f"after renewal {i}")
    assert late_token_gateway.stats()["token_calls"] == 2
    assert FxiaokeHook(clock=clock).get_token().expires_in == protocol.TOKEN_LIFETIME_S


@pytest.mark.parametrize(
    ("style", "expires_in", "renew_after"),
    [
        ("header", 7200, 7200 - 550),  # renew when the gateway re-issues (age 6650 s)
        ("legacy", 7200, 7200 - 600),  # legacy re-issues at 6600 s
        ("header", 590, 40),  # handed out at age 6610 s: new one possible 40 s later
        ("header", 300, 240),  # already renewable when it arrived: used until 60 s before expiry
        ("header", 30, 30),  # almost gone: used until it expires, never refetched per call
    ],
)
def test_renewal_time_follows_the_gateway(style: str, expires_in: float, renew_after: float) -> None:
    token = AccessToken("t", "ea", obtained_at=1000.0, expires_in=expires_in, style=style)
    assert token.renew_at == pytest.approx(1000.0 + renew_after)
    assert token.fresh(1000.0 + renew_after - 0.001) and not token.fresh(1000.0 + renew_after)


def test_legacy_token_renewal_point_is_6600_seconds(use_connection):
    with SandboxGateway(port=0, token_delay_s=0, initial_token_age_s=6590) as gateway:
        use_connection(gateway, auth_style="legacy", user_id="")
        clock = Clock()
        hook = FxiaokeHook(clock=clock)
        hook.send_message(["FSUID_ops"], "first")
        assert hook.get_token().expires_in == pytest.approx(610, abs=2)
        clock.now += 5
        gateway.advance_clock(5)
        FxiaokeHook(clock=clock).send_message(["FSUID_ops"], "still the same token")
        assert gateway.stats()["token_calls"] == 1
        clock.now += 6
        gateway.advance_clock(6)
        FxiaokeHook(clock=clock).send_message(["FSUID_ops"], "renewed")
        assert gateway.stats()["token_calls"] == 2
