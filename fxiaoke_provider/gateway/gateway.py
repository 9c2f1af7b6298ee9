"""``Gateway``: one authorised, paced, retried call to the Fxiaoke OpenAPI gateway.

The core every capability builds on, without Airflow: the HTTP session (keep-alive), the access
token (kept in memory or in the machine's file cache, renewed on 20016), both auth styles, pacing
under the per-endpoint limit, the task's deadline, the retry policy, and redaction of the gateway's
text. Capabilities use ``call`` and the attributes the contract names (``auth_style``, ``user_id``,
``conn_id``), nothing else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.exceptions import FxiaokeError, FxiaokeProtocolError, FxiaokeTokenExpiredError
from fxiaoke_provider.gateway import protocol, redaction
from fxiaoke_provider.gateway.deadline import Deadline
from fxiaoke_provider.gateway.pacing import EndpointPacer, MachinePacer
from fxiaoke_provider.gateway.retry import build_retrying, patient_fetch
from fxiaoke_provider.gateway.settings import MEMORY_CACHE, GatewaySettings
from fxiaoke_provider.gateway.tokens import AccessToken, FileTokenStore, MemoryTokenStore, TokenStore

if TYPE_CHECKING:
    import requests  # imported when the first request is made: DAG files that import the hook stay cheap

    from fxiaoke_provider.gateway.transport import Answer

log = logging.getLogger(__name__)

#: A file for an upload: field -> (filename, bytes, content type).
Files = dict[str, tuple[str, bytes, str]]


@dataclass
class _Call:
    """One logical call: which of its requests failed last decides whether an unknown outcome may
    be asked again (the token request is a read; the business request is as the caller declared)."""

    repeatable: bool
    token_failed: bool = False

    def failed_request_repeatable(self) -> bool:
        return self.repeatable or self.token_failed


class Gateway:
    """One authorised, paced, retried call to the gateway with one set of credentials.

    :param settings: validated settings (``FxiaokeClient`` builds them from plain values, the hook
        from its connection).
    :param token_store: where the token is kept; default by ``settings.token_cache`` (``file``:
        shared by every process of the machine; ``memory``: this object only).
    :param sleep: how waits happen (backoff, pacing); injectable so tests need not wait.
    :param clock: wall-clock seconds used for token lifetimes; injectable for tests.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        token_store: TokenStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._given_token_store = token_store
        self._masked_token: str | None = None  # the token value last registered for redaction
        #: The end of the work (a task's ``execution_timeout``): no wait sleeps past it.
        self.deadline = Deadline(None)
        redaction.mask(settings.app_secret)
        redaction.mask(settings.permanent_code)

    # --- what capabilities may read -----------------------------------------------------------------
    @property
    def auth_style(self) -> str:
        """``header`` or ``legacy``."""
        return self.settings.auth_style

    @property
    def user_id(self) -> str | None:
        """The acting user: an employee id (header style) or an ``FSUID_`` open id (legacy style)."""
        return self.settings.user_id

    @property
    def conn_id(self) -> str | None:
        """The name of these credentials in errors and logs: the connection id under Airflow."""
        return self.settings.conn_id

    # --- session, token store, pacer -------------------------------------------------------------
    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive session for every request of this gateway."""
        import requests

        session = requests.Session()
        session.trust_env = self.settings.proxy is None  # an explicit proxy wins over *_PROXY variables
        if self.settings.proxy:
            session.proxies = {"https": self.settings.proxy, "http": self.settings.proxy}
        return session

    @cached_property
    def cache_key(self) -> str:
        """Names this credential set in the machine's (and the deployment's) shared state."""
        return self.settings.cache_key

    @cached_property
    def token_store(self) -> TokenStore:
        if self._given_token_store is not None:
            return self._given_token_store
        if self.settings.token_cache == MEMORY_CACHE:
            return MemoryTokenStore(self._clock)
        return FileTokenStore(self.settings.cache_dir, self.cache_key, self._clock)

    @cached_property
    def _pacer(self) -> EndpointPacer | MachinePacer:
        """Shared by every process on the machine with these credentials, unless tokens are per object."""
        s = self.settings
        limits = (s.rate_limit_calls, s.rate_limit_window_s)
        if s.token_cache == MEMORY_CACHE:
            return EndpointPacer(*limits, sleep=self._sleep, before_wait=self._check_wait)
        return MachinePacer(
            s.cache_dir, self.cache_key, *limits, sleep=self._sleep, before_wait=self._check_wait
        )

    def _check_wait(self, seconds: float) -> None:
        self.deadline.check_wait(seconds)  # looked up per wait: the deadline may be set late

    @property
    def _retry_measures(self) -> dict[str, Any]:
        """The endpoint window that measures the patience with call-limit refusals, and its clock."""
        return {"window_s": self.settings.rate_limit_window_s, "clock": self._clock}

    def _backoff_sleep(self, seconds: float) -> None:
        """Retry backoff that refuses to sleep past the deadline."""
        self.deadline.check_wait(seconds)
        self._sleep(seconds)

    # --- one request -------------------------------------------------------------------------------
    def _post(
        self,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
        before_send: Callable[[str], None] | None = None,
        *,
        files: Files | None = None,
    ) -> Answer:
        """One paced request under the deadline; with ``files`` an upload, whose ``body`` fields
        travel as query parameters (where legacy style puts its credentials, as the manual shows)."""
        from fxiaoke_provider.gateway import transport

        s = self.settings
        self.deadline.check_wait(0)  # no request starts in the last moments before the deadline
        with self._pacer.slot(path):
            third_trace_id = transport.new_third_trace_id()
            if before_send is not None:  # e.g. record the batch as in flight before it can arrive
                before_send(third_trace_id)
            exchange = {
                "headers": headers,
                "timeout_s": self.deadline.cap(s.timeout_s),
                "verify": s.verify,
                "third_trace_id": third_trace_id,
            }
            if files is not None:
                return transport.post_form(self.session, s.base_url, path, files, params=body, **exchange)
            return transport.post(self.session, s.base_url, path, body, **exchange)

    # --- the token ---------------------------------------------------------------------------------
    def fetch_token(self) -> AccessToken:
        """Ask the gateway for a token (bypassing every cache); retried like any read."""
        for attempt in build_retrying(
            self.settings.retry, self._backoff_sleep, lambda: True, **self._retry_measures
        ):
            with attempt:
                return self._fetch_token_once()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _fetch_token_once(self) -> AccessToken:
        s = self.settings
        credentials = {
            protocol.APP_ID_FIELD: s.app_id,
            protocol.APP_SECRET_FIELD: s.app_secret,
            protocol.PERMANENT_CODE_FIELD: s.permanent_code,
        }
        if s.auth_style == protocol.HEADER_STYLE:
            credentials[protocol.GRANT_TYPE_FIELD] = protocol.TOKEN_GRANT_TYPE
        path = protocol.TOKEN_PATH_BY_STYLE[s.auth_style]
        value_key, tenant_key = protocol.TOKEN_ANSWER_FIELDS[s.auth_style]
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
        redaction.mask(value)
        expires_in = body.get(protocol.EXPIRES_IN_FIELD)
        if not isinstance(expires_in, (int, float)) or isinstance(expires_in, bool) or expires_in <= 0:
            expires_in = protocol.TOKEN_LIFETIME_S  # undocumented answer: assume a new token
        log.info(
            "Fetched a Fxiaoke access token for %s (%.0fs left; traceId %s)",
            f"connection {s.conn_id!r}" if s.conn_id else "the client",
            expires_in,
            body.get(protocol.TRACE_ID_FIELD),
        )
        return AccessToken(
            value=value,
            tenant=str(tenant),
            obtained_at=self._clock(),
            expires_in=float(expires_in),
            style=s.auth_style,
        )

    def get_token(self) -> AccessToken:
        """The current token: from this object, else the shared cache, else the gateway."""
        return self._current_token()

    def _current_token(self, started: float | None = None) -> AccessToken:
        # The single-shot fetch: callers already retry it (a retrying fetch inside a retrying call
        # would multiply attempts and hammer the 10-a-minute token endpoint). Only a refusal for the
        # endpoint's call limit is waited out, once per call (``started``), past its 60 s window.
        token = self.token_store.get(lambda: self._patient(self._fetch_token_once, started))
        if token.value != self._masked_token:
            # A token read from the shared cache is new to this process's redaction. Registering it
            # once per value keeps the per-call path free of it (inside an Airflow task each
            # registration is also a message to the supervisor).
            redaction.mask(token.value)
            self._masked_token = token.value
        return token

    def _patient(self, fetch: Callable[[], AccessToken], started: float | None = None) -> AccessToken:
        """``fetch``, retried while the token endpoint refuses for its call limit (past its 60 s window)."""
        return patient_fetch(
            fetch, started=started, clock=self._clock, sleep=self._sleep, before_wait=self._check_wait
        )

    # --- the one call ------------------------------------------------------------------------------
    def _authorised(self, body: dict[str, Any], token: AccessToken) -> tuple[dict[str, Any], dict[str, str]]:
        if self.settings.auth_style == protocol.LEGACY_STYLE:
            return {
                **body,
                protocol.LEGACY_TOKEN_FIELD: token.value,
                protocol.LEGACY_CORP_ID_FIELD: token.tenant,
            }, {}
        headers = {
            protocol.HEADER_AUTHORIZATION: protocol.BEARER_PREFIX + token.value,
            protocol.HEADER_EA: token.tenant,
            protocol.HEADER_USER_ID: str(self.settings.user_id),
        }
        return body, headers

    def _call_once(
        self,
        path: str,
        body: dict[str, Any],
        files: Files | None,
        before_send: Callable[[str], None] | None,
        started: float,
        state: _Call,
    ) -> dict[str, Any]:
        state.token_failed = False
        try:
            token = self._current_token(started)
        except FxiaokeError:
            state.token_failed = True  # asking for a token again changes nothing at the gateway
            raise
        try:
            if files is not None:
                body = {}  # an upload carries no JSON body; legacy credentials join its query
            answer = self._post(path, *self._authorised(body, token), before_send, files=files)
        except FxiaokeTokenExpiredError:
            self.token_store.invalidate(token)  # the policy's renewal step retries with a fresh one
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
        repeatable: bool = False,
        files: Files | None = None,
        before_send: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """POST an authorised request to a business endpoint; return the answer (``errorCode == 0``).

        :param repeatable: True when repeating the request changes nothing at the gateway (a read):
            an unknown outcome (read timeout, dropped connection, 50009, -2) is then asked again.
            Default False: it raises ``FxiaokeOutcomeUnknownError`` with the ``thirdTraceId``.
        :param files: field -> ``(filename, bytes, content type)``: the request is an upload
            (``multipart/form-data``; ``body`` is not sent).
        :param before_send: gets the ``thirdTraceId`` of every attempt just before it goes out.
        :raises FxiaokeError: a subclass that says whether retrying makes sense (``outcomes``).
        """
        started = self._clock()  # one patience budget for the token endpoint per call
        state = _Call(repeatable)
        retrying = build_retrying(
            self.settings.retry, self._backoff_sleep, state.failed_request_repeatable, **self._retry_measures
        )
        for attempt in retrying:
            with attempt:
                return self._call_once(path, body, files, before_send, started, state)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover
