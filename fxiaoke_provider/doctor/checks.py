"""The read-only checks: the connection's fields, the host, and one token call.

One token call per run: the hook is built with a per-hook (memory) token cache and one attempt,
so the token is fresh (not a cached one that hides rejected credentials) and ``--send`` reuses it
instead of asking the 10-calls-a-minute token endpoint again.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fxiaoke_provider.doctor.diagnosis import diagnose
from fxiaoke_provider.doctor.findings import Finding, Redactor, Status
from fxiaoke_provider.doctor.wire import Exchange, WireLog
from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError, FxiaokeError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.gateway.settings import is_loopback

if TYPE_CHECKING:
    from fxiaoke_provider.connection.config import FxiaokeConnectionConfig
    from fxiaoke_provider.gateway.tokens import AccessToken

Resolver = Callable[[str, int], list[str]]
Clock = Callable[[], float]
_TENANT_NAME = {"header": "enterprise (ea)", "legacy": "enterprise (corpId)"}


def resolve(hostname: str, port: int) -> list[str]:
    """Addresses of ``hostname``, in the resolver's order, without duplicates."""
    infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def redact_url(url: str | None) -> str | None:
    """A proxy URL without its user name and password."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{netloc}").geturl()


def effective_proxy(config: FxiaokeConnectionConfig) -> tuple[str | None, str]:
    """The proxy requests will use for the gateway, and where that setting comes from."""
    if config.proxy:
        return config.proxy, "extra 'proxy'"
    import requests.utils

    proxies = requests.utils.get_environ_proxies(config.base_url)
    scheme = urlsplit(config.base_url).scheme
    proxy = proxies.get(scheme) or proxies.get("all")
    return (proxy, f"{scheme.upper()}_PROXY in the environment") if proxy else (None, "")


def collect_ids(finding: Finding, exchanges: list[Exchange], error: Exception | None = None) -> None:
    for exchange in exchanges:
        if exchange.trace_id:
            finding.trace_ids.append(exchange.trace_id)
        if exchange.third_trace_id:
            finding.third_trace_ids.append(exchange.third_trace_id)
    if isinstance(error, FxiaokeError):
        if error.trace_id and error.trace_id not in finding.trace_ids:
            finding.trace_ids.append(error.trace_id)
        if error.third_trace_id and error.third_trace_id not in finding.third_trace_ids:
            finding.third_trace_ids.append(error.third_trace_id)


class ReadOnlyChecks:
    """Connection, host and token; each returns its finding and whether later checks can run."""

    def __init__(self, hook: Any, wire: WireLog, redactor: Redactor, *, resolver: Resolver, clock: Clock):
        self.hook = hook
        self.wire = wire
        self.redactor = redactor
        self.resolver = resolver
        self.clock = clock
        self.config: FxiaokeConnectionConfig | None = None
        self.proxy: str | None = None
        self.token: AccessToken | None = None

    # --- connection ------------------------------------------------------------------------------
    def connection(self) -> Finding:
        conn_id = self.hook.fxiaoke_conn_id
        try:
            config = self.hook.config
        except FxiaokeConnectionConfigError as error:
            return Finding(
                "connection",
                Status.FAIL,
                str(error),
                fix="edit the connection (Admin -> Connections, or its AIRFLOW_CONN_* value); "
                "nothing was sent",
            )
        except Exception as error:  # Airflow's "not found" class differs by version
            if "NotFound" not in type(error).__name__:
                return Finding("connection", Status.FAIL, f"cannot read it: {type(error).__name__}: {error}")
            return Finding(
                "connection",
                Status.FAIL,
                f"there is no connection with id {conn_id!r}",
                fix="create it (type Fxiaoke) in Admin -> Connections, with `airflow connections add`, "
                f"or as AIRFLOW_CONN_{conn_id.upper()}",
            )
        self.config = config
        self.redactor.add(config.app_secret)
        self.redactor.add(config.permanent_code)
        self.proxy, proxy_source = effective_proxy(config)
        if self.proxy:
            self.redactor.add(urlsplit(self.proxy).password)
        details = {
            "host": config.base_url,
            "app_id": config.app_id,
            "auth_style": config.auth_style,
            "user_id": config.user_id,
            "service_id": config.service_id,
            "timeout_s": config.timeout_s,
            "ca_bundle": config.ca_bundle,
            "proxy": redact_url(self.proxy),
            "proxy_source": proxy_source or None,
        }
        shown = ", ".join(
            f"{key} {value if value is not None else 'none'}"
            for key, value in details.items()
            if key not in ("proxy_source", "timeout_s")
        )
        if self.proxy:
            shown += f" (from {proxy_source})"
        shown += "; appSecret and permanent_code set"
        finding = Finding("connection", Status.OK, shown, details=details)
        if config.service_id is None:
            finding.status = Status.WARN
            finding.summary += "; no service_id: messages go out as the app itself and revoke is unavailable"
            finding.fix = "set extra 'service_id' to the service account id bound to the app"
        return finding

    # --- host ------------------------------------------------------------------------------------
    def host(self) -> tuple[Finding, bool]:
        assert self.config is not None
        parts = urlsplit(self.config.base_url)
        hostname = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        clouds = {host: name for name, host in protocol.CLOUD_HOSTS.items()}
        if hostname in clouds:
            kind = f"the {clouds[hostname]} cloud's OpenAPI host"
        elif is_loopback(hostname):
            kind = "loopback: a local sandbox or tunnel, not Fxiaoke itself"
        else:
            kind = "not one of the documented cloud hosts"
        try:
            addresses = self.resolver(hostname, port)
        except OSError as error:
            reason = f"{hostname} does not resolve on this machine ({type(error).__name__})"
            if self.proxy:
                return Finding("host", Status.WARN, f"{reason}; the proxy resolves it", details={}), True
            return (
                Finding(
                    "host",
                    Status.FAIL,
                    reason,
                    fix="check the spelling of the connection's host; Fxiaoke's OpenAPI hosts are "
                    + ", ".join(protocol.CLOUD_HOSTS.values()),
                ),
                False,
            )
        details = {"hostname": hostname, "port": port, "addresses": addresses[:4], "kind": kind}
        summary = f"{hostname}:{port} resolves to {', '.join(addresses[:4])} ({kind})"
        finding = Finding("host", Status.OK, summary, details=details)
        if kind.startswith("not one") and not hostname.startswith("open"):
            finding.status = Status.WARN
            finding.summary += "; OpenAPI hosts are named open.* or open-*"
            finding.fix = "if the token check fails, use one of " + ", ".join(protocol.CLOUD_HOSTS.values())
        if self.config.is_plain_http and not is_loopback(hostname):
            finding.status = Status.WARN
            finding.summary += "; plain http sends the credentials unencrypted"
            finding.fix = "use https"
        return finding, True

    # --- token -----------------------------------------------------------------------------------
    def token_call(self, host_finding: Finding) -> Finding:
        assert self.config is not None
        config = self.config
        mark = self.wire.mark()
        started = self.clock()
        try:
            # get_token on a memory-cache hook asks the gateway on first use (nothing to reuse) and
            # keeps the token for the sends that follow: one token call per run.
            token = self.hook.get_token()
        except Exception as error:
            hostname = urlsplit(config.base_url).hostname or config.base_url
            diagnosis = diagnose(
                error, host=hostname, proxy=redact_url(self.proxy), auth_style=config.auth_style
            )
            finding = Finding(
                "token",
                Status.FAIL,
                f"{config.auth_style} style: {diagnosis.cause}",
                fix=diagnosis.fix,
                details={"error": type(error).__name__, "error_code": getattr(error, "error_code", None)},
            )
            collect_ids(finding, self.wire.since(mark), error)
            if diagnosis.wrong_host:
                host_finding.status = Status.FAIL
                host_finding.summary += "; but it answers like a web site, not the OpenAPI gateway"
                host_finding.fix = diagnosis.fix
            return finding
        elapsed_ms = (self.clock() - started) * 1000
        self.token = token
        self.redactor.add(token.value)
        exchanges = self.wire.since(mark)
        fields = exchanges[-1].fields if exchanges else ()
        has_expiry = protocol.EXPIRES_IN_FIELD in fields if exchanges else None
        expiry = f"expiresIn {token.expires_in:g} s"
        if has_expiry is False:
            expiry = f"no expiresIn in the answer (assumed {protocol.TOKEN_LIFETIME_S} s)"
        summary = (
            f"{config.auth_style} style accepted: {_TENANT_NAME.get(config.auth_style, 'enterprise')} "
            f"{token.tenant}, {expiry}, round trip {elapsed_ms:.0f} ms"
        )
        details = {
            "auth_style": config.auth_style,
            "tenant": token.tenant,
            "expires_in": token.expires_in,
            "expires_in_in_answer": has_expiry,
            "round_trip_ms": round(elapsed_ms, 1),
            "token_calls": sum(1 for e in exchanges if e.path in protocol.TOKEN_PATHS),
            "answer_fields": list(fields),
        }
        finding = Finding("token", Status.OK, summary, details=details)
        collect_ids(finding, exchanges)
        return finding
