"""What every Fxiaoke operator and sensor shares: the connection, the hook's settings, the task's
deadline, and how a provider error reaches Airflow.

One mechanism for all of them, so a rule (a templated connection id, ``hook_params``, no wait past
``execution_timeout``, "retry or fail" as ``gateway.outcomes`` says) cannot hold for one operator
and be forgotten in the next. The hook is imported when a task runs, so DAG files stay cheap to parse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from fxiaoke_provider.airflow_support.sending import (
    DEFAULT_CONN_ID,
    as_airflow_error,
    check_hook_params,
    make_hook,
)
from fxiaoke_provider.airflow_support.version_compat import BaseOperator
from fxiaoke_provider.exceptions import FxiaokeError
from fxiaoke_provider.gateway.deadline import Deadline

if TYPE_CHECKING:
    import datetime

    from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook

T = TypeVar("T")

#: The template fields every Fxiaoke operator and sensor has.
BASE_TEMPLATE_FIELDS: tuple[str, ...] = ("fxiaoke_conn_id",)


class FxiaokeHookMixin:
    """The hook of one task and the errors it raises, for operators and sensors alike.

    A class using it calls ``_init_fxiaoke`` from its ``__init__`` and runs its calls through
    ``_run``; it lists ``BASE_TEMPLATE_FIELDS`` among its template fields.
    """

    fxiaoke_conn_id: str
    hook_params: dict[str, Any]
    execution_timeout: datetime.timedelta | None

    def _init_fxiaoke(self, fxiaoke_conn_id: str, hook_params: Mapping[str, Any] | None) -> None:
        self.fxiaoke_conn_id = fxiaoke_conn_id
        self.hook_params = check_hook_params(hook_params)

    @cached_property
    def hook(self) -> FxiaokeHook:
        """Built on first use, in the task, with the rendered connection id; no wait of it sleeps
        past the task's ``execution_timeout``."""
        hook = make_hook(self.fxiaoke_conn_id, self.hook_params)
        hook.deadline = self.task_deadline()
        return hook

    def task_deadline(self) -> Deadline:
        """The end of this try: now plus ``execution_timeout`` (none without one)."""
        timeout = self.execution_timeout.total_seconds() if self.execution_timeout else None
        return Deadline.after(timeout)

    def _run(self, action: Callable[[], T], *, resolved_by_lookup: bool = False) -> T:
        """``action()``, with a provider error raised as Airflow should see it: itself where a task
        retry may help, else a final ``AirflowFailException`` (``gateway.outcomes`` decides)."""
        try:
            return action()
        except FxiaokeError as error:
            airflow_error = as_airflow_error(error, resolved_by_lookup=resolved_by_lookup)
            if airflow_error is error:
                raise
            raise airflow_error from error


class FxiaokeBaseOperator(FxiaokeHookMixin, BaseOperator):
    """
    Base of every Fxiaoke operator.

    :param fxiaoke_conn_id: the ``fxiaoke`` connection (templated).
    :param hook_params: settings for the hook that override the connection's extras: ``timeout``,
        ``retry_max_attempts``, ``retry_max_wait``, ``retry_unknown_outcome``, ``token_cache``.
    """

    template_fields: Sequence[str] = BASE_TEMPLATE_FIELDS
    ui_color = "#ff8000"

    def __init__(
        self,
        *,
        fxiaoke_conn_id: str = DEFAULT_CONN_ID,
        hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._init_fxiaoke(fxiaoke_conn_id, hook_params)
