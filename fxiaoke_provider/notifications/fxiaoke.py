"""``FxiaokeNotifier``: Fxiaoke messages from ``on_failure_callback`` and the other callbacks."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.sending import DEFAULT_CONN_ID, MessageSpec, make_hook
from fxiaoke_provider.version_compat import BaseNotifier

if TYPE_CHECKING:
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

DEFAULT_MESSAGE = (
    "Airflow: task {{ ti.task_id }} of DAG {{ dag.dag_id }} is {{ ti.state }} "
    "(run {{ run_id }}, try {{ ti.try_number }}). Log: {{ ti.log_url }}"
)


class FxiaokeNotifier(BaseNotifier):
    """
    Send a Fxiaoke message when a task or DAG run succeeds, fails or retries.

    ``message``, ``to_users`` and ``service_id`` are rendered with the callback's context
    (``{{ ti.task_id }}``, ``{{ dag.dag_id }}``, ``{{ ti.log_url }}``...). If sending fails, the error
    is logged and swallowed: an alerting problem must never replace the task's own outcome.

    :param to_users: employee ids to notify.
    :param to_mobiles: mobile numbers to notify, resolved through the address book.
    :param to_departments: department ids whose members are notified.
    :param include_sub_departments: with ``to_departments``, members of sub-departments too (default).
    :param message: text, a ``composite`` card dict or article dicts; default: a one-line status text.
    :param msg_type: ``text``, ``composite`` or ``articles``.
    :param service_id: service account that sends; default the connection's ``service_id``.
    """

    template_fields: Sequence[str] = ("message", "to_users", "service_id", "to_mobiles", "to_departments")

    def __init__(
        self,
        *,
        to_users: Sequence[str] | str | None = None,
        message: str | dict[str, Any] | list[dict[str, Any]] = DEFAULT_MESSAGE,
        msg_type: str = "text",
        service_id: str | None = None,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        to_mobiles: Sequence[str] | str | None = None,
        to_departments: Sequence[int | str] | str | None = None,
        include_sub_departments: bool = True,
    ) -> None:
        super().__init__()
        self.fxiaoke_conn_id = fxiaoke_conn_id
        self.to_mobiles = to_mobiles
        self.to_departments = to_departments
        self.include_sub_departments = include_sub_departments
        kinds = {"to_mobiles": to_mobiles, "to_departments": to_departments}
        self.msg_type = MessageSpec(to_users, message, msg_type, service_id, **kinds).check().msg_type
        self.to_users = to_users
        self.message = message
        self.service_id = service_id

    @cached_property
    def hook(self) -> FxiaokeHook:
        return make_hook(self.fxiaoke_conn_id)

    def __call__(self, *args: Any) -> None:
        """Render and send from a copy: Airflow renders template fields in place, and one notifier
        is often shared by many tasks (``default_args``), each of which needs its own text."""
        super(FxiaokeNotifier, copy.copy(self)).__call__(*args)

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        dag = context.get("dag")
        if jinja_env is None and dag is not None and not hasattr(dag, "get_template_env"):
            # Airflow 3's dag.test() hands DAG-level callbacks the scheduler's serialized DAG,
            # which has no template environment: render with the default one instead of failing.
            jinja_env = self.get_template_env(dag=None)
        super().render_template_fields(context, jinja_env)

    def notify(self, context: Any) -> None:
        spec = MessageSpec(
            self.to_users,
            self.message,
            self.msg_type,
            self.service_id,
            to_mobiles=self.to_mobiles,
            to_departments=self.to_departments,
            include_sub_departments=self.include_sub_departments,
        )
        try:
            result = spec.send(self.hook)
        except Exception:
            self.log.exception("Fxiaoke notification was not sent; the task's own outcome is unchanged")
        else:
            self.log.info("Sent the Fxiaoke notification; traceIds: %s", result.trace_ids)


#: Functional spelling, as other providers offer (``send_slack_notification``...).
send_fxiaoke_notification = FxiaokeNotifier
