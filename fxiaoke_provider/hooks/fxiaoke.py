"""``FxiaokeHook``: an ``FxiaokeClient`` built from an Airflow connection, with Airflow's semantics."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.airflow_support import connection_lookup
from fxiaoke_provider.airflow_support.token_store import AirflowVariableTokenStore
from fxiaoke_provider.airflow_support.version_compat import BaseHook
from fxiaoke_provider.client import FxiaokeClient
from fxiaoke_provider.connection.config import (
    CONN_TYPE,
    DEFAULT_CONN_ID,
    FxiaokeConnectionConfig,
    config_from_connection,
)
from fxiaoke_provider.connection.extras import AIRFLOW_CACHE
from fxiaoke_provider.exceptions import FxiaokeError
from fxiaoke_provider.gateway import outcomes, redaction
from fxiaoke_provider.gateway.deadline import Deadline
from fxiaoke_provider.gateway.tokens import AccessToken, FileTokenStore
from fxiaoke_provider.messaging.journal import SendJournal

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)


class FxiaokeHook(BaseHook):
    """
    Talks to the Fxiaoke (ShareCRM) OpenAPI gateway with the credentials of an ``fxiaoke`` connection.

    The hook reads the connection and builds one ``FxiaokeClient`` (``hook.client``: session,
    token, pacing, retries); it adds only what Airflow brings: the connection lookup, the secrets
    masker, the deployment-wide token cache, and whether Airflow's task retry may repeat a failure
    (``retryable_by_airflow`` on every error it raises, as ``gateway.outcomes`` decides).

    :param fxiaoke_conn_id: Airflow connection id of type ``fxiaoke``.
    :param timeout: seconds to wait for an answer; overrides the connection's ``timeout`` extra.
    :param retry_max_attempts: attempts for transient failures; overrides the extra of that name.
    :param retry_max_wait: ceiling in seconds of one backoff wait; overrides the extra of that name.
    :param retry_unknown_outcome: retry even when a request may already have been acted on
        (at-least-once delivery); overrides the extra of that name.
    :param token_cache: ``file`` (shared per machine, default), ``airflow`` (shared by the whole
        deployment through an Airflow Variable) or ``memory`` (per hook).
    :param sleep: how the hook waits (backoff, pacing); injectable so tests need not wait.
    :param clock: wall-clock seconds used for token lifetimes; injectable for tests.
    """

    conn_name_attr = "fxiaoke_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Fxiaoke (ShareCRM)"

    def __init__(
        self,
        fxiaoke_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        retry_max_attempts: int | None = None,
        retry_max_wait: float | None = None,
        retry_unknown_outcome: bool | None = None,
        token_cache: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fxiaoke_conn_id = fxiaoke_conn_id
        self._sleep = sleep
        self._clock = clock
        self._deadline = Deadline(None)
        self._overrides = {
            "timeout": timeout,
            "retry_max_attempts": retry_max_attempts,
            "retry_max_wait": retry_max_wait,
            "retry_unknown_outcome": retry_unknown_outcome,
            "token_cache": token_cache,
        }

    # --- connection and client -------------------------------------------------------------------
    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        """Airflow's lookup, plus the metadata DB where Airflow 3 skips it (see ``connection_lookup``)."""
        return connection_lookup.get_connection(conn_id)

    @cached_property
    def config(self) -> FxiaokeConnectionConfig:
        config = config_from_connection(self.get_connection(self.fxiaoke_conn_id), self._overrides)
        redaction.mask(config.app_secret)
        redaction.mask(config.permanent_code)
        if config.is_plain_http and config.allow_insecure_http:
            log.warning(
                "Connection %r sends credentials over plain http to %s (allow_insecure_http is set)",
                config.conn_id,
                config.base_url,
            )
        return config

    @cached_property
    def client(self) -> FxiaokeClient:
        """The one client of this hook, built from the connection on first use."""
        config = self.config
        token_store = None
        if config.token_cache == AIRFLOW_CACHE:
            key = config.cache_key
            machine = FileTokenStore(config.cache_dir, key, self._clock)
            token_store = AirflowVariableTokenStore(key, machine, clock=self._clock, sleep=self._sleep)
        client = FxiaokeClient(
            settings=config,
            service_id=config.service_id,
            token_store=token_store,
            sleep=self._sleep,
            clock=self._clock,
        )
        client.deadline = self._deadline
        return client

    @property
    def deadline(self) -> Deadline:
        """The task's end; the send operator sets it from ``execution_timeout`` so no wait sleeps past it."""
        return self._deadline

    @deadline.setter
    def deadline(self, deadline: Deadline) -> None:
        self._deadline = deadline
        if "client" in self.__dict__:
            self.client.deadline = deadline

    @property
    def session(self) -> requests.Session:
        return self.client.session

    def get_conn(self) -> requests.Session:
        """The hook's HTTP session (``BaseHook`` convention); every call of this hook goes through it."""
        return self.client.session

    @contextlib.contextmanager
    def _airflow_semantics(self, journal: SendJournal | None = None) -> Iterator[None]:
        """Stamp every error leaving the hook with whether Airflow's task retry may repeat the work."""
        try:
            yield
        except FxiaokeError as error:
            config = self.__dict__.get("config")  # absent when the connection itself was the problem
            at_least_once = config is not None and config.retry.retry_unknown_outcome
            error.retryable_by_airflow = outcomes.retried_by_airflow(
                error, retry_unknown_outcome=at_least_once, journal=journal
            )
            raise

    # --- the gateway ------------------------------------------------------------------------------
    def fetch_token(self) -> AccessToken:
        """Ask the gateway for a token (bypassing every cache); retried like any read."""
        with self._airflow_semantics():
            return self.client.fetch_token()

    def get_token(self) -> AccessToken:
        """The current token: from this hook, else the shared cache, else the gateway."""
        with self._airflow_semantics():
            return self.client.get_token()

    def call(
        self,
        path: str,
        body: dict[str, Any],
        *,
        repeatable: bool = False,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        before_send: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """POST an authorised request to a business endpoint; return the answer (``errorCode == 0``).

        ``repeatable=True`` declares a read: an unknown outcome is then asked again. With ``files``
        (field -> ``(filename, bytes, content type)``) the request is an upload. ``before_send``
        gets the ``thirdTraceId`` of every attempt just before it goes out. See ``Gateway.call``.
        """
        with self._airflow_semantics():
            return self.client.call(path, body, repeatable=repeatable, files=files, before_send=before_send)

    # --- messages ---------------------------------------------------------------------------------
    def send_message(
        self,
        to_users: Sequence[str] | None,
        message: str | dict[str, Any] | list[dict[str, Any]],
        msg_type: str = "text",
        service_id: str | None = None,
        *,
        to_mobiles: Sequence[str] | None = None,
        to_departments: Sequence[int | str] | None = None,
        include_sub_departments: bool = True,
        journal: SendJournal | None = None,
    ) -> list[dict[str, Any]]:
        """
        Send one message to any number of people, each once, 500 per request, in order.

        With a service id (argument, else the connection's ``service_id``) it is sent by that
        service account; without one, by the app itself. The parameters are those of
        ``Messaging.send_message``; a ``journal`` in Airflow's task state store (Airflow >= 3.3)
        lets a later try resume the send.

        :return: the gateway's answer of every request, in batch order.
        :raises FxiaokePartialSendError: a later batch failed after earlier ones were delivered.
        :raises FxiaokeUnknownBatchesError: everything else went out, but an earlier try left
            requests of unknown outcome (reported with their ``thirdTraceId``, not resent).
        """
        with self._airflow_semantics(journal):
            return self.client.messaging.send_message(
                to_users,
                message,
                msg_type,
                service_id,
                to_mobiles=to_mobiles,
                to_departments=to_departments,
                include_sub_departments=include_sub_departments,
                journal=journal,
            )

    def revoke_message(self, message_id: str, service_id: str | None = None) -> dict[str, Any]:
        """Revoke a service-account message by the ``messageId`` the tenant's gateway gave for it."""
        with self._airflow_semantics():
            return self.client.messaging.revoke_message(message_id, service_id)

    def get_user_by_mobile(self, mobile: str) -> dict[str, Any] | None:
        """The employee with this mobile number, or None when nobody has it."""
        with self._airflow_semantics():
            return self.client.messaging.get_user_by_mobile(mobile)

    def list_department_users(self, department_id: int, fetch_child: bool = True) -> list[dict[str, Any]]:
        """The employees of a department (each with its ``openUserId``)."""
        with self._airflow_semantics():
            return self.client.messaging.list_department_users(department_id, fetch_child)

    def list_departments(self) -> list[dict[str, Any]]:
        """Every department of the enterprise, as the address book answers them."""
        with self._airflow_semantics():
            return self.client.messaging.list_departments()

    def upload_image(self, file: str | os.PathLike[str] | bytes, filename: str | None = None) -> str:
        """Upload an image through the material API; its media id (see ``Messaging.upload_image``)."""
        with self._airflow_semantics():
            return self.client.messaging.upload_image(file, filename)

    # --- CRM object data (``client.crm``) -------------------------------------------------------------
    def iter_records(
        self,
        object_api_name: str,
        *,
        filters: Sequence[Any] | None = None,
        fields: Sequence[str] | None = None,
        page_size: int | None = None,
        after_id: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching record once, streamed, in ``_id`` order (see ``Crm.iter_records``)."""
        paging = {"page_size": page_size} if page_size is not None else {}
        with self._airflow_semantics():  # bad input is refused now, not at the first record
            records = self.client.crm.iter_records(
                object_api_name, filters=filters, fields=fields, after_id=after_id, **paging
            )
        return self._stamped(records)

    def _stamped(self, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        with self._airflow_semantics():
            yield from records

    def query_records(
        self,
        object_api_name: str,
        *,
        filters: Sequence[Any] | None = None,
        fields: Sequence[str] | None = None,
        max_records: int | None = None,
    ) -> list[dict[str, Any]]:
        """A small query's records; raises beyond ``max_records`` (see ``Crm.query_records``)."""
        limit = {"max_records": max_records} if max_records is not None else {}
        with self._airflow_semantics():
            return self.client.crm.query_records(object_api_name, filters=filters, fields=fields, **limit)

    def get_record(self, object_api_name: str, record_id: str) -> dict[str, Any] | None:
        """One record by id, or None when absent."""
        with self._airflow_semantics():
            return self.client.crm.get_record(object_api_name, record_id)

    def describe_object(self, object_api_name: str) -> dict[str, Any]:
        """An object's field map: api name -> definition."""
        with self._airflow_semantics():
            return self.client.crm.describe_object(object_api_name)

    def list_objects(self) -> list[dict[str, Any]]:
        """The CRM objects of the enterprise."""
        with self._airflow_semantics():
            return self.client.crm.list_objects()

    def create_record(
        self,
        object_api_name: str,
        fields: Mapping[str, Any],
        *,
        before_send: Callable[[str], None] | None = None,
    ) -> str:
        """Create a record, sent once; its id. ``before_send`` gets the ``thirdTraceId`` first."""
        with self._airflow_semantics():
            return self.client.crm.create_record(object_api_name, fields, before_send=before_send)

    def update_record(self, object_api_name: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """Update fields of a record."""
        with self._airflow_semantics():
            self.client.crm.update_record(object_api_name, record_id, fields)

    def invalidate_record(self, object_api_name: str, record_id: str) -> None:
        """Invalidate (void) a record."""
        with self._airflow_semantics():
            self.client.crm.invalidate_record(object_api_name, record_id)

    # --- Airflow UI -------------------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """The UI's "Test" button: fetch a token with these credentials; never raises."""
        try:
            token = self.fetch_token()
        except Exception as error:  # the UI wants a message, not a traceback
            return False, f"{type(error).__name__}: {error}"
        return (
            True,
            f"Fxiaoke at {self.config.base_url} accepted the credentials (enterprise {token.tenant})",
        )

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Form layout for Airflow versions that do not read ``conn-fields`` from provider info."""
        from fxiaoke_provider.connection.form import ui_field_behaviour

        return ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra-field widgets for Airflow versions that do not read ``conn-fields``."""
        from fxiaoke_provider.connection.form import connection_form_widgets

        return connection_form_widgets()
