"""Operators that send and revoke Fxiaoke service-account messages from DAG tasks.

They render templates, validate and delegate to ``FxiaokeHook``; the hook (and ``requests``)
is imported only when a task runs, so DAG files that use them stay cheap to parse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from fxiaoke_provider import messages
from fxiaoke_provider.version_compat import AirflowFailException, BaseOperator

if TYPE_CHECKING:
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

    try:
        from airflow.sdk import Context
    except ImportError:
        from airflow.utils.context import Context  # type: ignore[no-redef]

T = TypeVar("T")
TRACE_IDS_XCOM_KEY = "trace_ids"


class _FxiaokeOperator(BaseOperator):
    """Shared hook handling and the mapping of provider errors to Airflow's retry semantics."""

    ui_color = "#ff8000"

    def __init__(self, *, fxiaoke_conn_id: str = "fxiaoke_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fxiaoke_conn_id = fxiaoke_conn_id

    @cached_property
    def hook(self) -> FxiaokeHook:
        from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

        return FxiaokeHook(fxiaoke_conn_id=self.fxiaoke_conn_id)

    def _run(self, action: Callable[[], T]) -> T:
        from fxiaoke_provider.exceptions import FxiaokeError
        from fxiaoke_provider.retry import airflow_may_retry

        try:
            return action()
        except FxiaokeError as error:
            retry_unknown = error_is_config = False
            try:
                retry_unknown = self.hook.config.retry.retry_unknown_outcome
            except FxiaokeError:
                error_is_config = True
            if error_is_config or not airflow_may_retry(error, retry_unknown):
                raise AirflowFailException(f"{type(error).__name__}: {error}") from error
            raise


class FxiaokeSendMessageOperator(_FxiaokeOperator):
    """
    Send a text, card (``composite``) or articles message to Fxiaoke employees.

    The return value (XCom ``return_value``) is the gateway's ``traceId`` when the message went out
    in one request, or the list of traceIds in batch order when more than 500 recipients split it.
    XCom key ``trace_ids`` always holds the list.

    :param to_users: employee ids; a list, or text rendering to a JSON list or comma-separated ids.
    :param message: ``str`` for text, the ``composite`` dict, or a list of article dicts (templated
        throughout, strings inside dicts and lists too).
    :param msg_type: ``text``, ``composite`` or ``articles``.
    :param service_id: service account that sends; default the connection's ``service_id``.
    """

    template_fields: Sequence[str] = ("message", "to_users", "service_id")
    template_fields_renderers = {"message": "json", "to_users": "json"}

    def __init__(
        self,
        *,
        to_users: Sequence[str] | str,
        message: str | dict[str, Any] | list[dict[str, Any]],
        msg_type: str = "text",
        service_id: str | None = None,
        fxiaoke_conn_id: str = "fxiaoke_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(fxiaoke_conn_id=fxiaoke_conn_id, **kwargs)
        self.msg_type = messages.check_msg_type(msg_type)
        if not messages.has_template(message):  # fail at DAG parse time, not at 3 a.m.
            messages.build_message_fields(self.msg_type, message)
        if not messages.has_template(to_users) and not isinstance(to_users, str):
            messages.check_recipients(to_users)
        self.to_users = to_users
        self.message = message
        self.service_id = service_id

    def execute(self, context: Context) -> str | list[str]:
        # parsed inside _run: recipients that rendered badly are final input errors, not retried
        answers = self._run(
            lambda: self.hook.send_message(
                messages.recipients_from_rendered(self.to_users),
                self.message,
                msg_type=self.msg_type,
                service_id=self.service_id,
            )
        )
        trace_ids = [str(answer.get("traceId")) for answer in answers]
        self.log.info("Sent the Fxiaoke message in %d request(s); traceIds: %s", len(trace_ids), trace_ids)
        context["ti"].xcom_push(key=TRACE_IDS_XCOM_KEY, value=trace_ids)
        return trace_ids[0] if len(trace_ids) == 1 else trace_ids


class FxiaokeRevokeMessageOperator(_FxiaokeOperator):
    """
    Revoke a service-account message; returns the revoke call's ``traceId``.

    :param message_id: id of the message to revoke (templated), as the send answer gave it.
    :param service_id: service account that sent it; default the connection's ``service_id``.
    """

    template_fields: Sequence[str] = ("message_id", "service_id")

    def __init__(
        self,
        *,
        message_id: str,
        service_id: str | None = None,
        fxiaoke_conn_id: str = "fxiaoke_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(fxiaoke_conn_id=fxiaoke_conn_id, **kwargs)
        self.message_id = message_id
        self.service_id = service_id

    def execute(self, context: Context) -> str:
        answer = self._run(lambda: self.hook.revoke_message(self.message_id, service_id=self.service_id))
        return str(answer.get("traceId"))
