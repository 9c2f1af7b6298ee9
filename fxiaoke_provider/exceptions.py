"""Errors a user can catch by meaning: invalid input, permanent, transient, outcome unknown.

Every error raised after a request carries the gateway's ``errorCode`` and ``traceId`` and the
``thirdTraceId`` we sent, because Fxiaoke support asks for them. No error text ever contains a
credential or a token: messages are built from codes, paths and ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fxiaoke_provider import protocol


class FxiaokeError(Exception):
    """Base class of every error this provider raises."""

    def __init__(
        self,
        message: str,
        *,
        error_code: int | None = None,
        error_message: str | None = None,
        trace_id: str | None = None,
        third_trace_id: str | None = None,
        path: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.error_code = error_code
        self.error_message = error_message
        self.trace_id = trace_id
        self.third_trace_id = third_trace_id
        self.path = path
        self.http_status = http_status
        super().__init__(message + self._ids_suffix())

    def _ids_suffix(self) -> str:
        ids = [
            f"{name}={value}"
            for name, value in (
                ("path", self.path),
                ("httpStatus", self.http_status),
                ("errorCode", self.error_code),
                ("errorMessage", self.error_message),
                ("traceId", self.trace_id),
                ("thirdTraceId", self.third_trace_id),
            )
            if value is not None and value != ""
        ]
        return f" [{', '.join(ids)}]" if ids else ""


class FxiaokeInvalidInputError(FxiaokeError, ValueError):
    """Input broke a documented rule; raised before anything is sent."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class FxiaokeConnectionConfigError(FxiaokeInvalidInputError):
    """The Airflow connection is missing a field or holds a malformed one."""

    def __init__(self, conn_id: str, field: str, rule: str) -> None:
        self.conn_id = conn_id
        super().__init__(f"connection {conn_id!r} {field}", rule)


class FxiaokePermanentError(FxiaokeError):
    """Retrying cannot help (quota, permission, credentials, rejected input, wrong host)."""


class FxiaokeAuthError(FxiaokePermanentError):
    """The gateway rejected the credentials or the token."""


class FxiaokeTokenExpiredError(FxiaokeAuthError):
    """errorCode 20016: renewed once automatically; permanent if it comes back with a fresh token."""


class FxiaokeWrongHostError(FxiaokePermanentError):
    """The answer was not the gateway's JSON: almost always a wrong host."""


class FxiaokeTransientError(FxiaokeError):
    """The request was refused before any work was done; a later retry may succeed."""


class FxiaokeOutcomeUnknownError(FxiaokeError):
    """The request may or may not have been acted on; retrying may deliver twice."""


def error_from_answer(path: str, answer: dict, third_trace_id: str) -> FxiaokeError:
    """Map a non-zero ``errorCode`` answer to the error class that says what to do about it."""
    code = answer.get("errorCode")
    if code == protocol.TOKEN_EXPIRED:
        cls: type[FxiaokeError] = FxiaokeTokenExpiredError
    elif code in protocol.TRANSIENT_CODES:
        cls = FxiaokeTransientError
    elif code in protocol.OUTCOME_UNKNOWN_CODES:
        cls = FxiaokeOutcomeUnknownError
    elif code in (protocol.NO_CREDENTIALS, protocol.CREDENTIALS_REJECTED) or path in protocol.TOKEN_PATHS:
        cls = FxiaokeAuthError
    else:
        cls = FxiaokePermanentError
    message = answer.get("errorMessage") or answer.get("error_description") or None
    return cls(
        f"Fxiaoke answered errorCode {code} ({protocol.describe_code(code)})",
        error_code=code if isinstance(code, int) else None,
        error_message=str(message)[:200] if message else None,
        trace_id=answer.get("traceId") or None,
        third_trace_id=third_trace_id,
        path=path,
    )


@dataclass(frozen=True)
class BatchOutcome:
    """What happened to one request of a split send."""

    index: int
    recipients: int
    trace_id: str | None = None


class FxiaokePartialSendError(FxiaokeError):
    """A split send failed after some batches went out; says which did and which did not.

    Retrying the whole send would deliver the delivered batches twice, so operators treat this
    as final and leave the decision to a person.
    """

    def __init__(
        self,
        cause: FxiaokeError,
        delivered: Sequence[BatchOutcome],
        failed: BatchOutcome,
        not_sent: Sequence[BatchOutcome],
    ) -> None:
        self.cause = cause
        self.delivered = list(delivered)
        self.failed = failed
        self.not_sent = list(not_sent)
        total = len(self.delivered) + 1 + len(self.not_sent)
        delivered_text = ", ".join(f"#{b.index + 1} (traceId {b.trace_id})" for b in self.delivered)
        not_sent_text = ", ".join(f"#{b.index + 1}" for b in self.not_sent) or "none"
        self.delivered_trace_ids = [b.trace_id for b in self.delivered]
        super().__init__(
            f"split send stopped at batch #{failed.index + 1} of {total} "
            f"({failed.recipients} recipients): {type(cause).__name__}: {cause}; "
            f"delivered batches: {delivered_text}; not sent: {not_sent_text}",
        )
        # Keep the cause's ids reachable for callers that only look at the top-level error.
        self.error_code = cause.error_code
        self.trace_id = cause.trace_id
        self.third_trace_id = cause.third_trace_id
        self.path = cause.path
