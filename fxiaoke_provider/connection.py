"""Reading an Airflow connection of type ``fxiaoke`` into one typed, validated settings object.

All parsing and type conversion of connection fields and extras happens here, once, so a bad
connection fails with an error naming the field and the connection id before anything is sent.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from fxiaoke_provider import protocol
from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError
from fxiaoke_provider.extra_fields import EXTRA_FIELDS, parser_args

CONN_TYPE = "fxiaoke"
#: The connection id operators, the notifier and the hook use when none is given.
DEFAULT_CONN_ID = "fxiaoke_default"
TOKEN_CACHE_MODES = EXTRA_FIELDS["token_cache"].choices
DEFAULT_TIMEOUT_S = EXTRA_FIELDS["timeout"].default
#: 7 attempts wait 0.5+1+2+4+8+16 s (+ jitter): longer than the gateway's 20 s rate-limit window.
DEFAULT_RETRY_MAX_ATTEMPTS = EXTRA_FIELDS["retry_max_attempts"].default
DEFAULT_RETRY_MAX_WAIT_S = EXTRA_FIELDS["retry_max_wait"].default


class ConnectionLike(Protocol):
    conn_id: str
    host: str | None
    schema: str | None
    port: int | None
    login: str | None
    password: str | None

    @property
    def extra_dejson(self) -> dict: ...


@dataclass(frozen=True)
class RetrySettings:
    """Bounds of the automatic retry; what is retried is fixed by the error classes (``retry``)."""

    max_attempts: int = DEFAULT_RETRY_MAX_ATTEMPTS
    max_wait_s: float = DEFAULT_RETRY_MAX_WAIT_S
    retry_unknown_outcome: bool = False


@dataclass(frozen=True)
class FxiaokeConnectionConfig:
    """Everything the hook needs from a connection; secrets are kept out of ``repr``."""

    conn_id: str
    base_url: str
    app_id: str
    app_secret: str = field(repr=False)
    permanent_code: str = field(repr=False)
    user_id: str | None = None
    auth_style: str = protocol.DEFAULT_AUTH_STYLE
    service_id: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    token_cache: str = "file"
    token_cache_dir: str | None = None
    retry: RetrySettings = RetrySettings()
    rate_limit_calls: int = protocol.RATE_LIMIT_CALLS
    rate_limit_window_s: float = protocol.RATE_LIMIT_WINDOW_S
    allow_insecure_http: bool = False
    ca_bundle: str | None = None
    proxy: str | None = None
    language: str = EXTRA_FIELDS["language"].default

    @property
    def is_plain_http(self) -> bool:
        return self.base_url.startswith("http://")

    @property
    def verify(self) -> bool | str:
        """What ``requests`` takes for ``verify``: always on, with the user's CA bundle if given."""
        return self.ca_bundle or True


class ExtraReader:
    """Reads extras by plain key or by the ``extra__fxiaoke__<key>`` key older UIs wrote.

    Forms store untouched fields as ``""`` or ``None``; those count as absent.
    """

    def __init__(
        self, conn_id: str, extra: Mapping[str, Any], arguments: Mapping[str, Any] | None = None
    ) -> None:
        self.conn_id = conn_id
        self.arguments = {k: v for k, v in (arguments or {}).items() if v is not None}
        self.extra = {**extra, **self.arguments}  # hook arguments win over extras

    def error(self, key: str, rule: str) -> FxiaokeConnectionConfigError:
        if key in self.arguments:
            return FxiaokeConnectionConfigError(self.conn_id, f"hook argument {key!r}", rule)
        return FxiaokeConnectionConfigError(self.conn_id, f"extra {key!r}", rule)

    def raw(self, key: str) -> Any:
        for candidate in (key, f"extra__{CONN_TYPE}__{key}"):
            value = self.extra.get(candidate)
            if value is not None and value != "":
                return value
        return None

    def text(self, key: str) -> str | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.error(key, f"must be a string; got {type(value).__name__}")
        return str(value).strip() or None

    def number(self, key: str, default: float, *, minimum: float, integer: bool = False) -> Any:
        value = self.raw(key)
        if value is None:
            return default
        try:
            if isinstance(value, bool):
                raise ValueError
            number = int(value) if integer else float(value)
        except (TypeError, ValueError):
            kind = "a whole number" if integer else "a number"
            raise self.error(key, f"must be {kind}; got {value!r}") from None
        if number < minimum:
            raise self.error(key, f"must be >= {minimum}; got {number}")
        return number

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise self.error(key, f"must be true or false; got {value!r}")

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = (self.text(key) or default).lower()
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value


def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def parse_base_url(conn_id: str, host: str | None, schema: str | None, port: int | None) -> str:
    """``scheme://host[:port]`` from the host field; empty means the default cloud, https is assumed."""
    raw = (host or "").strip() or protocol.DEFAULT_HOST
    if "://" not in raw:
        scheme = (schema or "").strip().lower()
        raw = f"{scheme if scheme in ('http', 'https') else 'https'}://{raw}"
    parts = urlsplit(raw)

    def bad(rule: str) -> FxiaokeConnectionConfigError:
        return FxiaokeConnectionConfigError(conn_id, "host", rule)

    if parts.scheme not in ("http", "https"):
        raise bad(f"scheme must be https (or http for a loopback sandbox); got {parts.scheme!r}")
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise bad(f"must be a host name such as {protocol.DEFAULT_HOST} or a URL without path; got {raw!r}")
    if parts.path not in ("", "/"):
        raise bad(f"must not contain a path; got {parts.path!r}")
    if parts.hostname in protocol.NON_API_HOSTS:
        raise bad(
            f"{parts.hostname} is the web site, not the OpenAPI host; use {protocol.DEFAULT_HOST} "
            "or your cloud's open-* host"
        )
    try:
        url_port = parts.port
    except ValueError:
        raise bad(f"has an invalid port in {raw!r}") from None
    chosen_port = url_port or port
    hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{hostname}{f':{chosen_port}' if chosen_port else ''}"


def default_token_cache_dir() -> str:
    """Per-machine place for the shared token file, inside the Airflow home like Airflow's own state."""
    airflow_home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return os.path.join(airflow_home, "fxiaoke", "token-cache")


def check_acting_user(reader: ExtraReader, auth_style: str) -> str | None:
    """The acting user's id kind follows the auth style.

    Header style: required, the CRM employee id sent as ``x-fs-userid`` (digits). Legacy style:
    optional (message sends carry no acting user), and when given an ``FSUID_...`` open user id.
    """
    user_id = reader.text("user_id")
    if auth_style == protocol.HEADER_STYLE:
        if user_id is None:
            raise reader.error(
                "user_id", "is required with auth_style 'header' (the acting CRM employee id, e.g. 1000)"
            )
        if not user_id.isdigit():
            raise reader.error(
                "user_id",
                f"with auth_style 'header' must be a CRM employee id made of digits; got {user_id!r}",
            )
    elif user_id is not None and not user_id.startswith(protocol.OPEN_USER_ID_PREFIX):
        raise reader.error(
            "user_id",
            f"with auth_style 'legacy' must be an open user id ({protocol.OPEN_USER_ID_PREFIX}...) or "
            f"empty; got {user_id!r}",
        )
    return user_id


def config_from_connection(
    conn: ConnectionLike, overrides: Mapping[str, Any] | None = None
) -> FxiaokeConnectionConfig:
    """Validate a connection; ``overrides`` are hook arguments that win over extras when not None."""
    conn_id = conn.conn_id
    reader = ExtraReader(conn_id, conn.extra_dejson or {}, overrides)

    def required(value: str | None, field_name: str, what: str) -> str:
        if value is None or not str(value).strip():
            raise FxiaokeConnectionConfigError(conn_id, field_name, f"is required ({what})")
        return str(value).strip()

    app_id = required(conn.login, "login", "the app's appId, FSAID_...")
    app_secret = required(conn.password, "password", "the app's appSecret")
    permanent_code = required(
        reader.text("permanent_code"), "extra 'permanent_code'", "the app's permanentCode"
    )
    auth_style = reader.choice("auth_style", **parser_args("auth_style"))
    user_id = check_acting_user(reader, auth_style)

    base_url = parse_base_url(conn_id, conn.host, conn.schema, conn.port)
    allow_insecure_http = reader.flag("allow_insecure_http", **parser_args("allow_insecure_http"))
    hostname = urlsplit(base_url).hostname or ""
    if base_url.startswith("http://") and not (is_loopback(hostname) or allow_insecure_http):
        raise FxiaokeConnectionConfigError(
            conn_id,
            "host",
            "plain http would send credentials unencrypted; use https (set extra 'allow_insecure_http' "
            "only for a trusted test gateway)",
        )
    ca_bundle = reader.text("ca_bundle")
    if ca_bundle is not None and not os.path.isfile(ca_bundle):
        raise reader.error(
            "ca_bundle", f"must be the path of a readable CA bundle file; {ca_bundle!r} is not a file"
        )

    return FxiaokeConnectionConfig(
        conn_id=conn_id,
        base_url=base_url,
        app_id=app_id,
        app_secret=app_secret,
        permanent_code=permanent_code,
        user_id=user_id,
        auth_style=auth_style,
        service_id=reader.text("service_id"),
        timeout_s=reader.number("timeout", **parser_args("timeout")),
        token_cache=reader.choice("token_cache", **parser_args("token_cache")),
        token_cache_dir=reader.text("token_cache_dir"),
        retry=RetrySettings(
            max_attempts=reader.number("retry_max_attempts", **parser_args("retry_max_attempts")),
            max_wait_s=reader.number("retry_max_wait", **parser_args("retry_max_wait")),
            retry_unknown_outcome=reader.flag(
                "retry_unknown_outcome", **parser_args("retry_unknown_outcome")
            ),
        ),
        rate_limit_calls=reader.number("rate_limit_calls", **parser_args("rate_limit_calls")),
        rate_limit_window_s=reader.number("rate_limit_window", **parser_args("rate_limit_window")),
        allow_insecure_http=allow_insecure_http,
        ca_bundle=ca_bundle,
        proxy=reader.text("proxy"),
        language=reader.choice("language", **parser_args("language")),
    )
