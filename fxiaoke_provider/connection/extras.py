"""Every connection extra the provider reads, as one table: the form and the parser both read it.

Adding an extra (or a choice of one) is one edit here: the connection form (``connection.form``)
declares it with the same type, bounds and default the parser (``connection.config``) applies.
No Airflow imports: the parser and provider info load this module cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.gateway import protocol, settings


@dataclass(frozen=True)
class ExtraField:
    """One extra: how the form shows it and how the parser reads it.

    ``kind`` is ``text``, ``secret``, ``number``, ``integer``, ``flag`` or ``choice``; ``minimum``
    bounds numbers; ``choices`` lists the accepted values of a choice (compared case-insensitively).
    ``default`` is what an absent or empty value means; ``example`` is a typical value (the
    Airflow 2 form shows it as placeholder; Airflow 3 does not render extra-field placeholders,
    so every description carries its example or default too).
    """

    key: str
    label: str
    kind: str
    description: str
    default: Any = None
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    example: str | None = None

    def parser_args(self) -> dict[str, Any]:
        """Keyword arguments of the ``ExtraReader`` method of this kind (number, choice or flag)."""
        if self.kind in ("number", "integer"):
            return {"default": self.default, "minimum": self.minimum, "integer": self.kind == "integer"}
        if self.kind == "choice":
            return {"choices": tuple(choice.lower() for choice in self.choices), "default": self.default}
        if self.kind == "flag":
            return {"default": bool(self.default)}
        raise TypeError(f"extra {self.key!r} is {self.kind}: read it with ExtraReader.text")


#: The token cache only a deployment of Airflow offers (an Airflow Variable).
AIRFLOW_CACHE = "airflow"
#: The alert languages, as the ``language`` extra and the notifier's ``language`` argument accept them.
LANGUAGES: tuple[str, ...] = ("en", "zh-CN")

_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "permanent_code",
        "Permanent Code",
        "secret",
        "Required. The app's permanentCode from the Fxiaoke developer console.",
        example="permanentCode",
    ),
    ExtraField(
        "user_id",
        "Acting User ID",
        "text",
        "The user the calls act as (sent as x-fs-userid). Auth style header: required, the CRM "
        "employee id made of digits, e.g. 1000 (CRM > personnel > account info). Auth style legacy: "
        "optional, an open user id such as FSUID_6A3F...",
        example="1000",
    ),
    ExtraField(
        "service_id",
        "Service Account ID",
        "text",
        "Optional. Default service account that sends messages, e.g. FSAID_131a2b3; without one, "
        "messages are sent by the app itself.",
        example="FSAID_131a2b3",
    ),
    ExtraField(
        "auth_style",
        "Auth Style",
        "choice",
        "header (default; Bearer token headers, recipients are employee ids such as 1000) or legacy "
        "(corpAccessToken in the body, recipients are FSUID_... open ids).",
        default=protocol.DEFAULT_AUTH_STYLE,
        choices=protocol.AUTH_STYLES,
    ),
    ExtraField(
        "language",
        "Alert Language",
        "choice",
        "Language of the notifier's default alert texts: en (default) or zh-CN. "
        "Messages you write yourself are sent as written.",
        default="en",
        choices=LANGUAGES,
    ),
    ExtraField(
        "timeout",
        "Timeout (seconds)",
        "number",
        "Optional. Seconds to wait for an answer; default 30.",
        default=settings.DEFAULT_TIMEOUT_S,
        minimum=settings.MIN_TIMEOUT_S,
    ),
    ExtraField(
        "retry_max_attempts",
        "Retry: Max Attempts",
        "integer",
        "Attempts for transient failures (busy, timeouts; refusals for an endpoint's call limit "
        "are waited out for up to 3 rate-limit windows instead); default 7, at least 1 "
        "(1 = no automatic retry).",
        default=settings.DEFAULT_RETRY_MAX_ATTEMPTS,
        minimum=1,
    ),
    ExtraField(
        "retry_max_wait",
        "Retry: Max Wait (seconds)",
        "number",
        "Ceiling of one backoff wait between attempts; default 30.",
        default=settings.DEFAULT_RETRY_MAX_WAIT_S,
        minimum=0,
    ),
    ExtraField(
        "retry_unknown_outcome",
        "Retry Unknown Outcome",
        "flag",
        "Off by default: a request that may already have been acted on (a timeout after sending) is "
        "not repeated. On: retried, so a message may arrive twice (at-least-once).",
        default=False,
    ),
    ExtraField(
        "rate_limit_calls",
        "Rate Limit: Calls",
        "integer",
        f"Calls per endpoint this client allows itself per window; default "
        f"{protocol.RATE_LIMIT_CALLS} (the gateway's documented limit); 0 turns pacing off.",
        default=protocol.RATE_LIMIT_CALLS,
        minimum=0,
    ),
    ExtraField(
        "rate_limit_window",
        "Rate Limit: Window (seconds)",
        "number",
        f"Length of the pacing window; default {protocol.RATE_LIMIT_WINDOW_S:g}.",
        default=protocol.RATE_LIMIT_WINDOW_S,
        minimum=0,
    ),
    ExtraField(
        "token_cache",
        "Token Cache",
        "choice",
        "file: one token shared by all task processes on a worker (default); memory: one token per hook; "
        "airflow: one token for the whole deployment, in an Airflow Variable.",
        default=settings.FILE_CACHE,
        choices=(*settings.TOKEN_CACHES, AIRFLOW_CACHE),
    ),
    ExtraField(
        "token_cache_dir",
        "Token Cache Directory",
        "text",
        "Optional. Directory of the shared token file; default <AIRFLOW_HOME>/fxiaoke/token-cache, "
        "e.g. /var/lib/airflow/fxiaoke-tokens.",
        example="/var/lib/airflow/fxiaoke-tokens",
    ),
    ExtraField(
        "proxy",
        "HTTPS Proxy",
        "text",
        "Optional. Proxy URL for calls to the gateway, e.g. http://proxy.internal:3128.",
        example="http://proxy.internal:3128",
    ),
    ExtraField(
        "ca_bundle",
        "CA Bundle Path",
        "text",
        "Optional. CA bundle file, for proxies that re-sign TLS traffic, e.g. "
        "/etc/ssl/certs/ca-certificates.crt.",
        example="/etc/ssl/certs/ca-certificates.crt",
    ),
    ExtraField(
        "allow_insecure_http",
        "Allow Plain HTTP",
        "flag",
        "Off by default: plain http is refused except to a loopback sandbox. On: credentials may "
        "travel unencrypted; only for a trusted test gateway.",
        default=False,
    ),
)

EXTRA_FIELDS: dict[str, ExtraField] = {spec.key: spec for spec in _FIELDS}


def parser_args(key: str) -> dict[str, Any]:
    """What the parser passes to ``ExtraReader`` for ``key``: the table's default, bounds, choices."""
    return EXTRA_FIELDS[key].parser_args()
