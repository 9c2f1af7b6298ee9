"""The one retry policy: what is retried, how often, and how long to wait, as a ``tenacity`` object.

- transient (rate limit 30004/14001, busy -1, HTTP 429/502/503/504, connection never made):
  retried with exponential backoff and jitter, bounded by attempts and a ceiling;
- outcome unknown (read timeout, connection dropped after sending, 50009, -2): not retried unless
  the connection opts in to at-least-once delivery, since a retry may deliver twice;
  (a token request is always retried: asking twice yields the same token);
- permanent (quota, permission, credentials, rejected input, wrong host): never retried;
- 20016 (token expired) is not handled here: the hook renews the token and retries once.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

from fxiaoke_provider import protocol
from fxiaoke_provider.exceptions import FxiaokeOutcomeUnknownError, FxiaokeTransientError

if TYPE_CHECKING:
    import tenacity

    from fxiaoke_provider.connection import RetrySettings

log = logging.getLogger(__name__)

INITIAL_WAIT_S = 0.5
JITTER_S = 0.5


def backoff_wait(attempt_number: int, max_wait_s: float) -> float:
    """Seconds to wait after failed attempt ``attempt_number``: 0.5, 1, 2, 4... plus up to 0.5 of jitter.

    The jitter spreads the retries of parallel task processes that were refused in the same second;
    ``max_wait_s`` caps the total. (Written out because tenacity renamed the arguments of its own
    ``wait_exponential_jitter`` across versions.)
    """
    exponential = INITIAL_WAIT_S * 2 ** min(attempt_number - 1, 30)
    return max(0.0, min(exponential + random.uniform(0, JITTER_S), max_wait_s))


def is_retryable(error: BaseException, retry_unknown_outcome: bool) -> bool:
    if isinstance(error, FxiaokeTransientError):
        return True
    if isinstance(error, FxiaokeOutcomeUnknownError):
        # Asking for a token twice is harmless (the gateway hands out the same one), a send is not.
        return retry_unknown_outcome or error.path in protocol.TOKEN_PATHS
    return False


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning(
        "Fxiaoke request failed (attempt %d), retrying in %.2fs: %s", state.attempt_number, wait, error
    )


def build_retrying(settings: RetrySettings, sleep=None) -> tenacity.Retrying:
    """A fresh ``tenacity.Retrying`` for one logical call (tenacity keeps per-call state)."""
    import tenacity

    extra = {"sleep": sleep} if sleep is not None else {}
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(settings.max_attempts),
        wait=lambda state: backoff_wait(state.attempt_number, settings.max_wait_s),
        retry=tenacity.retry_if_exception(lambda error: is_retryable(error, settings.retry_unknown_outcome)),
        before_sleep=_log_retry,
        reraise=True,
        **extra,
    )


def airflow_may_retry(error: BaseException, retry_unknown_outcome: bool) -> bool:
    """Whether Airflow's own task retries should repeat a failed call.

    No for permanent errors and bad input (doomed), for partial split sends and for unknown
    outcomes (a repeat may deliver twice) unless at-least-once delivery was chosen.
    """
    return is_retryable(error, retry_unknown_outcome)
