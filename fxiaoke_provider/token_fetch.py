"""Patient token fetching: outlast the token endpoint's one-minute window instead of giving up.

The token endpoint allows 10 calls a minute. When more new workers than that start at once (one
pod per task, each with an empty disk), the surplus is refused until the oldest calls leave the
60 s window; the normal retry policy's ~31 s of backoff ends before that and the alert is lost.
Such refusals of a token request are harmless to repeat, so they are retried here for a bounded
time longer than the window, with growing waits and jitter so refused workers do not return in step.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from fxiaoke_provider import protocol
from fxiaoke_provider.exceptions import FxiaokeTransientError
from fxiaoke_provider.token_store import AccessToken

log = logging.getLogger(__name__)

#: Longer than the token endpoint's 60 s window, so a refused fetch sees the window slide.
TOKEN_PATIENCE_S = 75.0
FIRST_WAIT_S = 1.0
MAX_WAIT_S = 10.0
JITTER_S = 1.0
#: The answers of a token endpoint over its call limit; anything else is the caller's to retry.
LIMIT_CODES = frozenset({protocol.RATE_LIMITED, protocol.CALL_LIMIT_EXCEEDED})


def token_wait(attempt: int, rng: random.Random) -> float:
    """Seconds to wait after refused attempt ``attempt``: 1, 2, 4, 8, 10, 10... plus up to 1 of jitter."""
    return min(FIRST_WAIT_S * 2 ** min(attempt - 1, 10), MAX_WAIT_S) + rng.uniform(0, JITTER_S)


def patient_fetch(
    fetch: Callable[[], AccessToken],
    *,
    started: float | None = None,
    patience_s: float = TOKEN_PATIENCE_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    before_wait: Callable[[float], None] = lambda _seconds: None,
    rng: random.Random | None = None,
) -> AccessToken:
    """``fetch()``, retried while the token endpoint refuses for its call limit, up to ``patience_s``.

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
            if error.error_code not in LIMIT_CODES or error.path not in protocol.TOKEN_PATHS:
                raise
            attempt += 1
            wait = token_wait(attempt, rng)
            if clock() - started + wait > patience_s:
                raise
            log.warning(
                "Fxiaoke token endpoint refused (call limit, attempt %d), retrying in %.1fs", attempt, wait
            )
            before_wait(wait)
            sleep(wait)
