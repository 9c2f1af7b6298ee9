"""The one send path shared by the send operator and the notifier.

Both take the same arguments, check them the same way when the DAG file is parsed, render them,
and hand them to the hook; what they do with the outcome differs (the operator fails or retries
the task, the notifier only logs). The hook is imported when a send runs, so DAG files that use
the operator or the notifier stay cheap to parse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.airflow_support.version_compat import AirflowFailException
from fxiaoke_provider.connection.config import DEFAULT_CONN_ID
from fxiaoke_provider.exceptions import FxiaokeError, FxiaokeInvalidInputError
from fxiaoke_provider.gateway import outcomes, protocol
from fxiaoke_provider.messaging import bodies, media, recipients, wire

if TYPE_CHECKING:
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
    from fxiaoke_provider.messaging.journal import SendJournal

__all__ = [
    "DEFAULT_CONN_ID",
    "HOOK_PARAMS",
    "MessageSpec",
    "SendResult",
    "as_airflow_error",
    "check_hook_params",
    "make_hook",
    "spec_of",
]

Message = str | dict[str, Any] | list[dict[str, Any]]


#: The hook's settings an operator, sensor or notifier may pass (``hook_params``): ``FxiaokeHook``'s
#: keyword parameters that a DAG sets, each winning over the connection's extra of the same name.
HOOK_PARAMS: tuple[str, ...] = (
    "timeout",
    "retry_max_attempts",
    "retry_max_wait",
    "retry_unknown_outcome",
    "token_cache",
)


def check_hook_params(hook_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``hook_params`` as a plain dict of the hook's settings, checked when the DAG file is parsed.

    Plain JSON only: a deadline alert's arguments are stored as JSON with the serialized DAG and
    handed to the triggerer, so a value that is not JSON would break the DAG, not the alert.
    The values themselves are checked by the hook, as its own arguments are.
    """
    if hook_params is None:
        return {}
    if not isinstance(hook_params, Mapping):
        raise FxiaokeInvalidInputError("hook_params", f"must be a dict; got {type(hook_params).__name__}")
    unknown = sorted(str(name) for name in hook_params if name not in HOOK_PARAMS)
    if unknown:
        raise FxiaokeInvalidInputError(
            "hook_params", f"unknown setting {unknown[0]!r}; expected some of {', '.join(HOOK_PARAMS)}"
        )
    try:
        json.dumps(dict(hook_params), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise FxiaokeInvalidInputError("hook_params", f"must hold plain JSON values ({error})") from None
    return dict(hook_params)


def make_hook(conn_id: str, hook_params: Mapping[str, Any] | None = None) -> FxiaokeHook:
    """The hook of a task or notifier; ``hook_params`` are ``FxiaokeHook``'s keyword settings."""
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    return FxiaokeHook(fxiaoke_conn_id=conn_id, **dict(hook_params or {}))


@dataclass(frozen=True)
class SendResult:
    """What the gateway answered for one send: one entry per request, in batch order.

    ``message_ids[i]`` is the ``messageId`` request ``i``'s answer carried, or None: the public
    gateway documents none, but a tenant's gateway may return one, and revoke needs it.
    """

    trace_ids: list[str] = field(default_factory=list)
    message_ids: list[str | None] = field(default_factory=list)

    @classmethod
    def from_answers(cls, answers: Sequence[dict[str, Any]]) -> SendResult:
        return cls(
            trace_ids=[str(answer.get(protocol.TRACE_ID_FIELD)) for answer in answers],
            message_ids=[
                str(answer[wire.MESSAGE_ID_FIELD]) if answer.get(wire.MESSAGE_ID_FIELD) else None
                for answer in answers
            ],
        )


@dataclass
class MessageSpec:
    """A message and its recipients as a DAG author wrote them (templates allowed).

    ``check()`` applies every rule that does not need rendering, so a broken DAG fails when it is
    parsed, not at 3 a.m.; ``send()`` parses what rendered and sends.
    """

    to_users: Sequence[str] | str | None
    message: Message | None  # None only where a default is filled in before sending (the notifier)
    msg_type: str = "text"
    service_id: str | None = None
    #: Mobile numbers and department ids, resolved to people through the address book at send time.
    to_mobiles: Sequence[str] | str | None = None
    to_departments: Sequence[int | str] | str | None = None
    include_sub_departments: bool = True

    def check(self) -> MessageSpec:
        self.msg_type = bodies.check_msg_type(self.msg_type)
        if self.message is not None and not bodies.has_template(self.message):
            bodies.build_message_fields(self.msg_type, media.without_cover_paths(self.message))
        kinds = (self.to_users, self.to_mobiles, self.to_departments)
        plain = [not isinstance(kind, str) and not bodies.has_template(kind) for kind in kinds]
        if all(plain):
            recipients.check_recipient_kinds(*kinds)
        else:  # what is already plain is checked now; the rest once rendered
            if plain[0] and self.to_users:
                bodies.check_recipients(self.to_users)
            if plain[1]:
                recipients.check_mobiles(self.to_mobiles)
            if plain[2]:
                recipients.check_department_ids(self.to_departments)
        return self

    def send(self, hook: FxiaokeHook, journal: SendJournal | None = None) -> SendResult:
        # Only kinds that were given are passed on, so a hook of an earlier version still fits.
        kinds: dict[str, Any] = {}
        if self.to_mobiles is not None:
            kinds["to_mobiles"] = bodies.recipients_from_rendered(self.to_mobiles, "to_mobiles")
        if self.to_departments is not None:
            kinds["to_departments"] = bodies.recipients_from_rendered(self.to_departments, "to_departments")
            kinds["include_sub_departments"] = self.include_sub_departments
        if journal is not None:
            kinds["journal"] = journal
        answers = hook.send_message(
            bodies.recipients_from_rendered(self.to_users),
            self.message,
            msg_type=self.msg_type,
            service_id=self.service_id,
            **kinds,
        )
        return SendResult.from_answers(answers)


def spec_of(owner: Any) -> MessageSpec:
    """The message an operator or notifier holds, from its (rendered) attributes of the same names."""
    return MessageSpec(
        owner.to_users,
        owner.message,
        owner.msg_type,
        owner.service_id,
        to_mobiles=owner.to_mobiles,
        to_departments=owner.to_departments,
        include_sub_departments=owner.include_sub_departments,
    )


def as_airflow_error(error: FxiaokeError, *, resolved_by_lookup: bool = False) -> BaseException:
    """The error Airflow should see: the provider error itself where a task retry may help, else a
    final ``AirflowFailException`` (bad input, permanent refusals, partial sends, unknown outcomes
    without at-least-once delivery). The decision is ``gateway.outcomes``'s; ``resolved_by_lookup``
    says the work looks up what it may have written before writing again (the upsert)."""
    if outcomes.airflow_retries(error, resolved_by_lookup=resolved_by_lookup):
        return error
    return AirflowFailException(f"{type(error).__name__}: {error}")
