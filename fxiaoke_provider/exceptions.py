"""Errors a user can catch by meaning: invalid input, permanent, transient, outcome unknown, partial.

Every error raised after a request carries the gateway's ``errorCode`` and ``traceId`` and the
``thirdTraceId`` we sent, because Fxiaoke support asks for them. The gateway's ``errorMessage`` is
free text that may quote what the request carried, so every error text passes through the gateway's
redaction (``gateway.redaction``: credentials and tokens are registered with it; under Airflow it is
Airflow's secrets masker) before it exists. No Airflow imports: the client raises these too.

All classes survive ``pickle`` and ``copy.deepcopy``: Airflow moves exceptions between processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway.redaction import redact

#: The ids shown after an error's text, in this order, under the gateway's own field names.
_ID_LABELS: tuple[tuple[str, str], ...] = (
    ("path", "path"),
    ("http_status", "httpStatus"),
    ("error_code", protocol.ERROR_CODE_FIELD),
    ("error_message", protocol.ERROR_MESSAGE_FIELD),
    ("trace_id", protocol.TRACE_ID_FIELD),
    ("third_trace_id", protocol.TRACE_QUERY_PARAM),
)
#: Longest gateway ``errorMessage`` kept on an error.
ERROR_MESSAGE_MAX = 200


def _rebuild(cls: type[FxiaokeError], text: str) -> FxiaokeError:
    """Unpickling/deepcopy: restore the final text without re-running a subclass's ``__init__``."""
    error = cls.__new__(cls)
    Exception.__init__(error, text)
    return error


class FxiaokeError(Exception):
    """Base class of every error this provider raises.

    ``retryable_by_airflow`` says whether Airflow's own task retry should repeat the work: the
    table in ``gateway.outcomes`` decides; the hook stamps the decision with the connection's
    settings (and the send journal) when the error leaves it.
    """

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
        self.error_message = redact(error_message[:ERROR_MESSAGE_MAX]) if error_message else None
        self.trace_id = trace_id
        self.third_trace_id = third_trace_id
        self.path = path
        self.http_status = http_status
        super().__init__(redact(message + self._ids_suffix()))

    @property
    def retryable_by_airflow(self) -> bool:
        stamped = self.__dict__.get("_retryable_by_airflow")
        if stamped is not None:
            return bool(stamped)
        from fxiaoke_provider.gateway.outcomes import retried_by_airflow  # the table imports this module

        return retried_by_airflow(self)

    @retryable_by_airflow.setter
    def retryable_by_airflow(self, value: bool) -> None:
        self.__dict__["_retryable_by_airflow"] = bool(value)

    def _ids_suffix(self) -> str:
        # Parentheses, not brackets: Airflow's console treats "[...]" as markup and drops it.
        ids = [
            f"{label}={value}"
            for attribute, label in _ID_LABELS
            if (value := getattr(self, attribute, None)) is not None and value != ""
        ]
        return f" ({', '.join(ids)})" if ids else ""

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), str(self)), self.__dict__


class FxiaokeInvalidInputError(FxiaokeError, ValueError):
    """Input broke a documented rule; raised before anything is sent."""

    def __init__(self, field: str, rule: str) -> None:
        self.field = field
        self.rule = redact(rule)  # rules quote the bad value, which may be (or hold) a secret
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
    """The answer was not the gateway's JSON (an HTML page, a redirect): almost always a wrong host."""


class FxiaokeProtocolError(FxiaokePermanentError):
    """The gateway's JSON lacked fields the protocol promises (e.g. a token answer without a token)."""


class FxiaokeTransientError(FxiaokeError):
    """The request was refused before any work was done; a later retry may succeed."""


class FxiaokeOutcomeUnknownError(FxiaokeError):
    """The request may or may not have been acted on; retrying may deliver twice."""


_ERROR_CLASS_BY_KIND: dict[str, type[FxiaokeError]] = {
    "token_expired": FxiaokeTokenExpiredError,
    "transient": FxiaokeTransientError,
    "outcome_unknown": FxiaokeOutcomeUnknownError,
    "auth": FxiaokeAuthError,
    "permanent": FxiaokePermanentError,
}


def error_from_answer(path: str, answer: dict[str, Any], third_trace_id: str) -> FxiaokeError:
    """Map a non-zero ``errorCode`` answer to the error class that says what to do about it."""
    code = answer.get(protocol.ERROR_CODE_FIELD)
    code = code if isinstance(code, int) else None
    cls = _ERROR_CLASS_BY_KIND[protocol.classify_code(code, path)]
    message = answer.get(protocol.ERROR_MESSAGE_FIELD) or next(
        (answer[key] for key in protocol.ERROR_DESCRIPTION_FIELDS if answer.get(key)), None
    )
    return cls(
        f"Fxiaoke answered errorCode {code} ({protocol.describe_code(code)})",
        error_code=code,
        error_message=str(message) if message else None,
        trace_id=answer.get(protocol.TRACE_ID_FIELD) or None,
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
