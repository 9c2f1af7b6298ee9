"""The wire every call shares: hosts, token paths, auth fields and headers, answers, codes, limits.

Capabilities keep their own wire names next to them (``messaging.wire``); what every request of
every capability carries is here, so a change in the gateway's common contract is a change in this
file only. Source: the project's OpenAPI reference; facts the reference
marks as secondary are noted here and listed in the README's assumptions.
"""

from __future__ import annotations

from typing import Final, Literal

# --- hosts -------------------------------------------------------------------------------------
DEFAULT_HOST: Final = "open.fxiaoke.com"
CLOUD_HOSTS: Final[dict[str, str]] = {
    "fxiaoke": "open.fxiaoke.com",
    "huawei": "open-hwcloud.fxiaoke.com",
    "alibaba": "open-ale.fxiaoke.com",
    "hongkong": "open-ksc.sharecrm.com",
    "frankfurt": "open-hws.fxiaoke.com",
    "north-america": "open-na.sharecrm.com",
}
#: Hosts users mistake for the API host; they answer with HTML, never JSON.
NON_API_HOSTS: Final = frozenset({"www.fxiaoke.com", "fxiaoke.com", "www.sharecrm.com"})

# --- every request -----------------------------------------------------------------------------
TRACE_QUERY_PARAM: Final = "thirdTraceId"
CONTENT_TYPE_JSON: Final = "application/json; charset=utf-8"

# --- paths -------------------------------------------------------------------------------------
TOKEN_PATH: Final = "/oauth2.0/token"
LEGACY_TOKEN_PATH: Final = "/cgi/corpAccessToken/get/V2"
TOKEN_PATHS: Final = frozenset({TOKEN_PATH, LEGACY_TOKEN_PATH})

# --- auth --------------------------------------------------------------------------------------
AuthStyle = Literal["header", "legacy"]
HEADER_STYLE: Final = "header"
LEGACY_STYLE: Final = "legacy"
AUTH_STYLES: Final[tuple[str, ...]] = (HEADER_STYLE, LEGACY_STYLE)
DEFAULT_AUTH_STYLE: Final = HEADER_STYLE

# token request fields
APP_ID_FIELD: Final = "appId"
APP_SECRET_FIELD: Final = "appSecret"
PERMANENT_CODE_FIELD: Final = "permanentCode"
GRANT_TYPE_FIELD: Final = "grantType"
TOKEN_GRANT_TYPE: Final = "app_secret"

# token answer fields: header style, then legacy style
ACCESS_TOKEN_FIELD: Final = "accessToken"
EA_FIELD: Final = "ea"
LEGACY_TOKEN_FIELD: Final = "corpAccessToken"
LEGACY_CORP_ID_FIELD: Final = "corpId"
EXPIRES_IN_FIELD: Final = "expiresIn"
#: (token value field, tenant field) of a token answer, per auth style.
TOKEN_ANSWER_FIELDS: Final[dict[str, tuple[str, str]]] = {
    HEADER_STYLE: (ACCESS_TOKEN_FIELD, EA_FIELD),
    LEGACY_STYLE: (LEGACY_TOKEN_FIELD, LEGACY_CORP_ID_FIELD),
}
TOKEN_PATH_BY_STYLE: Final[dict[str, str]] = {HEADER_STYLE: TOKEN_PATH, LEGACY_STYLE: LEGACY_TOKEN_PATH}

# header style: every business call carries these
HEADER_AUTHORIZATION: Final = "authorization"
HEADER_EA: Final = "x-fs-ea"
HEADER_USER_ID: Final = "x-fs-userid"
BEARER_PREFIX: Final = "Bearer "

#: A token lives this long from issue.
TOKEN_LIFETIME_S: Final = 7200
#: Asking again before this age returns the SAME token (header style: "refresh between 6650 and 7200").
TOKEN_REISSUE_AFTER_S: Final[dict[str, int]] = {HEADER_STYLE: 6650, LEGACY_STYLE: 6600}
#: The token endpoint allows this many calls a minute, never concurrently [secondary].
TOKEN_ENDPOINT_CALLS_PER_MINUTE: Final = 10
TOKEN_ENDPOINT_WINDOW_S: Final = 60.0

# --- ids ---------------------------------------------------------------------------------------
#: Open user ids (address book, legacy style); employee ids are digits (header style).
OPEN_USER_ID_PREFIX: Final = "FSUID_"

# --- answers -----------------------------------------------------------------------------------
ERROR_CODE_FIELD: Final = "errorCode"
ERROR_MESSAGE_FIELD: Final = "errorMessage"
#: Token endpoints may describe errors with OAuth-style fields instead.
ERROR_DESCRIPTION_FIELDS: Final[tuple[str, ...]] = ("errorDescription", "error_description")
TRACE_ID_FIELD: Final = "traceId"

# --- rate limits -------------------------------------------------------------------------------
RATE_LIMIT_CALLS: Final = 100
RATE_LIMIT_WINDOW_S: Final = 20.0

# --- error codes -------------------------------------------------------------------------------
SUCCESS: Final = 0
SYSTEM_BUSY: Final = -1
SYSTEM_ERROR: Final = -2
TOKEN_EXPIRED: Final = 20016
NO_CREDENTIALS: Final = 20017
RATE_LIMITED: Final = 30004
CALL_LIMIT_EXCEEDED: Final = 14001
DAILY_QUOTA_EXHAUSTED: Final = 30002
NO_QUOTA: Final = 30003
APP_DISABLED: Final = 20021
APP_NOT_AUTHORISED: Final = 20022
NO_PERMISSION: Final = 15003
SERVICE_EXCEPTION: Final = 50009
TO_USER_MISSING: Final = 10015
TO_USER_INVALID: Final = 11016
MSG_TYPE_INVALID: Final = 11017
MSG_TYPE_UNSUPPORTED: Final = 12003
EMPTY_BODY: Final = 12004
EMPTY_TEXT: Final = 12005
#: Seen in practice for a wrong appSecret or a missing token-call field (the table says otherwise).
CREDENTIALS_REJECTED: Final = 10006

#: HTTP statuses a proxy or the gateway uses for "not now"; the request was not acted on.
TRANSIENT_HTTP_STATUSES: Final = frozenset({429, 502, 503, 504})

# --- what a code means for the caller ----------------------------------------------------------
ErrorKind = Literal["transient", "outcome_unknown", "token_expired", "auth", "permanent"]
#: An endpoint's call limit: the request was refused, not acted on.
CALL_LIMIT_CODES: Final = frozenset({RATE_LIMITED, CALL_LIMIT_EXCEEDED})
#: Refused before any work was done: worth retrying with backoff.
TRANSIENT_CODES: Final = CALL_LIMIT_CODES | {SYSTEM_BUSY}
#: Nobody knows whether the gateway acted: a retry may deliver twice.
OUTCOME_UNKNOWN_CODES: Final = frozenset({SERVICE_EXCEPTION, SYSTEM_ERROR})
#: The credentials (not the request) are the problem.
AUTH_CODES: Final = frozenset({NO_CREDENTIALS, CREDENTIALS_REJECTED})
#: Refusals of the app or the tenant (quota, permission), not of one request's content: every
#: further request would be refused too.
APP_REFUSED_CODES: Final = frozenset(
    {DAILY_QUOTA_EXHAUSTED, NO_QUOTA, APP_DISABLED, APP_NOT_AUTHORISED, NO_PERMISSION}
)


def classify_code(code: int | None, path: str) -> ErrorKind:
    """What a non-zero ``errorCode`` means for the caller; any unlisted code is permanent.

    Exact 1xxxx codes of the token call are unreliable, so every refused token call is an auth error.
    """
    if code == TOKEN_EXPIRED:
        return "token_expired"
    if code in TRANSIENT_CODES:
        return "transient"
    if code in OUTCOME_UNKNOWN_CODES:
        return "outcome_unknown"
    if code in AUTH_CODES or path in TOKEN_PATHS:
        return "auth"
    return "permanent"


CODE_DESCRIPTIONS: Final[dict[int, str]] = {
    SYSTEM_BUSY: "system busy",
    SYSTEM_ERROR: "system error",
    TOKEN_EXPIRED: "access token unknown or expired",
    NO_CREDENTIALS: "no credentials in the request",
    RATE_LIMITED: "call frequency exceeded",
    CALL_LIMIT_EXCEEDED: "call limit exceeded",
    DAILY_QUOTA_EXHAUSTED: "daily Open API quota exhausted (resets at midnight)",
    NO_QUOTA: "no Open API quota purchased",
    APP_DISABLED: "app disabled for this enterprise",
    APP_NOT_AUTHORISED: "enterprise has not authorised the app",
    NO_PERMISSION: "app lacks permission",
    SERVICE_EXCEPTION: "service exception, outcome unknown",
    TO_USER_MISSING: "toUser missing",
    TO_USER_INVALID: "toUser invalid",
    MSG_TYPE_INVALID: "msgType invalid",
    MSG_TYPE_UNSUPPORTED: "message type not supported",
    EMPTY_BODY: "empty POST body",
    EMPTY_TEXT: "empty text content",
    CREDENTIALS_REJECTED: "credentials rejected",
}


def describe_code(code: int | None) -> str:
    """Human words for a code; the gateway's own errorMessage is not stable enough to show alone."""
    if code is None:
        return "no errorCode in the answer"
    return CODE_DESCRIPTIONS.get(code, "see the Fxiaoke error-code table")
