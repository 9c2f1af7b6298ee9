"""Everything this provider knows about the Fxiaoke OpenAPI gateway: hosts, paths, codes, limits.

Other modules import these names instead of repeating literals, so a change in the gateway's
contract is a change in this file only. Source: the project's OpenAPI reference.
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

# --- paths -------------------------------------------------------------------------------------
TOKEN_PATH: Final = "/oauth2.0/token"
LEGACY_TOKEN_PATH: Final = "/cgi/corpAccessToken/get/V2"
APP_MESSAGE_SEND_PATH: Final = "/cgi/message/send"
SERVICE_MESSAGE_SEND_PATH: Final = "/cgi/app/message/send"
SERVICE_MESSAGE_REVOKE_PATH: Final = "/cgi/app/message/revoke"
TOKEN_PATHS: Final = frozenset({TOKEN_PATH, LEGACY_TOKEN_PATH})
TRACE_QUERY_PARAM: Final = "thirdTraceId"

# --- auth --------------------------------------------------------------------------------------
AuthStyle = Literal["header", "legacy"]
AUTH_STYLES: Final[tuple[str, ...]] = ("header", "legacy")
DEFAULT_AUTH_STYLE: Final = "header"
TOKEN_GRANT_TYPE: Final = "app_secret"
HEADER_AUTHORIZATION: Final = "authorization"
HEADER_EA: Final = "x-fs-ea"
HEADER_USER_ID: Final = "x-fs-userid"
BEARER_PREFIX: Final = "Bearer "
LEGACY_TOKEN_FIELD: Final = "corpAccessToken"
LEGACY_CORP_ID_FIELD: Final = "corpId"

TOKEN_LIFETIME_S: Final = 7200
#: Asking again before this age returns the same token; after it, a fresh one.
TOKEN_RENEW_AFTER_S: Final = 6600
TOKEN_ENDPOINT_CALLS_PER_MINUTE: Final = 10

# --- messages ----------------------------------------------------------------------------------
MessageType = Literal["text", "composite", "articles"]
MSG_TYPES: Final[tuple[str, ...]] = ("text", "composite", "articles")
MAX_RECIPIENTS_PER_REQUEST: Final = 500
MAX_ARTICLES: Final = 7
ARTICLE_TITLE_MAX: Final = 45
ARTICLE_AUTHOR_MAX: Final = 8
ARTICLE_DESCRIPTION_MAX: Final = 140
ARTICLE_TYPES: Final[tuple[str, ...]] = ("TEXT", "URL")
CRM_RECORD_LINK_PREFIX: Final = "fs://CRM/udobj?"

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

#: Codes worth retrying with backoff: the request was refused before any work was done.
TRANSIENT_CODES: Final = frozenset({RATE_LIMITED, CALL_LIMIT_EXCEEDED, SYSTEM_BUSY})
#: Codes after which nobody knows whether the gateway acted (a retry may deliver twice).
OUTCOME_UNKNOWN_CODES: Final = frozenset({SERVICE_EXCEPTION, SYSTEM_ERROR})
#: Codes that no retry can fix; listed for their descriptions, any other non-zero code is permanent too.
PERMANENT_CODES: Final = frozenset(
    {DAILY_QUOTA_EXHAUSTED, NO_QUOTA, APP_DISABLED, APP_NOT_AUTHORISED, NO_PERMISSION, NO_CREDENTIALS}
)
#: HTTP statuses a proxy or the gateway uses for "not now"; the request was not acted on.
TRANSIENT_HTTP_STATUSES: Final = frozenset({429, 502, 503, 504})

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


# --- body field names and the address-book lookup (used by the doctor) -------------------------
TO_USER_FIELD: Final = "toUser"
MSG_TYPE_FIELD: Final = "msgType"
MSG_TYPE_TEXT: Final = "text"
TEXT_CONTENT_FIELD: Final = "content"
SERVICE_ID_FIELD: Final = "serviceId"
CONVERT_USER_ID_FIELD: Final = "convertUserId"
MESSAGE_ID_FIELD: Final = "messageId"
TRACE_ID_FIELD: Final = "traceId"
EXPIRES_IN_FIELD: Final = "expiresIn"
OPEN_USER_ID_PREFIX: Final = "FSUID_"
USER_BY_MOBILE_PATH: Final = "/cgi/user/getByMobile"
MOBILE_FIELD: Final = "mobile"
EMPLOYEE_LIST_FIELD: Final = "empList"
OPEN_USER_ID_FIELD: Final = "openUserId"
