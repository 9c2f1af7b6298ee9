"""The retry policies of one call, as ``tenacity`` objects: how often and how long to wait.

What is retried is not decided here but in ``outcomes`` (the one table):

- transient refusals are retried with exponential backoff and jitter, bounded by attempts and a
  ceiling;
- a business endpoint's call-limit refusal (30004, 14001) is retried by time, not attempts: each
  waits a random share of the endpoint's window, for up to ``CALL_LIMIT_PATIENCE_WINDOWS`` windows,
  so clients refused together spread out instead of returning in lockstep, and outlast the window
  they compete for;
- a rejected token (20016) is dropped by the caller and the call retried once at once with a fresh
  one (the "renewal" step); a second 20016 is final;
- an unknown outcome is retried only when the call is repeatable (declared where it is made) or the
  connection opted in to at-least-once delivery;
- the token endpoint's own call limit is waited out a whole window at a time (``patient_fetch``),
  so a crowd of new workers does not lose its alerts, whether or not the gateway counts refused
  calls in its window.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from fxiaoke_provider.exceptions import FxiaokeTransientError
from fxiaoke_provider.gateway import outcomes, protocol
from fxiaoke_provider.gateway.settings import RetrySettings

if TYPE_CHECKING:
    import tenacity

    from fxiaoke_provider.gateway.tokens import AccessToken

log = logging.getLogger(__name__)

INITIAL_WAIT_S = 0.5
JITTER_S = 0.5

#: After a refusal for the token endpoint's call limit, wait its whole window: only then can the
#: window have room even when the gateway counts refused calls in it (the refusal itself is in it).
TOKEN_WINDOW_S = protocol.TOKEN_ENDPOINT_WINDOW_S
#: Up to this much more, at random, so workers refused together do not return together.
TOKEN_JITTER_S = 10.0
#: Refusals waited out per call; the patience below allows exactly this many waits.
TOKEN_REFUSALS_WAITED = 2
#: Every wait of one call together, plus room for the token calls themselves: 2 x (60 + 10) + 10 s.
TOKEN_PATIENCE_S = TOKEN_REFUSALS_WAITED * (TOKEN_WINDOW_S + TOKEN_JITTER_S) + 10.0

#: Call-limit refusals of one call are waited out for this many of the endpoint's windows.
CALL_LIMIT_PATIENCE_WINDOWS = 3.0
#: Each such wait is a random share of the window in this range (1 to 10 s of a 20 s window).
CALL_LIMIT_WAIT_SHARES = (0.05, 0.5)

Sleep = Callable[[float], None]


def backoff_wait(
    attempt_number: int,
    max_wait_s: float,
    *,
    first_s: float = INITIAL_WAIT_S,
    jitter_s: float = JITTER_S,
    window_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt ``attempt_number``: ``first_s`` doubling (0.5, 1, 2, 4...)
    plus up to ``jitter_s`` of jitter, never more than ``max_wait_s`` in all.

    The jitter spreads the retries of parallel task processes that were refused in the same second,
    also once the waits reach the ceiling. (Written out because tenacity renamed the arguments of
    its own ``wait_exponential_jitter`` across versions.)

    With ``window_s`` (after a call-limit refusal) the wait is instead a uniform share of that
    window (``CALL_LIMIT_WAIT_SHARES``), still capped by ``max_wait_s``: clients refused in the same
    millisecond come back spread over half a window, not together after the same doubling.
    """
    if window_s is not None:
        low, high = (share * window_s for share in CALL_LIMIT_WAIT_SHARES)
        high = max(0.0, min(high, max_wait_s))
        return (rng or random).uniform(min(low, high / 2), high)
    exponential = first_s * 2 ** min(attempt_number - 1, 30)
    jitter = min(jitter_s, max_wait_s)
    if jitter <= 0:
        return max(0.0, min(exponential, max_wait_s))
    return min(exponential, max_wait_s - jitter) + (rng or random).uniform(0, jitter)


class _Renewal:
    """The 20016 step: one immediate retry per logical call, outside the backoff budget."""

    def __init__(self) -> None:
        self.used = False

    def wanted(self, action: outcomes.InCall) -> bool:
        if action is outcomes.InCall.RENEW and not self.used:
            self.used = True
            log.info("Fxiaoke token rejected (20016); renewing it and retrying once")
            return True
        return False


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "Fxiaoke request failed (attempt %d), retrying in %.2fs: %s", state.attempt_number, wait, error
    )


class _CallLimitPatience:
    """Call-limit refusals of one call: waited out by time from the first, not counted as attempts.

    A budget of attempts lasts as long as its waits (~31 s by default), whatever happens meanwhile;
    competing clients refused by a full window need the window to free AND to win a place in it, so
    their patience is measured against the window itself.
    """

    def __init__(self, window_s: float, clock: Callable[[], float]) -> None:
        self.window_s = window_s or protocol.RATE_LIMIT_WINDOW_S  # 0 turns pacing off, not the limit
        self.patience_s = CALL_LIMIT_PATIENCE_WINDOWS * self.window_s
        self.clock = clock
        self.first: float | None = None
        self.waits: dict[int, float] = {}  # attempt number -> the wait planned after it

    def wanted(self, attempt_number: int, max_wait_s: float) -> bool:
        """Plan the wait after this refusal; False once it would end past the patience."""
        now = self.clock()
        self.first = now if self.first is None else self.first
        wait = backoff_wait(attempt_number, max_wait_s, window_s=self.window_s)
        if now - self.first + wait > self.patience_s:
            log.warning(
                "Fxiaoke endpoint still refuses for its call limit after %.0fs; giving up", now - self.first
            )
            return False
        self.waits[attempt_number] = wait
        return True


def build_retrying(
    settings: RetrySettings,
    sleep: Sleep = time.sleep,
    repeatable: Callable[[], bool] = lambda: False,
    *,
    window_s: float = protocol.RATE_LIMIT_WINDOW_S,
    clock: Callable[[], float] = time.monotonic,
) -> tenacity.Retrying:
    """A fresh ``tenacity.Retrying`` for one logical call (tenacity and the renewal keep per-call state).

    ``repeatable()`` says whether the request that just failed may be repeated after an unknown
    outcome. Callers drop a rejected token before re-raising ``FxiaokeTokenExpiredError``; this
    policy then retries once without waiting. ``window_s`` is the endpoint's call-limit window, the
    measure of the patience with call-limit refusals (on ``clock``); those refusals do not count
    against ``max_attempts`` (but ``max_attempts=1`` still means no automatic retry at all).
    """
    import tenacity

    renewal = _Renewal()
    renewed_at: list[int] = []
    call_limit = _CallLimitPatience(window_s, clock)

    def should_retry(state: tenacity.RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if error is None:
            return False
        action = outcomes.in_call(
            error, repeatable=repeatable(), retry_unknown_outcome=settings.retry_unknown_outcome
        )
        if renewal.wanted(action):
            renewed_at.append(state.attempt_number)
            return True
        if action is outcomes.InCall.WAIT_OUT:  # 1 attempt: no automatic retry of any kind
            return settings.max_attempts > 1 and call_limit.wanted(state.attempt_number, settings.max_wait_s)
        return action is outcomes.InCall.RETRY

    def counted(attempt_number: int) -> int:
        """Attempts that count against ``max_attempts``: not the renewal, not call-limit refusals."""
        return attempt_number - len(renewed_at) - len(call_limit.waits)

    def wait(state: tenacity.RetryCallState) -> float:
        if renewed_at and renewed_at[-1] == state.attempt_number:
            return 0.0
        if state.attempt_number in call_limit.waits:
            return call_limit.waits[state.attempt_number]
        return backoff_wait(counted(state.attempt_number), settings.max_wait_s)

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number in call_limit.waits:
            return False  # the patience decided already (``should_retry``)
        return counted(state.attempt_number) >= settings.max_attempts

    return tenacity.Retrying(
        stop=stop,
        wait=wait,
        retry=should_retry,
        before_sleep=_log_retry,
        sleep=lambda seconds: sleep(seconds) if seconds > 0 else None,  # the renewal step does not wait
        reraise=True,
    )


def token_refusal_wait(rng: random.Random | None = None) -> float:
    """Seconds to wait after the token endpoint refused for its call limit: its window plus jitter.

    Asking again sooner cannot help against a limiter that counts refused calls: every early retry
    is one more call in the window and keeps it full for the crowd (12 workers retrying every few
    seconds keep a 10-a-minute window full for minutes). After a whole window, every call made
    before the refusal, the refusal included, has left it, under either kind of limiter.
    """
    return TOKEN_WINDOW_S + (rng or random).uniform(0, TOKEN_JITTER_S)


def patient_fetch(
    fetch: Callable[[], AccessToken],
    *,
    started: float | None = None,
    patience_s: float = TOKEN_PATIENCE_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Sleep = time.sleep,
    before_wait: Callable[[float], None] = lambda _seconds: None,
    rng: random.Random | None = None,
) -> AccessToken:
    """``fetch()``, retried while the token endpoint refuses for its call limit, up to ``patience_s``.

    The token endpoint allows 10 calls a minute: when more new workers than that start at once, the
    surplus is refused until the window has room again, which the normal backoff (~31 s) does not
    outlast. Each refusal is waited out a whole window plus jitter (``token_refusal_wait``), so the
    retries do not themselves keep the window full; such refusals are harmless to repeat.
    ``started`` (on ``clock``) lets several calls share one budget. Every other error is raised at
    once for the caller's own retry policy. ``before_wait`` may refuse a wait (the task's deadline)
    by raising.
    """
    rng = rng or random.Random()
    started = clock() if started is None else started
    attempt = 0
    while True:
        try:
            return fetch()
        except FxiaokeTransientError as error:
            if error.error_code not in protocol.CALL_LIMIT_CODES or error.path not in protocol.TOKEN_PATHS:
                raise
            attempt += 1
            wait = token_refusal_wait(rng)
            if clock() - started + wait > patience_s:
                raise
            log.warning(
                "Fxiaoke token endpoint refused (call limit, attempt %d); asking again in %.1fs, once "
                "its %.0fs window has passed",
                attempt,
                wait,
                TOKEN_WINDOW_S,
            )
            before_wait(wait)
            sleep(wait)
