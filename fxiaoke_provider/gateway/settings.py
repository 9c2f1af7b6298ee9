"""The gateway's settings from plain values: one validated, typed object, and the rules it obeys.

``FxiaokeClient(host=..., ...)`` and the Airflow connection (``connection.config``) both end here,
so a host, an acting user or a CA bundle is checked by the same rule wherever it comes from. Each
rule raises through ``bad(key, rule)``: the caller decides how the field is named in the error
(an argument of the client, or a field of a connection).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway.tokens import cache_key

#: Raises (returns) the error that names the bad field ``key`` and the ``rule`` it broke.
Bad = Callable[[str, str], FxiaokeInvalidInputError]

DEFAULT_TIMEOUT_S = 30.0
MIN_TIMEOUT_S = 0.001
#: 7 attempts wait 0.5+1+2+4+8+16 s (+ jitter). Call-limit refusals are not counted: they are
#: waited out by time (``retry.CALL_LIMIT_PATIENCE_WINDOWS``).
DEFAULT_RETRY_MAX_ATTEMPTS = 7
DEFAULT_RETRY_MAX_WAIT_S = 30.0
#: Where tokens are kept: ``file`` is shared by every process of the machine, ``memory`` per client.
FILE_CACHE = "file"
MEMORY_CACHE = "memory"
TOKEN_CACHES: tuple[str, ...] = (FILE_CACHE, MEMORY_CACHE)


@dataclass(frozen=True)
class RetrySettings:
    """Bounds of the automatic retry; what is retried is decided by ``outcomes``."""

    max_attempts: int = DEFAULT_RETRY_MAX_ATTEMPTS
    max_wait_s: float = DEFAULT_RETRY_MAX_WAIT_S
    retry_unknown_outcome: bool = False


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the gateway needs; secrets are kept out of ``repr``.

    ``conn_id`` names the credentials in logs and errors: the Airflow connection id, or the name a
    client was given (None: a client without one).
    """

    conn_id: str | None
    base_url: str
    app_id: str
    app_secret: str = field(repr=False)
    permanent_code: str = field(repr=False)
    user_id: str | None = None
    auth_style: str = protocol.DEFAULT_AUTH_STYLE
    timeout_s: float = DEFAULT_TIMEOUT_S
    token_cache: str = FILE_CACHE
    token_cache_dir: str | None = None
    retry: RetrySettings = RetrySettings()
    rate_limit_calls: int = protocol.RATE_LIMIT_CALLS
    rate_limit_window_s: float = protocol.RATE_LIMIT_WINDOW_S
    allow_insecure_http: bool = False
    ca_bundle: str | None = None
    proxy: str | None = None

    @property
    def is_plain_http(self) -> bool:
        return self.base_url.startswith("http://")

    @property
    def verify(self) -> bool | str:
        """What ``requests`` takes for ``verify``: always on, with the user's CA bundle if given."""
        return self.ca_bundle or True

    @property
    def cache_key(self) -> str:
        """Names this credential set in the machine's (and a deployment's) shared state."""
        return cache_key(self.base_url, self.app_id, self.permanent_code, self.auth_style)

    @property
    def cache_dir(self) -> str:
        """The machine-wide directory of the shared token and the pacing state."""
        return self.token_cache_dir or default_token_cache_dir()


# --- the rules -----------------------------------------------------------------------------------
def is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def parse_base_url(host: str | None, schema: str | None, port: int | None, bad: Bad) -> str:
    """``scheme://host[:port]`` from a host; empty means the default cloud, https is assumed."""
    raw = (host or "").strip() or protocol.DEFAULT_HOST
    if "://" not in raw:
        scheme = (schema or "").strip().lower()
        raw = f"{scheme if scheme in ('http', 'https') else 'https'}://{raw}"
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https"):
        raise bad("host", f"scheme must be https (or http for a loopback sandbox); got {parts.scheme!r}")
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise bad(
            "host", f"must be a host name such as {protocol.DEFAULT_HOST} or a URL without path; got {raw!r}"
        )
    if parts.path not in ("", "/"):
        raise bad("host", f"must not contain a path; got {parts.path!r}")
    if parts.hostname in protocol.NON_API_HOSTS:
        raise bad(
            "host",
            f"{parts.hostname} is the web site, not the OpenAPI host; use {protocol.DEFAULT_HOST} "
            "or your cloud's open-* host",
        )
    try:
        url_port = parts.port
    except ValueError:
        raise bad("host", f"has an invalid port in {raw!r}") from None
    chosen_port = url_port or port
    hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{hostname}{f':{chosen_port}' if chosen_port else ''}"


def check_plain_http(base_url: str, allow_insecure_http: bool, bad: Bad) -> None:
    """Credentials travel encrypted, except to a loopback sandbox or where explicitly allowed."""
    hostname = urlsplit(base_url).hostname or ""
    if base_url.startswith("http://") and not (is_loopback(hostname) or allow_insecure_http):
        raise bad(
            "host",
            "plain http would send credentials unencrypted; use https (set extra 'allow_insecure_http' "
            "only for a trusted test gateway)",
        )


def check_ca_bundle(ca_bundle: str | None, bad: Bad) -> str | None:
    if ca_bundle is not None and not os.path.isfile(ca_bundle):
        raise bad("ca_bundle", f"must be the path of a readable CA bundle file; {ca_bundle!r} is not a file")
    return ca_bundle


def check_acting_user(user_id: str | None, auth_style: str, bad: Bad) -> str | None:
    """The acting user's id kind follows the auth style.

    Header style: required, the CRM employee id sent as ``x-fs-userid`` (digits). Legacy style:
    optional (message sends carry no acting user), and when given an ``FSUID_...`` open user id.
    """
    if auth_style == protocol.HEADER_STYLE:
        if user_id is None:
            raise bad(
                "user_id", "is required with auth_style 'header' (the acting CRM employee id, e.g. 1000)"
            )
        if not user_id.isdigit():
            raise bad(
                "user_id",
                f"with auth_style 'header' must be a CRM employee id made of digits; got {user_id!r}",
            )
    elif user_id is not None and not user_id.startswith(protocol.OPEN_USER_ID_PREFIX):
        raise bad(
            "user_id",
            f"with auth_style 'legacy' must be an open user id ({protocol.OPEN_USER_ID_PREFIX}...) or "
            f"empty; got {user_id!r}",
        )
    return user_id


def default_token_cache_dir() -> str:
    """Per-machine place for the shared token file, inside the Airflow home like Airflow's own state
    (a script and the tasks of the same machine share one token that way)."""
    airflow_home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return os.path.join(airflow_home, "fxiaoke", "token-cache")


# --- from plain values (the client) --------------------------------------------------------------
def _argument_error(key: str, rule: str) -> FxiaokeInvalidInputError:
    return FxiaokeInvalidInputError(key, rule)


def _text(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FxiaokeInvalidInputError(key, f"must be a string; got {type(value).__name__}")
    return str(value).strip() or None


def _required(key: str, value: Any, what: str) -> str:
    text = _text(key, value)
    if text is None:
        raise FxiaokeInvalidInputError(key, f"is required ({what})")
    return text


def _number(key: str, value: Any, minimum: float, *, integer: bool = False) -> Any:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (integer and not isinstance(value, int))
    ):
        raise FxiaokeInvalidInputError(
            key, f"must be {'a whole number' if integer else 'a number'}; got {value!r}"
        )
    if value < minimum:
        raise FxiaokeInvalidInputError(key, f"must be >= {minimum}; got {value}")
    return value


def check_whole_number(field: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """A count the caller gives (a page size, a record limit...): a whole number in its range,
    refused naming ``field`` before anything is sent (``True`` is not 1)."""
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        raise FxiaokeInvalidInputError(field, f"must be a whole number {bounds}; got {value!r}")
    return value


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in choices:
        raise FxiaokeInvalidInputError(key, f"must be one of {', '.join(choices)}; got {value!r}")
    return value.strip().lower()


def settings_from_values(
    *,
    host: str | None,
    app_id: Any,
    app_secret: Any,
    permanent_code: Any,
    user_id: Any,
    auth_style: str,
    timeout: float,
    retry_max_attempts: int,
    retry_max_wait: float,
    retry_unknown_outcome: bool,
    token_cache: str,
    token_cache_dir: str | None,
    rate_limit_calls: int,
    rate_limit_window: float,
    allow_insecure_http: bool,
    ca_bundle: str | None,
    proxy: str | None,
    name: str | None,
) -> GatewaySettings:
    """Validate the client's keyword arguments; a bad one raises ``FxiaokeInvalidInputError`` naming it."""
    auth_style = _choice("auth_style", auth_style, protocol.AUTH_STYLES)
    base_url = parse_base_url(host, None, None, _argument_error)
    check_plain_http(base_url, bool(allow_insecure_http), _argument_error)
    return GatewaySettings(
        conn_id=name,
        base_url=base_url,
        app_id=_required("app_id", app_id, "the app's appId, FSAID_..."),
        app_secret=_required("app_secret", app_secret, "the app's appSecret"),
        permanent_code=_required("permanent_code", permanent_code, "the app's permanentCode"),
        user_id=check_acting_user(_text("user_id", user_id), auth_style, _argument_error),
        auth_style=auth_style,
        timeout_s=_number("timeout", timeout, MIN_TIMEOUT_S),
        token_cache=_choice("token_cache", token_cache, TOKEN_CACHES),
        token_cache_dir=_text("token_cache_dir", token_cache_dir),
        retry=RetrySettings(
            max_attempts=_number("retry_max_attempts", retry_max_attempts, 1, integer=True),
            max_wait_s=_number("retry_max_wait", retry_max_wait, 0),
            retry_unknown_outcome=bool(retry_unknown_outcome),
        ),
        rate_limit_calls=_number("rate_limit_calls", rate_limit_calls, 0, integer=True),
        rate_limit_window_s=_number("rate_limit_window", rate_limit_window, 0),
        allow_insecure_http=bool(allow_insecure_http),
        ca_bundle=check_ca_bundle(_text("ca_bundle", ca_bundle), _argument_error),
        proxy=_text("proxy", proxy),
    )
