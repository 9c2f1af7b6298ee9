"""Reading an Airflow connection of type ``fxiaoke`` into the client's settings.

All parsing and type conversion of connection fields and extras happens here, once, so a bad
connection fails with an error naming the field and the connection id before anything is sent. The
rules themselves are the gateway's (``gateway.settings``): a value is checked the same way whether
it comes from a connection or from ``FxiaokeClient``'s arguments. No Airflow imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fxiaoke_provider.connection.extras import EXTRA_FIELDS, parser_args
from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError
from fxiaoke_provider.gateway import settings
from fxiaoke_provider.gateway.settings import (
    DEFAULT_RETRY_MAX_ATTEMPTS,
    DEFAULT_RETRY_MAX_WAIT_S,
    DEFAULT_TIMEOUT_S,
    GatewaySettings,
    RetrySettings,
)

__all__ = [
    "CONN_TYPE",
    "DEFAULT_CONN_ID",
    "DEFAULT_RETRY_MAX_ATTEMPTS",
    "DEFAULT_RETRY_MAX_WAIT_S",
    "DEFAULT_TIMEOUT_S",
    "ExtraReader",
    "FxiaokeConnectionConfig",
    "RetrySettings",
    "config_from_connection",
]

CONN_TYPE = "fxiaoke"
#: The connection id operators, the notifier and the hook use when none is given.
DEFAULT_CONN_ID = "fxiaoke_default"
TOKEN_CACHE_MODES = EXTRA_FIELDS["token_cache"].choices


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
class FxiaokeConnectionConfig(GatewaySettings):
    """The gateway's settings plus what only a connection carries for the Airflow face: the default
    service account of sends and the language of default alerts."""

    service_id: str | None = None
    language: str = EXTRA_FIELDS["language"].default


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
    user_id = settings.check_acting_user(reader.text("user_id"), auth_style, reader.error)

    def bad_host(_key: str, rule: str) -> FxiaokeConnectionConfigError:
        return FxiaokeConnectionConfigError(conn_id, "host", rule)

    base_url = settings.parse_base_url(conn.host, conn.schema, conn.port, bad_host)
    allow_insecure_http = reader.flag("allow_insecure_http", **parser_args("allow_insecure_http"))
    settings.check_plain_http(base_url, allow_insecure_http, bad_host)
    ca_bundle = settings.check_ca_bundle(reader.text("ca_bundle"), reader.error)

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
