"""``FxiaokeHook``: the connection, the access token and every HTTP call to the Fxiaoke gateway."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fxiaoke_provider import checkpoint, connection_lookup, directory, media, messages, protocol
from fxiaoke_provider.connection import (
    CONN_TYPE,
    DEFAULT_CONN_ID,
    FxiaokeConnectionConfig,
    RetrySettings,
    config_from_connection,
    default_token_cache_dir,
)
from fxiaoke_provider.deadline import Deadline, FxiaokeDeadlineError
from fxiaoke_provider.exceptions import (
    BatchOutcome,
    FxiaokeError,
    FxiaokeInvalidInputError,
    FxiaokePartialSendError,
    FxiaokeProtocolError,
    FxiaokeTokenExpiredError,
    FxiaokeTransientError,
)
from fxiaoke_provider.pacing import EndpointPacer, MachinePacer
from fxiaoke_provider.retry import build_retrying, retryable_by_airflow
from fxiaoke_provider.token_fetch import patient_fetch
from fxiaoke_provider.token_store import AccessToken, FileTokenStore, MemoryTokenStore, TokenStore, cache_key
from fxiaoke_provider.token_store_airflow import AirflowVariableTokenStore
from fxiaoke_provider.version_compat import BaseHook, mask_secret

if TYPE_CHECKING:
    import requests  # imported when the first request is made: DAG files that import the hook stay cheap

    from fxiaoke_provider.transport import Answer

log = logging.getLogger(__name__)


class FxiaokeHook(BaseHook):
    """
    Talks to the Fxiaoke (ShareCRM) OpenAPI gateway with the credentials of an ``fxiaoke`` connection.

    One ``requests.Session`` per hook (keep-alive, ``get_conn()``); the access token is shared by all
    task processes on the machine (see ``token_store``); failures follow one policy (``retry``).

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
        self._masked_token: str | None = None  # the token value this hook last registered with the masker
        #: The task's end; the send operator sets it from ``execution_timeout`` so no wait sleeps past it.
        self.deadline = Deadline(None)
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
        return connection_lookup.get_connection(conn_id)

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

    def get_conn(self) -> requests.Session:
        """The hook's HTTP session (``BaseHook`` convention); every call of this hook goes through it."""
        return self.session

    @cached_property
    def _cache_key(self) -> str:
        config = self.config
        return cache_key(config.base_url, config.app_id, config.permanent_code, config.auth_style)

    @cached_property
    def _token_store(self) -> TokenStore:
        config = self.config
        if config.token_cache == "memory":
            return MemoryTokenStore(self._clock)
        machine = FileTokenStore(
            config.token_cache_dir or default_token_cache_dir(), self._cache_key, self._clock
        )
        if config.token_cache == "airflow":
            return AirflowVariableTokenStore(self._cache_key, machine, clock=self._clock, sleep=self._sleep)
        return machine

    @cached_property
    def _pacer(self) -> EndpointPacer | MachinePacer:
        """Shared by every process on the machine with these credentials, unless tokens are per hook."""
        config = self.config
        limits = (config.rate_limit_calls, config.rate_limit_window_s)
        if config.token_cache == "memory":
            return EndpointPacer(*limits, sleep=self._sleep, before_wait=self._check_wait)
        directory = config.token_cache_dir or default_token_cache_dir()
        return MachinePacer(
            directory, self._cache_key, *limits, sleep=self._sleep, before_wait=self._check_wait
        )

    def _check_wait(self, seconds: float) -> None:
        self.deadline.check_wait(seconds)  # looked up per wait: the operator sets the deadline late

    def _backoff_sleep(self, seconds: float) -> None:
        """Retry backoff that refuses to sleep past the task's deadline."""
        self.deadline.check_wait(seconds)
        self._sleep(seconds)

    def _patient(self, fetch: Callable[[], AccessToken], started: float | None = None) -> AccessToken:
        """``fetch``, retried while the token endpoint refuses for its call limit (past its 60 s window)."""
        return patient_fetch(
            fetch, started=started, clock=self._clock, sleep=self._sleep, before_wait=self._check_wait
        )

    def _post(
        self,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
        before_send: Callable[[str], None] | None = None,
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Answer:
        """One paced request under the deadline; with ``files`` an upload, whose ``body`` fields
        travel as query parameters (where legacy style puts its credentials, as the manual shows)."""
        from fxiaoke_provider import transport

        config = self.config
        self.deadline.check_wait(0)  # no request starts in the last moments before the deadline
        with self._pacer.slot(path):
            third_trace_id = transport.new_third_trace_id()
            if before_send is not None:  # e.g. record the batch as in flight before it can arrive
                before_send(third_trace_id)
            exchange = {
                "headers": headers,
                "timeout_s": self.deadline.cap(config.timeout_s),
                "verify": config.verify,
                "third_trace_id": third_trace_id,
            }
            if files is not None:
                return transport.post_form(
                    self.session, config.base_url, path, files, params=body, **exchange
                )
            return transport.post(self.session, config.base_url, path, body, **exchange)

    @contextlib.contextmanager
    def _airflow_semantics(self, journal: checkpoint.SendJournal | None = None) -> Iterator[None]:
        """Stamp every error leaving the hook with whether Airflow's task retry may repeat the work."""
        try:
            yield
        except FxiaokeError as error:
            config = self.__dict__.get("config")  # absent when the connection itself was the problem
            settings = config.retry if config is not None else RetrySettings()
            error.retryable_by_airflow = retryable_by_airflow(error, settings, journal)
            raise

    def fetch_token(self) -> AccessToken:
        """Ask the gateway for a token (bypassing every cache); retried like any call."""
        with self._airflow_semantics():
            for attempt in build_retrying(self.config.retry, self._backoff_sleep):
                with attempt:
                    return self._fetch_token_once()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _fetch_token_once(self) -> AccessToken:
        config = self.config
        credentials = {
            protocol.APP_ID_FIELD: config.app_id,
            protocol.APP_SECRET_FIELD: config.app_secret,
            protocol.PERMANENT_CODE_FIELD: config.permanent_code,
        }
        if config.auth_style == protocol.HEADER_STYLE:
            credentials[protocol.GRANT_TYPE_FIELD] = protocol.TOKEN_GRANT_TYPE
        path = protocol.TOKEN_PATH_BY_STYLE[config.auth_style]
        value_key, tenant_key = protocol.TOKEN_ANSWER_FIELDS[config.auth_style]
        answer = self._post(path, credentials)
        body = answer.body
        value, tenant = body.get(value_key), body.get(tenant_key)
        if not isinstance(value, str) or not value or not tenant:
            raise FxiaokeProtocolError(
                f"token answer lacks {value_key!r} or {tenant_key!r}",
                path=path,
                trace_id=body.get(protocol.TRACE_ID_FIELD),
                third_trace_id=answer.third_trace_id,
            )
        mask_secret(value)
        expires_in = body.get(protocol.EXPIRES_IN_FIELD)
        if not isinstance(expires_in, (int, float)) or isinstance(expires_in, bool) or expires_in <= 0:
            expires_in = protocol.TOKEN_LIFETIME_S  # undocumented answer: assume a new token
        log.info(
            "Fetched a Fxiaoke access token for connection %r (%.0fs left; traceId %s)",
            config.conn_id,
            expires_in,
            body.get(protocol.TRACE_ID_FIELD),
        )
        return AccessToken(
            value=value,
            tenant=str(tenant),
            obtained_at=self._clock(),
            expires_in=float(expires_in),
            style=config.auth_style,
        )

    def get_token(self) -> AccessToken:
        """The current token: from this hook, else the shared cache, else the gateway."""
        with self._airflow_semantics():
            return self._current_token()

    def _current_token(self, started: float | None = None) -> AccessToken:
        # The single-shot fetch: callers already retry it (a retrying fetch inside a retrying call
        # would multiply attempts and hammer the 10-a-minute token endpoint). Only a refusal for the
        # endpoint's call limit is waited out, once per call (``started``), past its 60 s window.
        token = self._token_store.get(lambda: self._patient(self._fetch_token_once, started))
        if token.value != self._masked_token:
            # A token read from the shared cache is new to this process's masker. Registering it once
            # per value keeps the per-call path free of it (inside a task each registration is also a
            # message to the supervisor).
            mask_secret(token.value)
            self._masked_token = token.value
        return token

    # --- the one call -------------------------------------------------------------------------
    def _authorised(self, body: dict[str, Any], token: AccessToken) -> tuple[dict[str, Any], dict[str, str]]:
        config = self.config
        if config.auth_style == protocol.LEGACY_STYLE:
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

    def _call_once(
        self,
        path: str,
        body: dict[str, Any],
        files: dict[str, tuple[str, bytes, str]] | None = None,
        before_send: Callable[[str], None] | None = None,
        started: float | None = None,
    ) -> dict[str, Any]:
        token = self._current_token(started)
        try:
            if files is not None:
                body = {}  # an upload carries no JSON body; legacy credentials join its query
            answer = self._post(path, *self._authorised(body, token), before_send, files=files)
        except FxiaokeTokenExpiredError:
            self._token_store.invalidate(token)  # the policy's renewal step retries with a fresh one
            raise
        log.debug(
            "Fxiaoke %s ok: traceId %s, thirdTraceId %s",
            path,
            answer.body.get(protocol.TRACE_ID_FIELD),
            answer.third_trace_id,
        )
        return answer.body

    def call(
        self,
        path: str,
        body: dict[str, Any],
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        before_send: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """POST an authorised request to a business endpoint; return the answer (``errorCode == 0``).

        With ``files`` (field -> ``(filename, bytes, content type)``) the request is an upload
        (``multipart/form-data``; ``body`` is not sent). Raises an ``FxiaokeError`` subclass that
        says whether retrying makes sense. ``before_send`` gets the ``thirdTraceId`` of every
        attempt just before it goes out.
        """
        with self._airflow_semantics():
            started = self._clock()  # one patience budget for the token endpoint per call
            for attempt in build_retrying(self.config.retry, self._backoff_sleep):
                with attempt:
                    return self._call_once(path, body, files, before_send, started)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    # --- messages -----------------------------------------------------------------------------
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
        journal: checkpoint.SendJournal | None = None,
    ) -> list[dict[str, Any]]:
        """
        Send one message to any number of people, each once, 500 per request, in order.

        With a service id (argument, else the connection's ``service_id``) it is sent by that
        service account; without one, by the app itself.

        :param to_users: ids in the kind the auth style addresses (header: CRM employee ids, and
            ``FSUID_...`` open ids which go in requests of their own with ``convertUserId``; legacy:
            ``FSUID_...`` open ids). Repeated ids are sent once. May be None or empty when
            ``to_mobiles`` or ``to_departments`` name someone.
        :param message: ``str`` for text, the ``composite`` dict for a card, a list of article dicts.
            An article may give ``coverImagePath`` (a local image) instead of ``coverImage``: the file
            is checked, uploaded once per distinct content per hook, and sent as its media id.
        :param to_mobiles: mobile numbers, each resolved through the address book to an open id
            (once per hook); a number nobody has is bad input, raised before any message goes out.
        :param to_departments: department ids whose members receive the message; a department
            without members is bad input.
        :param include_sub_departments: members of sub-departments too (``fetchChild``); default True.
        :param journal: where each request is recorded in flight and delivered (``checkpoint``). A
            durable one (Airflow's task state store) lets a later try resume: delivered requests are
            not sent again, requests of unknown outcome only with at-least-once delivery.
        :return: the gateway's answer of every request, in batch order (each has its ``traceId``,
            and a ``messageId`` where the tenant's gateway returns one); a request delivered by an
            earlier try is ``{"traceId": ..., "messageId": ..., "resumed": True}``.
        :raises FxiaokePartialSendError: a later batch failed after earlier ones were delivered.
        :raises FxiaokeUnknownBatchesError: everything else went out, but an earlier try left
            requests of unknown outcome (reported with their ``thirdTraceId``, not resent).
        """
        with self._airflow_semantics(journal):
            fields = messages.build_message_fields(msg_type, media.without_cover_paths(message))
            wanted = directory.check_recipient_kinds(to_users, to_mobiles, to_departments)
            recipients, dropped = wanted.users, wanted.dropped_users
            if dropped:
                log.info("Dropped %d repeated recipient id(s); each person gets the message once", dropped)
            groups = messages.recipient_groups(recipients, self.config.auth_style)
            if service_id is not None:
                service_id = messages.check_id(service_id, "service_id")
            covers = media.load_covers(message) if msg_type == "articles" else {}
            # Every local rule has passed; lookups and uploads now, and no message before they all worked.
            found = self._address_book.resolve(wanted, include_sub_departments)
            groups = directory.merge_groups(groups, found, self.config.auth_style)
            recipients = [user for group in groups for user in group.ids]
            if covers:
                media_ids = self._cover_uploads.media_ids(covers)
                fields = messages.build_message_fields(msg_type, media.with_media_ids(message, media_ids))
            service_id = service_id or self.config.service_id
            path = protocol.SERVICE_MESSAGE_SEND_PATH if service_id else protocol.APP_MESSAGE_SEND_PATH
            sender = {protocol.SERVICE_ID_FIELD: service_id} if service_id else {}
            requests_to_send = [
                {**group.body_fields(chunk), **fields, **sender}
                for group in groups
                for chunk in messages.batches(group.ids)
            ]
            answers = self._send_batches(path, requests_to_send, journal)
        # DEBUG: rendering a log line costs about as much CPU as the request itself, and a loop of
        # sends should not pay it per message; the operator and the notifier log the traceIds once.
        log.debug(
            "Sent Fxiaoke %s message to %d recipient(s) in %d request(s) via %s; traceIds: %s",
            fields[protocol.MSG_TYPE_FIELD],
            len(recipients),
            len(answers),
            f"service account {service_id}" if service_id else "the app",
            ", ".join(str(answer.get(protocol.TRACE_ID_FIELD)) for answer in answers),
        )
        return answers

    def _send_batches(
        self, path: str, bodies: list[dict[str, Any]], journal: checkpoint.SendJournal | None = None
    ) -> list[dict[str, Any]]:
        """Send request bodies in order, each recorded in ``journal``; after the first delivered one
        (in this try or an earlier one), a failure is a partial send."""

        def outcome(i: int, trace_id: str | None = None) -> BatchOutcome:
            return BatchOutcome(i, len(bodies[i][protocol.TO_USER_FIELD]), trace_id)

        journal = journal if journal is not None else checkpoint.SendJournal()
        send_id = checkpoint.fingerprint(path, bodies)
        journal.start(send_id, len(bodies))
        resend_unknown = self.config.retry.retry_unknown_outcome
        answers: list[dict[str, Any]] = []
        for index, body in enumerate(bodies):
            digest = checkpoint.batch_digest(send_id, index, body)
            size = len(body[protocol.TO_USER_FIELD])
            earlier = journal.earlier(index, digest)
            if earlier is not None and (earlier.state == checkpoint.DELIVERED or not resend_unknown):
                journal.carry(earlier)  # delivered, or of unknown outcome: not sent again
                if earlier.state == checkpoint.DELIVERED:
                    answers.append(earlier.answer())
                continue

            def in_flight(third_trace_id: str, index: int = index, digest: str = digest, size: int = size):
                journal.in_flight(index, digest, third_trace_id, size)

            try:
                answer = self.call(path, body, before_send=in_flight)
            except FxiaokeError as error:
                if isinstance(error, (FxiaokeTransientError, FxiaokeDeadlineError)):
                    journal.not_sent(index)  # refused before any work was done
                if not any(i != index for i in journal.records):
                    raise
                raise FxiaokePartialSendError(
                    error,
                    delivered=[
                        outcome(r.index, r.trace_id) for r in journal.delivered_records() if r.index != index
                    ],
                    failed=outcome(index),
                    not_sent=[outcome(i) for i in range(index + 1, len(bodies))],
                ) from error
            journal.delivered(
                index,
                digest,
                answer.get(protocol.TRACE_ID_FIELD),
                size,
                answer.get(protocol.MESSAGE_ID_FIELD),
            )
            answers.append(answer)
        if journal.unknown():
            raise checkpoint.FxiaokeUnknownBatchesError(journal)
        journal.finish()
        return answers

    def revoke_message(self, message_id: str, service_id: str | None = None) -> dict[str, Any]:
        """Revoke a service-account message by the ``messageId`` the tenant's gateway gave for it.

        A send's ``traceId`` is a request id, not a message id: nothing public says where a message
        id comes from, so the caller passes the one it has (XCom ``message_ids`` where a send answer
        carried one).
        """
        with self._airflow_semantics():
            if isinstance(message_id, str) and message_id.strip() == "None":
                # what "{{ ti.xcom_pull(..., key='message_ids')[0] }}" renders to when the answer had none
                raise FxiaokeInvalidInputError(
                    "message_id", "required; got 'None' (the send answer carried no messageId)"
                )
            body = {protocol.MESSAGE_ID_FIELD: messages.check_id(message_id, "message_id")}
            if service_id is None:
                service_id = self.config.service_id
                if service_id is None:
                    raise FxiaokeInvalidInputError(
                        "service_id", "required to revoke: pass it or set the connection's extra 'service_id'"
                    )
            body[protocol.SERVICE_ID_FIELD] = messages.check_id(service_id, "service_id")
            answer = self.call(protocol.SERVICE_MESSAGE_REVOKE_PATH, body)
        log.info(
            "Revoked Fxiaoke message %s (traceId %s)",
            body[protocol.MESSAGE_ID_FIELD],
            answer.get(protocol.TRACE_ID_FIELD),
        )
        return answer

    # --- address book and material --------------------------------------------------------------
    @cached_property
    def _address_book(self) -> directory.AddressBook:
        return directory.AddressBook(self.get_user_by_mobile, self.list_department_users)

    @cached_property
    def _cover_uploads(self) -> media.CoverUploads:
        return media.CoverUploads(self._upload)

    def get_user_by_mobile(self, mobile: str) -> dict[str, Any] | None:
        """The employee with this mobile number (their ``openUserId`` and what else the address book
        holds), or None when nobody has it. Where several share it, the first (as every public client
        reads ``empList[0]``)."""
        with self._airflow_semantics():
            body = {protocol.MOBILE_FIELD: directory.check_mobile(mobile)}
            employees = directory.employees_by_mobile(self.call(protocol.USER_BY_MOBILE_PATH, body))
        if len(employees) > 1:
            log.warning("%d employees share mobile %s; the first is used", len(employees), mobile)
        return employees[0] if employees else None

    def list_department_users(self, department_id: int, fetch_child: bool = True) -> list[dict[str, Any]]:
        """The employees of a department (each with its ``openUserId``), sub-departments included
        unless ``fetch_child`` is False."""
        with self._airflow_semantics():
            body = {
                protocol.DEPARTMENT_ID_FIELD: directory.check_department_id(department_id),
                protocol.FETCH_CHILD_FIELD: bool(fetch_child),
            }
            return directory.department_users(self.call(protocol.USER_SIMPLE_LIST_PATH, body))

    def list_departments(self) -> list[dict[str, Any]]:
        """Every department of the enterprise, as the address book answers them."""
        with self._airflow_semantics():
            return directory.departments(self.call(protocol.DEPARTMENT_LIST_PATH, {}))

    def upload_image(self, file: str | os.PathLike[str] | bytes, filename: str | None = None) -> str:
        """Upload an image through the material API and return its media id (reusable, e.g. as an
        article's ``coverImage``). Size (at most 5 MB) and type (JPG, JPEG, PNG, GIF, BMP, by name and
        content) are checked before any request.

        :param file: a local path, or the image's bytes.
        :param filename: the name the gateway sees; default the path's name (``image.<type>`` for bytes).
        """
        with self._airflow_semantics():
            return self._upload(media.load_image(file, filename))

    def _upload(self, image: media.Image) -> str:
        answer = self.call(protocol.MEDIA_UPLOAD_PATH, {}, files={protocol.MEDIA_FIELD: image.form_file()})
        media_id = media.media_id_from_answer(answer)
        log.info(
            "Uploaded image %s (%d bytes) as media id %s (traceId %s)",
            image.filename,
            len(image.content),
            media_id,
            answer.get(protocol.TRACE_ID_FIELD),
        )
        return media_id

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
