"""THE table of what happens after an error: retried inside the call, retried by Airflow, or final.

Every place that must choose between "try again" and "fail for good" asks this module: the retry
policy inside a call (``retry``), the errors' ``retryable_by_airflow`` (``exceptions``), the hook
that stamps it with the connection's settings, the send operator after a timeout or termination,
and the shared send path that turns a final error into Airflow's ``AirflowFailException``.

=========================  ===============================  ==================================
error                      inside the call                  by Airflow (the task's retry)
=========================  ===============================  ==================================
token expired (20016)      once, at once, with a new token  no: the credentials are the problem
call limit (30004, 14001)  yes, for a time: a random share   yes: nothing was done
of a business endpoint     of its window each, not counted
                           as attempts
transient (-1, HTTP        yes, with backoff                yes: nothing was done
429/5xx, never connected,
call limit of the token
endpoint)
deadline                   no (it is the end of the call)   yes: nothing went out
outcome unknown (read      only if the call is repeatable   only with at-least-once delivery,
timeout, dropped, 50009,   (a read) or at-least-once was    or when the work looks up what it
-2)                        chosen                           wrote before writing it again
anything else (permanent,  no                               no
bad input, partial send)
=========================  ===============================  ==================================

A business endpoint's call limit is shared by every client of the tenant, on every machine: when
several are refused together, a budget of attempts runs out in about half a minute while the
window they compete for frees every 20 s, so such refusals are waited out by time instead
(``retry.build_retrying``). The token endpoint's own limit has its own patience (``retry.patient_fetch``).

With a durable send journal (Airflow >= 3.3) a task retry resumes a send instead of repeating it,
so the journal's record changes the Airflow column: see ``retried_by_airflow``. Work that is
*resolved by look-up* (the CRM upsert: a retry looks every unfinished create up by its match value
before sending it again) makes an unknown outcome as retryable as a refusal before any work.

Work made of many items (the upsert's rows) has a third column: is the error about this item only,
so the others go on (``refuses_only_the_item``)? Only bad input and the gateway's permanent refusal
of the item's content are; everything the table retries, and what refuses the credentials, the
host, the answer's shape or the app itself (quota, permission), stops the work.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Protocol

from fxiaoke_provider.exceptions import (
    FxiaokeAuthError,
    FxiaokeConnectionConfigError,
    FxiaokeError,
    FxiaokeInvalidInputError,
    FxiaokeOutcomeUnknownError,
    FxiaokePartialSendError,
    FxiaokePermanentError,
    FxiaokeProtocolError,
    FxiaokeTokenExpiredError,
    FxiaokeTransientError,
    FxiaokeWrongHostError,
)
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway.deadline import FxiaokeDeadlineError


class InCall(enum.Enum):
    """What the retry policy inside one call does after an attempt failed."""

    RENEW = "retry once at once with a new token"
    WAIT_OUT = "retry after a share of the endpoint's window, within a patience in time"
    RETRY = "retry with backoff"
    STOP = "raise"


class Journal(Protocol):
    """What the decision needs of a send journal (``messaging.journal.SendJournal``)."""

    durable: bool
    records: Mapping[int, Any]

    def unknown(self) -> list[Any]: ...

    def untouched(self) -> list[int]: ...


# --- inside the call ------------------------------------------------------------------------------
def in_call(error: BaseException, *, repeatable: bool, retry_unknown_outcome: bool) -> InCall:
    """The in-call column of the table for the request that raised ``error``.

    ``repeatable`` is declared where the call is made: True when repeating it changes nothing at
    the gateway (a token, an address-book read), so an unknown outcome is simply asked again.
    """
    if isinstance(error, FxiaokeTokenExpiredError):
        return InCall.RENEW
    if is_call_limit(error):
        return InCall.WAIT_OUT
    if is_retryable(error, retry_unknown_outcome, repeatable=repeatable):
        return InCall.RETRY
    return InCall.STOP


def is_call_limit(error: BaseException) -> bool:
    """A business endpoint refused for its call limit: harmless to repeat once its window has room.

    The token endpoint's refusals are not: ``retry.patient_fetch`` waits those out on its own terms.
    """
    return (
        isinstance(error, FxiaokeTransientError)
        and error.error_code in protocol.CALL_LIMIT_CODES
        and error.path not in protocol.TOKEN_PATHS
    )


def is_retryable(error: BaseException, retry_unknown_outcome: bool, *, repeatable: bool = False) -> bool:
    """Whether repeating the request may help and cannot deliver twice (unless at-least-once was chosen)."""
    if isinstance(error, FxiaokeTransientError):
        return True
    if isinstance(error, FxiaokeOutcomeUnknownError):
        return repeatable or retry_unknown_outcome
    return False


# --- by Airflow -----------------------------------------------------------------------------------
def retried_by_airflow(
    error: FxiaokeError,
    *,
    retry_unknown_outcome: bool = False,
    journal: Journal | None = None,
    resolved_by_lookup: bool = False,
) -> bool:
    """Whether Airflow's own task retry should repeat the work that raised ``error``.

    Transient refusals and a stop at the deadline: yes (nothing went out). Unknown outcomes: only
    with at-least-once delivery. Permanent errors, bad input and partial split sends (a repeat
    would deliver the delivered batches again): never. With a durable journal the retry resumes:
    it sends what the refused or stopped batch and the batches after it were meant to; a batch of
    unknown outcome is not resent (unless at-least-once), so the retry helps while any batch was
    never sent. ``resolved_by_lookup``: the work looks up what an unknown outcome may have written
    before writing it again (the upsert), so a retry cannot write twice.
    """
    if journal is not None and journal.durable:
        cause = error.cause if isinstance(error, FxiaokePartialSendError) else error
        if retried_by_airflow(cause, retry_unknown_outcome=retry_unknown_outcome):
            return True
        # Batches of unknown outcome are not resent, but those never sent are. (A send that reached
        # its end but for such batches has none left: only a person can decide about those.)
        return isinstance(cause, FxiaokeOutcomeUnknownError) and bool(journal.untouched())
    if isinstance(error, (FxiaokeTransientError, FxiaokeDeadlineError)):
        return True
    if isinstance(error, FxiaokeOutcomeUnknownError):
        return retry_unknown_outcome or resolved_by_lookup
    return False


def airflow_retries(error: FxiaokeError, *, resolved_by_lookup: bool = False) -> bool:
    """The decision ``retried_by_airflow`` made when the error left the hook (its stamp); work
    resolved by look-up also retries what only an unknown outcome stopped."""
    if error.retryable_by_airflow:
        return True
    return resolved_by_lookup and retried_by_airflow(error, resolved_by_lookup=True)


def stop_is_final(journal: Journal, *, retry_unknown_outcome: bool) -> bool:
    """After a timeout or termination mid-send: fail for good unless a retry can resume without resending."""
    if not journal.records:
        return False  # nothing went out
    if retry_unknown_outcome:
        return False  # at-least-once delivery was chosen
    if journal.durable:  # the retry skips what went out; it helps while batches were never sent
        return bool(journal.unknown()) and not journal.untouched()
    return True


# --- one item of many ---------------------------------------------------------------------------
def refuses_only_the_item(error: FxiaokeError) -> bool:
    """Whether ``error`` refuses one item of a larger work (an upsert's row) and the rest may go on.

    Yes: local input checks (nothing was sent) and the gateway's permanent refusal of a write (a bad
    value, a required field missing, a record gone). No: the connection's configuration,
    credentials, a wrong host, a malformed answer, refusals of the app or tenant (quota,
    permission), and whatever a retry resolves (transient, unknown outcome, the deadline).
    """
    if isinstance(error, FxiaokeConnectionConfigError):
        return False
    if isinstance(error, FxiaokeInvalidInputError):
        return True
    if isinstance(error, (FxiaokeAuthError, FxiaokeWrongHostError, FxiaokeProtocolError)):
        return False
    return isinstance(error, FxiaokePermanentError) and error.error_code not in protocol.APP_REFUSED_CODES
