"""``FxiaokeClient``: the Fxiaoke OpenAPI from plain Python, with or without Airflow.

The composition root: a ``Gateway`` (one authorised, paced, retried call) plus the capabilities
built on it (``client.messaging``, ``client.crm``). A script sends a message with::

    from fxiaoke_provider.client import FxiaokeClient

    client = FxiaokeClient(host="open.fxiaoke.com", app_id="FSAID_...", app_secret="...",
                           permanent_code="...", user_id="1000", service_id="FSAID_...")
    client.send_message(["1000"], "hello")

Nothing here imports Airflow; ``FxiaokeHook`` builds one of these from an Airflow connection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway import settings as defaults
from fxiaoke_provider.gateway.gateway import Gateway
from fxiaoke_provider.gateway.settings import TOKEN_CACHES, GatewaySettings, settings_from_values
from fxiaoke_provider.gateway.tokens import TokenStore
from fxiaoke_provider.messaging.service import Messaging

if TYPE_CHECKING:
    from fxiaoke_provider.crm import Crm

__all__ = ["FxiaokeClient"]


class FxiaokeClient(Gateway):
    """
    A gateway client with its capabilities; every setting has the default an Airflow connection has.

    :param host: the OpenAPI host (default ``open.fxiaoke.com``) or ``scheme://host[:port]``.
    :param app_id: the app's ``appId`` (``FSAID_...``).
    :param app_secret: the app's ``appSecret``.
    :param permanent_code: the app's ``permanentCode``.
    :param user_id: the acting user: header style requires a CRM employee id (digits); legacy style
        takes an ``FSUID_...`` open id or nothing.
    :param auth_style: ``header`` (Bearer token headers) or ``legacy`` (``corpAccessToken`` in the body).
    :param service_id: the service account that sends by default; without one, the app sends.
    :param timeout: seconds to wait for an answer.
    :param retry_max_attempts: attempts for transient failures (1: no automatic retry); refusals
        for an endpoint's call limit do not count: they are waited out for up to three windows.
    :param retry_max_wait: ceiling in seconds of one backoff wait.
    :param retry_unknown_outcome: retry even when a request may already have been acted on
        (at-least-once delivery).
    :param token_cache: ``file`` (shared by every process of the machine) or ``memory`` (this client).
    :param token_cache_dir: directory of the shared token; default ``<AIRFLOW_HOME>/fxiaoke/token-cache``.
    :param rate_limit_calls: calls per endpoint this client allows itself per window (0: no pacing).
    :param rate_limit_window: seconds of the pacing window.
    :param allow_insecure_http: allow plain http to a host that is not loopback (a trusted test gateway).
    :param ca_bundle: a CA bundle file that verifies the host (e.g. behind a re-signing proxy).
    :param proxy: an HTTP(S) proxy URL; without one, the ``*_PROXY`` environment variables apply.
    :param name: names these credentials in logs and errors (the hook gives its connection id).
    :param settings: already validated settings instead of the values above (the hook passes its
        connection's).
    :param token_store: where the token is kept instead of ``token_cache`` (the hook passes the
        deployment-wide store of ``token_cache: airflow``).
    :param sleep: how the client waits (backoff, pacing); injectable so tests need not wait.
    :param clock: wall-clock seconds used for token lifetimes; injectable for tests.
    :raises FxiaokeInvalidInputError: a value breaks its rule (naming the argument), before any request.
    """

    def __init__(
        self,
        *,
        host: str | None = protocol.DEFAULT_HOST,
        app_id: str | None = None,
        app_secret: str | None = None,
        permanent_code: str | None = None,
        user_id: str | int | None = None,
        auth_style: str = protocol.DEFAULT_AUTH_STYLE,
        service_id: str | None = None,
        timeout: float = defaults.DEFAULT_TIMEOUT_S,
        retry_max_attempts: int = defaults.DEFAULT_RETRY_MAX_ATTEMPTS,
        retry_max_wait: float = defaults.DEFAULT_RETRY_MAX_WAIT_S,
        retry_unknown_outcome: bool = False,
        token_cache: str = defaults.FILE_CACHE,
        token_cache_dir: str | None = None,
        rate_limit_calls: int = protocol.RATE_LIMIT_CALLS,
        rate_limit_window: float = protocol.RATE_LIMIT_WINDOW_S,
        allow_insecure_http: bool = False,
        ca_bundle: str | None = None,
        proxy: str | None = None,
        name: str | None = None,
        settings: GatewaySettings | None = None,
        token_store: TokenStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if settings is None:
            settings = settings_from_values(
                host=host,
                app_id=app_id,
                app_secret=app_secret,
                permanent_code=permanent_code,
                user_id=user_id,
                auth_style=auth_style,
                timeout=timeout,
                retry_max_attempts=retry_max_attempts,
                retry_max_wait=retry_max_wait,
                retry_unknown_outcome=retry_unknown_outcome,
                token_cache=token_cache,
                token_cache_dir=token_cache_dir,
                rate_limit_calls=rate_limit_calls,
                rate_limit_window=rate_limit_window,
                allow_insecure_http=allow_insecure_http,
                ca_bundle=ca_bundle,
                proxy=proxy,
                name=name,
            )
        elif settings.token_cache not in TOKEN_CACHES and token_store is None:
            raise FxiaokeInvalidInputError(
                "token_cache",
                f"{settings.token_cache!r} needs a token_store (one of {', '.join(TOKEN_CACHES)} "
                "works alone)",
            )
        super().__init__(settings, token_store=token_store, sleep=sleep, clock=clock)
        self.service_id = None if service_id is None else str(service_id).strip() or None

    # --- capabilities ---------------------------------------------------------------------------------
    @cached_property
    def messaging(self) -> Messaging:
        """Messages, the address book and image uploads (``messaging.Messaging``)."""
        return Messaging(self, service_id=self.service_id)

    @cached_property
    def crm(self) -> Crm:
        """CRM object data: read, describe, create, update, invalidate (``crm.Crm``)."""
        from fxiaoke_provider.crm import Crm

        return Crm(self)

    # --- convenience --------------------------------------------------------------------------------
    def send_message(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """Shorthand for ``client.messaging.send_message`` (the same arguments): one message to any
        number of people, each once, 500 per request, in order; the answers in batch order."""
        return self.messaging.send_message(*args, **kwargs)

    def upload_image(self, file: str | os.PathLike[str] | bytes, filename: str | None = None) -> str:
        """``client.messaging.upload_image``: an image's media id, for articles' ``coverImage``."""
        return self.messaging.upload_image(file, filename)

    # CRM shorthands: the same arguments as ``client.crm``'s methods of the same names.
    def iter_records(self, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """``client.crm.iter_records``: every matching record once, streamed, in ``_id`` order."""
        return self.crm.iter_records(*args, **kwargs)

    def query_records(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """``client.crm.query_records``: a small query's records; raises beyond ``max_records``."""
        return self.crm.query_records(*args, **kwargs)

    def get_record(self, object_api_name: str, record_id: str) -> dict[str, Any] | None:
        """``client.crm.get_record``: one record by ``_id``, or None."""
        return self.crm.get_record(object_api_name, record_id)

    def describe_object(self, object_api_name: str) -> dict[str, Any]:
        """``client.crm.describe_object``: the object's field map."""
        return self.crm.describe_object(object_api_name)

    def list_objects(self) -> list[dict[str, Any]]:
        """``client.crm.list_objects``: the tenant's objects."""
        return self.crm.list_objects()

    def create_record(self, *args: Any, **kwargs: Any) -> str:
        """``client.crm.create_record``: create one record, sent once; its ``_id``."""
        return self.crm.create_record(*args, **kwargs)

    def update_record(self, object_api_name: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """``client.crm.update_record``: set fields on one record (safe to repeat)."""
        self.crm.update_record(object_api_name, record_id, fields)

    def invalidate_record(self, object_api_name: str, record_id: str) -> None:
        """``client.crm.invalidate_record``: invalidate one record."""
        self.crm.invalidate_record(object_api_name, record_id)
