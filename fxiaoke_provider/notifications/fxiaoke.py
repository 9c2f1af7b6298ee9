"""``FxiaokeNotifier``: Fxiaoke messages from ``on_failure_callback`` and the other callbacks."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Generator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.airflow_support import alerts
from fxiaoke_provider.airflow_support.sending import (
    DEFAULT_CONN_ID,
    MessageSpec,
    check_hook_params,
    make_hook,
    spec_of,
)
from fxiaoke_provider.airflow_support.version_compat import BaseNotifier
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.messaging import bodies

if TYPE_CHECKING:
    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook


class FxiaokeNotifier(BaseNotifier):
    """
    Send a Fxiaoke message when a task or DAG run succeeds, fails or retries.

    ``message``, the recipients, ``service_id`` and ``fxiaoke_conn_id`` are rendered with the
    callback's context (``{{ ti.task_id }}``, ``{{ dag.dag_id }}``, ``{{ ti.log_url }}``...); the hook
    is made from the rendered connection id. If sending fails, the error is logged at ERROR and
    swallowed: an alerting problem must never replace the task's own outcome. So is a template that
    cannot be rendered with the context at hand (a deadline alert's context holds only ``dag_run``
    and ``deadline``): a ``message`` that fails to render is replaced by the event's default alert,
    so the alert still arrives; recipients, ``service_id`` or a connection id that fail to render
    leave nothing to send to.

    Without ``message``, the default alert of the event says what happened (task, DAG, run, try, the
    first line of the exception, a link to the log), as text or, with ``msg_type="composite"``, as a
    card. Awaited (``await FxiaokeNotifier(...)``, as the triggerer runs deadline alerts), it sends
    from a worker thread so the event loop never blocks.

    :param to_users: employee ids to notify.
    :param to_mobiles: mobile numbers to notify, resolved through the address book.
    :param to_departments: department ids whose members are notified.
    :param include_sub_departments: with ``to_departments``, members of sub-departments too (default).
    :param message: text, a ``composite`` card dict or article dicts; default: the event's alert.
    :param msg_type: ``text``, ``composite`` or ``articles`` (articles need a ``message``).
    :param service_id: service account that sends; default the connection's ``service_id``.
    :param language: ``en`` or ``zh-CN`` for the default alert; default the connection's ``language``
        extra. Messages you write are sent as written.
    :param fxiaoke_conn_id: the connection to send with (templated).
    :param hook_params: hook settings that win over the connection's extras: ``timeout``,
        ``retry_max_attempts``, ``retry_max_wait``, ``retry_unknown_outcome``, ``token_cache``;
        plain JSON values.
    """

    template_fields: Sequence[str] = (
        "message",
        "to_users",
        "service_id",
        "to_mobiles",
        "to_departments",
        "fxiaoke_conn_id",
    )

    def __init__(
        self,
        *,
        to_users: Sequence[str] | str | None = None,
        message: str | dict[str, Any] | list[dict[str, Any]] | None = None,
        msg_type: str = "text",
        service_id: str | None = None,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        language: str | None = None,
        context: Any = None,
        to_mobiles: Sequence[str] | str | None = None,
        to_departments: Sequence[int | str] | str | None = None,
        include_sub_departments: bool = True,
        hook_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if context is not None:  # deadline alerts construct the notifier with the context, then await it
            self.context = context
        self.fxiaoke_conn_id = fxiaoke_conn_id
        self.hook_params = check_hook_params(hook_params)
        #: Why this (rendered) copy cannot send, once a template it needs failed to render.
        self._unsendable: str | None = None
        self.to_mobiles = to_mobiles
        self.to_departments = to_departments
        self.include_sub_departments = include_sub_departments
        self.msg_type = bodies.check_msg_type(msg_type)
        self.language = alerts.check_language(language) if language is not None else None
        if message is None and not alerts.supports(self.msg_type):
            raise FxiaokeInvalidInputError("message", f"required with msg_type {self.msg_type!r}")
        kinds = {"to_mobiles": to_mobiles, "to_departments": to_departments}
        MessageSpec(to_users, message, self.msg_type, service_id, **kinds).check()  # None: the default alert
        self.to_users = to_users
        self.message = message
        self.service_id = service_id

    @cached_property
    def hook(self) -> FxiaokeHook:
        """Made on first use, i.e. after rendering: the connection id may be a template."""
        return make_hook(self.fxiaoke_conn_id, self.hook_params)

    def __call__(self, *args: Any) -> None:
        """Render and send from a copy: Airflow renders template fields in place, and one notifier
        is often shared by many tasks (``default_args``), each of which needs its own text."""
        super(FxiaokeNotifier, copy.copy(self)).__call__(*args)

    def __await__(self) -> Generator:
        """Awaited: render and send from a copy too, for the same reason."""
        return super(FxiaokeNotifier, copy.copy(self)).__await__()

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Render field by field, so one template that fails leaves the others rendered; the failure
        is logged here and decides what ``notify`` still sends (nothing is raised to the caller)."""
        dag = context.get("dag")
        if jinja_env is None:
            # Airflow 3's dag.test() hands DAG-level callbacks the scheduler's serialized DAG, which
            # has no template environment: render with the default one instead of failing.
            jinja_env = self.get_template_env(dag=dag if hasattr(dag, "get_template_env") else None)
        failed: dict[str, Exception] = {}
        for name in self.template_fields:
            try:
                setattr(self, name, self.render_template(getattr(self, name), context, jinja_env, set()))
            except Exception as error:
                failed[name] = error
        if not failed:
            return
        reasons = "; ".join(f"{name}: {type(error).__name__}: {error}" for name, error in failed.items())
        if set(failed) == {"message"} and alerts.supports(self.msg_type):
            self.log.error(
                "Fxiaoke notification message could not be rendered (%s); sending the default alert",
                reasons,
            )
            self.message = None
        else:
            self._unsendable = f"templates could not be rendered ({reasons})"
            self.log.error(
                "Fxiaoke notification was not sent (%s); the task's own outcome is unchanged",
                self._unsendable,
            )

    def _language(self) -> str:
        if self.language is not None:
            return self.language
        return alerts.check_language(
            self.hook.config.language, f"extra 'language' of connection {self.fxiaoke_conn_id!r}"
        )

    def notify(self, context: Any) -> None:
        if self._unsendable is not None:
            return  # logged where the rendering failed
        try:
            if self.message is None:  # the event's default alert, built after template rendering
                self.message = alerts.default_message(context, self.msg_type, self._language())
            result = spec_of(self).send(self.hook)
        except Exception as error:
            self.log.error(
                "Fxiaoke notification was not sent (%s: %s); the task's own outcome is unchanged",
                type(error).__name__,
                error,
                exc_info=True,
            )
        else:
            self.log.info("Sent the Fxiaoke notification; traceIds: %s", result.trace_ids)

    async def async_notify(self, context: Any) -> None:
        """The same send, rendering, error handling and masking as ``notify``, off the event loop."""
        await asyncio.to_thread(self.notify, context)


#: Functional spelling, as other providers offer (``send_slack_notification``...).
send_fxiaoke_notification = FxiaokeNotifier
