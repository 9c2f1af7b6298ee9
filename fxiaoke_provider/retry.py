"""The one retry policy, as one ``tenacity`` object: what is retried, how often, how long to wait.

- transient (rate limit 30004/14001, busy -1, HTTP 429/502/503/504, connection never made):
  retried with exponential backoff and jitter, bounded by attempts and a ceiling;
- token expired (20016): the token is dropped by the caller and the call retried once at once
  with a fresh one (the "renewal" step); a second 20016 is final;
- outcome unknown (read timeout, connection dropped after sending, 50009, -2): not retried unless
  the connection opts in to at-least-once delivery, since a retry may deliver twice (a read-only
  request, a token or an address-book lookup, is always retried: asking twice changes nothing);
- permanent (quota, permission, credentials, rejected input, wrong host): never retried.

``retryable_by_airflow`` applies the same classes to Airflow's own task retries.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from fxiaoke_provider import protocol
from fxiaoke_provider.connection import RetrySettings
from fxiaoke_provider.exceptions import (
    FxiaokeError,
    FxiaokeOutcomeUnknownError,
    FxiaokeTokenExpiredError,
    FxiaokeTransientError,
)

if TYPE_CHECKING:
    import tenacity

    from fxiaoke_provider.checkpoint import SendJournal

log = logging.getLogger(__name__)

INITIAL_WAIT_S = 0.5
JITTER_S = 0.5

Sleep = Callable[[float], None]


def backoff_wait(attempt_number: int, max_wait_s: float) -> float:
    """Seconds to wait after failed attempt ``attempt_number``: 0.5, 1, 2, 4... plus up to 0.5 of jitter.

    The jitter spreads the retries of parallel task processes that were refused in the same second;
    ``max_wait_s`` caps the total. (Written out because tenacity renamed the arguments of its own
    ``wait_exponential_jitter`` across versions.)
    """
    exponential = INITIAL_WAIT_S * 2 ** min(attempt_number - 1, 30)
    return max(0.0, min(exponential + random.uniform(0, JITTER_S), max_wait_s))


def is_retryable(error: BaseException, retry_unknown_outcome: bool) -> bool:
    """Whether repeating the request may help and cannot deliver twice (unless at-least-once was chosen)."""
    if isinstance(error, FxiaokeTransientError):
        return True
    if isinstance(error, FxiaokeOutcomeUnknownError):
        # Asking for a token or a lookup twice is harmless, a send is not.
        return retry_unknown_outcome or error.path in protocol.READ_ONLY_PATHS
    return False


def retryable_by_airflow(
    error: FxiaokeError, settings: RetrySettings, journal: SendJournal | None = None
) -> bool:
    """Whether Airflow's own task retry should repeat the work that raised ``error``.

    The one place that decides "fail for good" against "let Airflow retry": transient refusals yes;
    unknown outcomes only with at-least-once delivery; permanent errors, bad input and partial split
    sends (a repeat would deliver the delivered batches again) never. With a durable send journal
    (Airflow >= 3.3) a retry resumes instead of repeating, so the journal decides
    (``SendJournal.retry_resumes``).
    """
    if journal is not None and journal.durable:
        return journal.retry_resumes(error)
    if isinstance(error, FxiaokeOutcomeUnknownError):
        return settings.retry_unknown_outcome
    return error.retryable_by_airflow


class _Renewal:
    """The 20016 step: one immediate retry per logical call, outside the backoff budget."""

    def __init__(self) -> None:
        self.used = False

    def wanted(self, error: BaseException | None) -> bool:
        if isinstance(error, FxiaokeTokenExpiredError) and not self.used:
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


def build_retrying(settings: RetrySettings, sleep: Sleep = time.sleep) -> tenacity.Retrying:
    """A fresh ``tenacity.Retrying`` for one logical call (tenacity and the renewal keep per-call state).

    Callers drop a rejected token before re-raising ``FxiaokeTokenExpiredError``; this policy then
    retries once without waiting.
    """
    import tenacity

    renewal = _Renewal()
    renewed_at: list[int] = []

    def should_retry(state: tenacity.RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if renewal.wanted(error):
            renewed_at.append(state.attempt_number)
            return True
        return error is not None and is_retryable(error, settings.retry_unknown_outcome)

    def wait(state: tenacity.RetryCallState) -> float:
        if renewed_at and renewed_at[-1] == state.attempt_number:
            return 0.0
        return backoff_wait(state.attempt_number - len(renewed_at), settings.max_wait_s)

    def stop(state: tenacity.RetryCallState) -> bool:
        return state.attempt_number >= settings.max_attempts + len(renewed_at)

    return tenacity.Retrying(
        stop=stop,
        wait=wait,
        retry=should_retry,
        before_sleep=_log_retry,
        sleep=lambda seconds: sleep(seconds) if seconds > 0 else None,  # the renewal step does not wait
        reraise=True,
    )
