"""``FxiaokeHook``: the connection, the access token and every HTTP call to the Fxiaoke gateway."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fxiaoke_provider import messages, protocol
from fxiaoke_provider.connection import CONN_TYPE, FxiaokeConnectionConfig, config_from_connection
from fxiaoke_provider.exceptions import (
    BatchOutcome,
    FxiaokeError,
    FxiaokeInvalidInputError,
    FxiaokePartialSendError,
    FxiaokeTokenExpiredError,
    FxiaokeWrongHostError,
)
from fxiaoke_provider.version_compat import BaseHook, mask_secret

if TYPE_CHECKING:
    import requests

    from fxiaoke_provider.pacing import EndpointPacer
    from fxiaoke_provider.token_store import AccessToken, MemoryTokenStore

log = logging.getLogger(__name__)


class FxiaokeHook(BaseHook):
    """
    Talks to the Fxiaoke (ShareCRM) OpenAPI gateway with the credentials of an ``fxiaoke`` connection.

    One ``requests.Session`` per hook (keep-alive); the access token is shared by all task processes
    on the machine (see ``token_store``); transient failures are retried by one policy (``retry``).

    :param fxiaoke_conn_id: Airflow connection id of type ``fxiaoke``.
    :param timeout: seconds to wait for an answer; overrides the connection's ``timeout`` extra.
    :param retry_max_attempts: attempts for transient failures; overrides the extra of that name.
    :param retry_max_wait: ceiling in seconds of one backoff wait; overrides the extra of that name.
    :param retry_unknown_outcome: retry even when a request may already have been acted on
        (at-least-once delivery); overrides the extra of that name.
    :param token_cache: ``file`` (shared per machine, default) or ``memory`` (per hook).
    """

    conn_name_attr = "fxiaoke_conn_id"
    default_conn_name = "fxiaoke_default"
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fxiaoke_conn_id = fxiaoke_conn_id
        self._overrides = {
            "timeout": timeout,
            "retry_max_attempts": retry_max_attempts,
            "retry_max_wait": retry_max_wait,
            "retry_unknown_outcome": retry_unknown_outcome,
            "token_cache": token_cache,
        }

    # --- connection, session, token ------------------------------------------------------------
    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        """Airflow's lookup, plus the metadata DB where Airflow 3 skips it (see ``connection_lookup``)."""
        from fxiaoke_provider.connection_lookup import get_connection

        return get_connection(conn_id)

    @cached_property
    def config(self) -> FxiaokeConnectionConfig:
        config = config_from_connection(self.get_connection(self.fxiaoke_conn_id), self._overrides)
        mask_secret(config.app_secret)
        mask_secret(config.permanent_code)
        if config.is_plain_http and config.allow_insecure_http:
            log.warning(
                "Connection %r sends credentials over plain http to %s (allow_insecure_http is set)",
                config.conn_id,
                config.base_url,
            )
        return config

    @cached_property
    def session(self) -> requests.Session:
        import requests

        session = requests.Session()
        session.trust_env = self.config.proxy is None  # an explicit proxy wins over *_PROXY variables
        if self.config.proxy:
            session.proxies = {"https": self.config.proxy, "http": self.config.proxy}
        return session

    @cached_property
    def _token_store(self) -> MemoryTokenStore:
        from fxiaoke_provider.connection import default_token_cache_dir
        from fxiaoke_provider.token_store import FileTokenStore, MemoryTokenStore, cache_key

        config = self.config
        if config.token_cache == "memory":
            return MemoryTokenStore()
        key = cache_key(config.base_url, config.app_id, config.permanent_code, config.auth_style)
        return FileTokenStore(config.token_cache_dir or default_token_cache_dir(), key)

    @cached_property
    def _pacer(self) -> EndpointPacer:
        from fxiaoke_provider.pacing import EndpointPacer

        return EndpointPacer(self.config.rate_limit_calls, self.config.rate_limit_window_s)

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None):
        from fxiaoke_provider import transport

        config = self.config
        with self._pacer.slot(path):
            return transport.post(
                self.session,
                config.base_url,
                path,
                body,
                headers=headers,
                timeout_s=config.timeout_s,
                verify=config.verify,
            )

    def fetch_token(self) -> AccessToken:
        """Ask the gateway for a token (bypassing every cache); retried like any call."""
        from fxiaoke_provider.retry import build_retrying

        for attempt in build_retrying(self.config.retry):
            with attempt:
                return self._fetch_token_once()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _fetch_token_once(self) -> AccessToken:
        import time

        from fxiaoke_provider.token_store import AccessToken

        config = self.config
        credentials = {
            "appId": config.app_id,
            "appSecret": config.app_secret,
            "permanentCode": config.permanent_code,
        }
        if config.auth_style == "legacy":
            path, value_key, tenant_key = (
                protocol.LEGACY_TOKEN_PATH,
                protocol.LEGACY_TOKEN_FIELD,
                protocol.LEGACY_CORP_ID_FIELD,
            )
        else:
            credentials["grantType"] = protocol.TOKEN_GRANT_TYPE
            path, value_key, tenant_key = protocol.TOKEN_PATH, "accessToken", "ea"
        answer = self._post(path, credentials)
        value, tenant = answer.body.get(value_key), answer.body.get(tenant_key)
        if not isinstance(value, str) or not value or not tenant:
            raise FxiaokeWrongHostError(
                f"token answer lacks {value_key!r} or {tenant_key!r}",
                path=path,
                trace_id=answer.body.get("traceId"),
                third_trace_id=answer.third_trace_id,
            )
        mask_secret(value)
        expires_in = answer.body.get("expiresIn")
        log.info(
            "Fetched a Fxiaoke access token for connection %r (traceId %s)",
            config.conn_id,
            answer.body.get("traceId"),
        )
        return AccessToken(
            value=value,
            tenant=str(tenant),
            obtained_at=time.time(),
            expires_in=float(expires_in)
            if isinstance(expires_in, (int, float))
            else protocol.TOKEN_LIFETIME_S,
        )

    def get_token(self) -> AccessToken:
        """The current token: from this hook, else the machine's cache, else the gateway."""
        return self._current_token(self.fetch_token)

    def _current_token(self, fetch: Callable[[], AccessToken]) -> AccessToken:
        token = self._token_store.get(fetch)
        mask_secret(token.value)  # a token read from the shared file is new to this process's masker
        return token

    # --- the one call -------------------------------------------------------------------------
    def _authorised(self, body: dict[str, Any], token: AccessToken) -> tuple[dict[str, Any], dict[str, str]]:
        config = self.config
        if config.auth_style == "legacy":
            return {
                **body,
                protocol.LEGACY_TOKEN_FIELD: token.value,
                protocol.LEGACY_CORP_ID_FIELD: token.tenant,
            }, {}
        headers = {
            protocol.HEADER_AUTHORIZATION: protocol.BEARER_PREFIX + token.value,
            protocol.HEADER_EA: token.tenant,
            protocol.HEADER_USER_ID: str(config.user_id),
        }
        return body, headers

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST an authorised request to a business endpoint; return the answer (``errorCode == 0``).

        Raises an ``FxiaokeError`` subclass that says whether retrying makes sense.
        """
        from fxiaoke_provider.retry import build_retrying

        renewed = False
        for attempt in build_retrying(self.config.retry):
            with attempt:
                # The single-shot fetch: this loop already retries it (a retrying fetch inside
                # would multiply attempts and hammer the 10-a-minute token endpoint).
                token = self._current_token(self._fetch_token_once)
                try:
                    answer = self._post(path, *self._authorised(body, token))
                except FxiaokeTokenExpiredError:
                    if renewed:
                        raise
                    renewed = True
                    log.info("Fxiaoke token rejected (20016); renewing it and retrying once")
                    self._token_store.invalidate(token)
                    token = self._current_token(self._fetch_token_once)
                    answer = self._post(path, *self._authorised(body, token))
                log.debug(
                    "Fxiaoke %s ok: traceId %s, thirdTraceId %s",
                    path,
                    answer.body.get("traceId"),
                    answer.third_trace_id,
                )
                return answer.body
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    # --- messages -----------------------------------------------------------------------------
    def send_message(
        self,
        to_users: Sequence[str],
        message: str | dict[str, Any] | list[dict[str, Any]],
        msg_type: str = "text",
        service_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """
        Send one message to any number of employees, 500 per request, in order.

        With a service id (argument, else the connection's ``service_id``) it is sent by that
        service account; without one, by the app itself.

        :param to_users: CRM employee ids (or ``FSUID_...`` open ids, not mixed).
        :param message: ``str`` for text, the ``composite`` dict for a card, a list of article dicts.
        :return: the gateway's answer of every request, in batch order (each has its ``traceId``).
        :raises FxiaokePartialSendError: a later batch failed after earlier ones were delivered.
        """
        fields = messages.build_message_fields(msg_type, message)
        recipients = messages.check_recipients(to_users)
        if service_id is not None:
            service_id = messages.check_id(service_id, "service_id")
        service_id = service_id or self.config.service_id
        path = protocol.SERVICE_MESSAGE_SEND_PATH if service_id else protocol.APP_MESSAGE_SEND_PATH
        extra_fields: dict[str, Any] = {"serviceId": service_id} if service_id else {}
        if messages.uses_open_user_ids(recipients):
            extra_fields["convertUserId"] = True

        size = protocol.MAX_RECIPIENTS_PER_REQUEST
        total = -(-len(recipients) // size)

        def outcome(i: int, trace_id: str | None = None) -> BatchOutcome:
            return BatchOutcome(i, min(size, len(recipients) - i * size), trace_id)

        answers: list[dict[str, Any]] = []
        for index, chunk in enumerate(messages.batches(recipients, size)):  # one slice alive at a time
            try:
                answers.append(self.call(path, {"toUser": chunk, **fields, **extra_fields}))
            except FxiaokeError as error:
                if not answers:
                    raise
                raise FxiaokePartialSendError(
                    error,
                    delivered=[outcome(i, answer.get("traceId")) for i, answer in enumerate(answers)],
                    failed=outcome(index),
                    not_sent=[outcome(i) for i in range(index + 1, total)],
                ) from error
        # DEBUG: rendering a log line costs about as much CPU as the request itself, and a loop of
        # sends should not pay it per message; the operator and the notifier log the traceIds once.
        log.debug(
            "Sent Fxiaoke %s message to %d recipient(s) in %d request(s) via %s; traceIds: %s",
            fields["msgType"],
            len(recipients),
            total,
            f"service account {service_id}" if service_id else "the app",
            ", ".join(str(answer.get("traceId")) for answer in answers),
        )
        return answers

    def revoke_message(self, message_id: str, service_id: str | None = None) -> dict[str, Any]:
        """Revoke a service-account message; ``message_id`` is whatever id the send answer held."""
        body = {"messageId": messages.check_id(message_id, "message_id")}
        if service_id is None:
            service_id = self.config.service_id
            if service_id is None:
                raise FxiaokeInvalidInputError(
                    "service_id", "required to revoke: pass it or set the connection's extra 'service_id'"
                )
        body["serviceId"] = messages.check_id(service_id, "service_id")
        answer = self.call(protocol.SERVICE_MESSAGE_REVOKE_PATH, body)
        log.info("Revoked Fxiaoke message %s (traceId %s)", body["messageId"], answer.get("traceId"))
        return answer

    # --- Airflow UI ---------------------------------------------------------------------------
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
        from fxiaoke_provider.connection_form import ui_field_behaviour

        return ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra-field widgets for Airflow versions that do not read ``conn-fields``."""
        from fxiaoke_provider.connection_form import connection_form_widgets

        return connection_form_widgets()
