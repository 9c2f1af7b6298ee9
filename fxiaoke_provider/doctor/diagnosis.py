"""From an error to a cause a person understands and the fix, by error class and gateway code.

Never by the gateway's ``errorMessage`` (its text changes); the lower-level cause of a network
failure is read from the exception chain the transport leaves behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from fxiaoke_provider.exceptions import (
    FxiaokeAuthError,
    FxiaokeConnectionConfigError,
    FxiaokeError,
    FxiaokeOutcomeUnknownError,
    FxiaokeTransientError,
    FxiaokeWrongHostError,
)
from fxiaoke_provider.gateway import protocol

HOSTS_HINT = f"use {protocol.DEFAULT_HOST} or your cloud's host: " + ", ".join(
    sorted(set(protocol.CLOUD_HOSTS.values()) - {protocol.DEFAULT_HOST})
)
SUPPORT_HINT = "quote the traceId of this line to Fxiaoke support"


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    fix: str
    #: True when the host itself is wrong (a web site, not the API): the host line fails too.
    wrong_host: bool = False


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _caused_by(error: BaseException, *names: str) -> bool:
    """True if the chain holds an exception whose class (or a base) has one of these names."""
    return any(cls.__name__ in names for link in _chain(error) for cls in type(link).__mro__)


def _code(error: FxiaokeError) -> str:
    return f"errorCode {error.error_code} ({protocol.describe_code(error.error_code)})"


def _network(error: FxiaokeError, host: str, proxy: str | None) -> Diagnosis | None:
    if error.error_code is not None:
        return None
    if _caused_by(error, "SSLError") or "TLS" in str(error):
        return Diagnosis(
            f"TLS verification of {host} failed: this machine does not trust the certificate it was shown",
            "if your network re-signs HTTPS (a TLS-inspecting proxy or firewall), save that CA certificate "
            "as a PEM file and set the connection's extra 'ca_bundle' to its path; never turn "
            "verification off",
        )
    if error.http_status == 407:
        return Diagnosis(
            "the proxy asks for authentication (HTTP 407)",
            "put the proxy credentials in the proxy URL (http://user:password@proxy:port) of extra 'proxy' "
            "or HTTPS_PROXY; they are never shown in this report",
        )
    if _caused_by(error, "ProxyError"):
        return Diagnosis(
            f"the proxy {proxy or '(from the environment)'} could not be reached or refused the tunnel",
            "check extra 'proxy' (or HTTPS_PROXY / NO_PROXY in the worker's environment)",
        )
    if isinstance(error, FxiaokeTransientError) and error.http_status is None:
        return Diagnosis(
            f"could not connect to {host}",
            "check the host and port and that this machine may open outbound HTTPS to it; if your "
            "network only allows traffic through a proxy, set extra 'proxy'",
        )
    if isinstance(error, FxiaokeOutcomeUnknownError) and error.http_status is None:
        return Diagnosis(
            f"{host} accepted the connection but did not answer in time",
            "check proxies and firewalls on the way, or raise extra 'timeout'",
        )
    return None


def diagnose(error: Exception, *, host: str, proxy: str | None = None, auth_style: str = "") -> Diagnosis:
    """The cause and the fix for an error from a token call or an authorised call."""
    if isinstance(error, FxiaokeConnectionConfigError):
        return Diagnosis(str(error), "edit the connection (Admin -> Connections, or its AIRFLOW_CONN_*)")
    if not isinstance(error, FxiaokeError):
        return Diagnosis(f"{type(error).__name__}: {error}", SUPPORT_HINT)
    network = _network(error, host, proxy)
    if network is not None:
        return network
    if isinstance(error, FxiaokeWrongHostError):
        status = f"HTTP {error.http_status}" if error.http_status else "an answer without the token fields"
        return Diagnosis(
            f"{host} answered {status}, not the gateway's JSON: it is a web site or another service, "
            "not the Fxiaoke OpenAPI host",
            f"set the connection's host to the OpenAPI host: {HOSTS_HINT}",
            wrong_host=True,
        )
    code = error.error_code
    token_call = error.path in protocol.TOKEN_PATHS
    if code in (protocol.APP_NOT_AUTHORISED, protocol.APP_DISABLED):
        return Diagnosis(
            f"{_code(error)}: the app is not usable in this enterprise",
            "a tenant administrator must authorise (or re-enable) the self-built app for the enterprise "
            "in the Fxiaoke admin console",
        )
    if code in (protocol.NO_QUOTA, protocol.DAILY_QUOTA_EXHAUSTED):
        fix = (
            "the enterprise must buy an Open API package"
            if code == protocol.NO_QUOTA
            else "the daily quota resets at midnight; a larger Open API package raises it"
        )
        return Diagnosis(f"{_code(error)}", fix)
    if code == protocol.NO_PERMISSION:
        return Diagnosis(
            f"{_code(error)} for {error.path}",
            "grant the app this permission in its settings in the Fxiaoke developer console",
        )
    if code in (protocol.CALL_LIMIT_EXCEEDED, protocol.RATE_LIMITED):
        where = "the token endpoint (about 10 calls a minute)" if token_call else f"{error.path}"
        return Diagnosis(
            f"{_code(error)}: a call limit of {where} is reached; other processes use the same app",
            "run the doctor again in a minute; tasks should keep the default token_cache 'file'",
        )
    if code == protocol.NO_CREDENTIALS:
        return Diagnosis(
            f"{_code(error)}: the gateway saw no credentials in the request",
            f"check auth_style (now {auth_style!r}); a proxy that strips the authorization header "
            "causes this",
        )
    if code == protocol.TOKEN_EXPIRED:
        return Diagnosis(
            f"{_code(error)}: the gateway refused a token it had just issued",
            f"check auth_style (now {auth_style!r}) and that no proxy rewrites the authorization headers",
        )
    if code in protocol.TRANSIENT_CODES or code in protocol.OUTCOME_UNKNOWN_CODES:
        return Diagnosis(f"{_code(error)}", f"run again later; if it persists, {SUPPORT_HINT}")
    if token_call or isinstance(error, FxiaokeAuthError):
        return Diagnosis(
            f"the gateway rejected the credentials: {_code(error)}",
            "check login = appId (FSAID_...), password = appSecret and extra 'permanent_code' of the "
            "self-built app (regenerating the secret invalidates the old one); if developer mode has an "
            "IP allow-list, this machine's outbound IP must be on it",
        )
    return Diagnosis(f"{_code(error)}", SUPPORT_HINT)
