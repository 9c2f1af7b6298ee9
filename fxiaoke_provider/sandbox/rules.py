"""The gateway's rules as the SANDBOX states them, on its own, from the project's OpenAPI reference.

This module is deliberately independent of the client (``fxiaoke_provider.gateway.protocol`` and friends):
the sandbox is a test double of the gateway, so a rule the client gets wrong must not be wrong here
too, or no test could notice. Source: the project's OpenAPI reference (``fxiaoke-openapi.md``,
gathered from the Fxiaoke developer manual, Fxiaoke's own demo and public SDKs).

Each rule carries its evidence mark in a comment, as the reference grades it:

* ``[manual]``     a current manual page says so;
* ``[code]``       several public clients, or Fxiaoke's own demo, do it this way;
* ``[secondary]``  only a secondary summary of the manual says so;
* ``[sandbox]``    the reference is silent: the sandbox had to choose (listed in ``ASSUMPTIONS``).

Everything marked ``[secondary]`` or ``[sandbox]`` is listed in ``ASSUMPTIONS`` so the README can
quote it; tests and clients must not treat those as facts about the real gateway.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

# --- paths ------------------------------------------------------------------------------------------
TOKEN_PATH: Final = "/oauth2.0/token"  # [manual] current (header) style token call
LEGACY_TOKEN_PATH: Final = "/cgi/corpAccessToken/get/V2"  # [manual] legacy (body) style token call
TOKEN_PATHS: Final = frozenset({TOKEN_PATH, LEGACY_TOKEN_PATH})
APP_MESSAGE_SEND_PATH: Final = "/cgi/message/send"  # [manual] send as the app itself
SERVICE_MESSAGE_SEND_PATH: Final = "/cgi/app/message/send"  # [manual] send as a service account
SERVICE_MESSAGE_REVOKE_PATH: Final = "/cgi/app/message/revoke"  # [manual] revoke a service message
SEND_PATHS: Final = frozenset({APP_MESSAGE_SEND_PATH, SERVICE_MESSAGE_SEND_PATH})
USER_BY_MOBILE_PATH: Final = "/cgi/user/getByMobile"  # [code] address book: mobile -> empList
USER_GET_PATH: Final = "/cgi/user/get"  # [code] address book: one employee by openUserId
USER_SIMPLE_LIST_PATH: Final = "/cgi/user/simpleList"  # [code] employees of a department
DEPARTMENT_LIST_PATH: Final = "/cgi/department/list"  # [code] all departments
DIRECTORY_PATHS: Final = frozenset(
    {USER_BY_MOBILE_PATH, USER_GET_PATH, USER_SIMPLE_LIST_PATH, DEPARTMENT_LIST_PATH}
)
MEDIA_UPLOAD_PATH: Final = "/media/upload/message"  # [manual] material upload, multipart/form-data

# CRM object data: one path per action, preset objects under ``/cgi/crm/v2/data/``, custom objects
# (api names ending in ``__c``) under ``/cgi/crm/custom/v2/data/``. query [manual]; get, create,
# update, invalid, delete [code].
CRM_PRESET_DATA_PREFIX: Final = "/cgi/crm/v2/data/"
CRM_CUSTOM_DATA_PREFIX: Final = "/cgi/crm/custom/v2/data/"
CRM_QUERY: Final = "query"
CRM_GET: Final = "get"
CRM_CREATE: Final = "create"
CRM_UPDATE: Final = "update"
CRM_INVALID: Final = "invalid"
CRM_DELETE: Final = "delete"
CRM_ACTIONS: Final[tuple[str, ...]] = (CRM_QUERY, CRM_GET, CRM_CREATE, CRM_UPDATE, CRM_INVALID, CRM_DELETE)
#: path -> (action, whether the path is the custom-object one)
CRM_DATA_PATHS: Final[dict[str, tuple[str, bool]]] = {
    **{CRM_PRESET_DATA_PREFIX + action: (action, False) for action in CRM_ACTIONS},
    **{CRM_CUSTOM_DATA_PREFIX + action: (action, True) for action in CRM_ACTIONS},
}
CRM_DESCRIBE_PATH: Final = "/cgi/crm/v2/object/describe"  # [manual] preset and custom objects alike
CRM_OBJECT_LIST_PATH: Final = "/cgi/crm/v2/object/list"  # [code] (one public client)
CRM_PATHS: Final = frozenset(CRM_DATA_PATHS) | {CRM_DESCRIBE_PATH, CRM_OBJECT_LIST_PATH}
BUSINESS_PATHS: Final = (
    SEND_PATHS | {SERVICE_MESSAGE_REVOKE_PATH} | DIRECTORY_PATHS | {MEDIA_UPLOAD_PATH} | CRM_PATHS
)
API_PATHS: Final = TOKEN_PATHS | BUSINESS_PATHS

#: Query parameter carrying the caller's trace id: a fresh UUID v4 per request. [manual]
TRACE_QUERY_PARAM: Final = "thirdTraceId"

# --- auth -------------------------------------------------------------------------------------------
HEADER_STYLE: Final = "header"
LEGACY_STYLE: Final = "legacy"
TOKEN_GRANT_TYPE: Final = "app_secret"  # [manual] body field grantType of the header-style token call
#: Fields the token call needs, per auth style. [manual]
TOKEN_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    HEADER_STYLE: ("appId", "appSecret", "permanentCode", "grantType"),
    LEGACY_STYLE: ("appId", "appSecret", "permanentCode"),
}
HEADER_AUTHORIZATION: Final = "authorization"  # [manual] "Bearer <accessToken>", one space
HEADER_EA: Final = "x-fs-ea"  # [manual] the enterprise account from the token answer
HEADER_USER_ID: Final = "x-fs-userid"  # [manual] acting CRM employee id, on every call but token calls
BEARER_PREFIX: Final = "Bearer "  # [manual]
LEGACY_TOKEN_FIELD: Final = "corpAccessToken"  # [manual] top-level body field (query param for uploads)
LEGACY_CORP_ID_FIELD: Final = "corpId"  # [manual] likewise
CONVERT_USER_ID_FIELD: Final = "convertUserId"  # [secondary] header style: toUser holds FSUID_ ids

# --- ids --------------------------------------------------------------------------------------------
#: A CRM employee id: digits, e.g. ``1000``. [manual] (length cap of 12 digits: [sandbox])
EMPLOYEE_ID_RE: Final = re.compile(r"[0-9]{1,12}")
#: An open user id, ``FSUID_...``. [code]
OPEN_USER_ID_RE: Final = re.compile(r"FSUID_\w+", re.ASCII)
EMPLOYEE_ID: Final = "employee"
OPEN_USER_ID: Final = "open"


def id_kind(value: object) -> str | None:
    """``employee`` (digits), ``open`` (``FSUID_...``) or None for anything else."""
    if not isinstance(value, str):
        return None
    if EMPLOYEE_ID_RE.fullmatch(value):
        return EMPLOYEE_ID
    if OPEN_USER_ID_RE.fullmatch(value):
        return OPEN_USER_ID
    return None


def recipient_kind(style: str, convert_user_id: object) -> str:
    """The one id kind ``toUser`` must hold for a request of this auth style.

    Header style: CRM employee ids by default; ``"convertUserId": true`` switches to ``FSUID_``
    open ids. [secondary] Legacy style: ``FSUID_`` open ids as they are, no ``convertUserId``
    needed [code]; plain employee ids are refused there [sandbox] (no public legacy client sends
    them), and ``convertUserId`` is ignored [sandbox]. One request holds one kind only. [sandbox]
    """
    if style == LEGACY_STYLE:
        return OPEN_USER_ID
    return OPEN_USER_ID if convert_user_id is True else EMPLOYEE_ID


# --- tokens -----------------------------------------------------------------------------------------
TOKEN_LIFETIME_S: Final = 7200  # [manual] both styles
#: Asking again before this age returns the SAME token, after it a new one (the old one stays
#: valid until its 7200 s). Legacy style: "same token within the first 6600 s" [manual]. Header
#: style: the page says "refresh by calling again between 6650 and 7200 s" [manual]; that the same
#: token comes back until 6650 s is the sandbox's reading of it [sandbox].
TOKEN_REUSE_UNTIL_S: Final[dict[str, int]] = {HEADER_STYLE: 6650, LEGACY_STYLE: 6600}
# ``expiresIn`` in a token answer is the token's REMAINING lifetime (7200 - age), not a constant:
# the manual's example answer shows 7084. [manual] (See ``SandboxEngine._token``.)
#: Token endpoint: at most 10 calls a minute [secondary], counted per appId over a sliding minute [sandbox].
TOKEN_ENDPOINT_CALLS_PER_MINUTE: Final = 10
TOKEN_LIMIT_WINDOW_S: Final = 60.0

# --- rate limits ------------------------------------------------------------------------------------
#: Per endpoint, each counted separately: 100 calls / 20 s. [manual] Counted per (path, tenant),
#: only for authenticated calls [sandbox].
RATE_LIMIT_CALLS: Final = 100
RATE_LIMIT_WINDOW_S: Final = 20.0

# --- messages ---------------------------------------------------------------------------------------
MSG_TYPES: Final[tuple[str, ...]] = ("text", "composite", "articles")  # [manual]
MAX_RECIPIENTS_PER_REQUEST: Final = 500  # [manual]
MAX_ARTICLES: Final = 7  # [manual]
ARTICLE_TITLE_MAX: Final = 45  # [manual]
ARTICLE_AUTHOR_MAX: Final = 8  # [manual]
ARTICLE_DESCRIPTION_MAX: Final = 140  # [manual]
ARTICLE_TYPES: Final[tuple[str, ...]] = ("TEXT", "URL")  # [manual]

# --- material ---------------------------------------------------------------------------------------
MEDIA_FIELD: Final = "media"  # [manual] multipart field holding the file
MEDIA_MAX_BYTES: Final = 5 * 1024 * 1024  # [manual] images at most 5 MB
#: Allowed image types [manual], by filename extension and by magic bytes [sandbox: how it checks].
IMAGE_EXTENSIONS: Final[dict[str, str]] = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "png": "png",
    "gif": "gif",
    "bmp": "bmp",
}
IMAGE_MAGIC: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)
#: The manual's upload answer "holds the media id" without naming the field [sandbox]; the older
#: ``/media/upload`` route answers ``mediaId`` [code], so the sandbox uses that name.
MEDIA_ID_FIELD: Final = "mediaId"


def image_type(filename: str | None, content: bytes) -> str | None:
    """The image type if the extension AND the magic bytes name the same allowed type, else None."""
    if not filename or "." not in filename:
        return None
    by_name = IMAGE_EXTENSIONS.get(filename.rsplit(".", 1)[1].lower())
    by_magic = next((kind for magic, kind in IMAGE_MAGIC if content.startswith(magic)), None)
    return by_name if by_name is not None and by_name == by_magic else None


# --- CRM object data ---------------------------------------------------------------------------------
CUSTOM_OBJECT_SUFFIX: Final = "__c"  # [manual] custom objects (and custom fields) end in __c
#: Legacy style: the acting user's FSUID_ open id at the top level of every CRM body. [manual][code]
CURRENT_OPEN_USER_ID_FIELD: Final = "currentOpenUserId"
#: The query body's field names, spelled as the manual spells them (snake_case and camelCase). [manual]
QUERY_OBJECT_FIELD: Final = "dataObjectApiName"
QUERY_TOTAL_FLAG: Final = "find_explicit_total_num"  # default true; false -> total answers 0 [manual]
QUERY_INFO_FIELD: Final = "search_query_info"
QUERY_PROJECTION_FIELD: Final = "fieldProjection"  # empty or absent: all fields [manual]
QUERY_LIMIT_MAX: Final = 100  # [manual] current pages, preset and custom objects
QUERY_OFFSET_MAX: Final = 10_000  # [manual] beyond it: 10013
#: Filter operators. [manual] ``field_values`` is always a list [manual]; BETWEEN takes two [manual].
QUERY_OPERATORS: Final[tuple[str, ...]] = (
    "EQ",
    "N",
    "GT",
    "GTE",
    "LT",
    "LTE",
    "LIKE",
    "NLIKE",
    "IS",
    "ISN",
    "IN",
    "NIN",
    "BETWEEN",
    "NBETWEEN",
    "STARTWITH",
    "ENDWITH",
    "HASANYOF",
    "NHASANYOF",
)
#: Every record has these [code]; ``_id`` is 24 hex digits, times are epoch milliseconds [code].
RECORD_ID_FIELD: Final = "_id"
RECORD_ID_RE: Final = re.compile(r"[0-9a-f]{24}")
SYSTEM_FIELDS: Final[tuple[str, ...]] = (
    "_id",
    "name",
    "owner",
    "create_time",
    "last_modified_time",
    "life_status",
)
#: Fields a write may not set: the gateway keeps them. [sandbox]
READ_ONLY_FIELDS: Final = frozenset({"_id", "create_time", "last_modified_time", "life_status"})
LIFE_STATUS_NORMAL: Final = "normal"
LIFE_STATUS_INVALID: Final = "invalid"  # after /invalid [code]; the value's spelling: [sandbox]
#: Create answers the new record's id at the top level of the answer. [code]
CREATED_ID_FIELD: Final = "dataId"
#: A query without ``orders`` comes back newest-modified first (ties: ``_id``), NOT by ``_id``. [sandbox]
DEFAULT_ORDER: Final[tuple[tuple[str, bool], ...]] = (("last_modified_time", False), ("_id", True))

# --- error codes ------------------------------------------------------------------------------------
SUCCESS: Final = 0  # [manual] only 0 means success; errors come back as HTTP 200
SYSTEM_BUSY: Final = -1  # [manual]
SYSTEM_ERROR: Final = -2  # [manual]
CREDENTIALS_REJECTED: Final = 10006  # [code] wrong appSecret / missing field on the token call
TO_USER_MISSING: Final = 10015  # [manual]
TO_USER_INVALID: Final = 11016  # [manual] also: wrong id kind for the style, mixed kinds [sandbox]
MSG_TYPE_INVALID: Final = 11017  # [manual]
MSG_TYPE_UNSUPPORTED: Final = 12003  # [manual]
EMPTY_BODY: Final = 12004  # [manual]
EMPTY_TEXT: Final = 12005  # [manual]
CALL_LIMIT_EXCEEDED: Final = 14001  # [manual] (used for the token-endpoint limit: [sandbox])
TOKEN_EXPIRED: Final = 20016  # [code] unknown, expired or forged token
NO_CREDENTIALS: Final = 20017  # [manual] no credentials in the request at all
RATE_LIMITED: Final = 30004  # [manual] per-endpoint frequency exceeded
SERVICE_EXCEPTION: Final = 50009  # [manual] e.g. a timeout: outcome unknown
#: Sandbox-specific "invalid parameter": the reference names no code for these cases. [sandbox]
INVALID_PARAMETER: Final = 10002
OFFSET_OUT_OF_RANGE: Final = 10013  # [manual] query offset over 10,000 (on the CRM query paths)
#: A CRM write whose record content is refused (a bad value, a required field missing, a read-only
#: field, delete before invalidation), naming the field. The real codes are undocumented. [sandbox]
RECORD_REFUSED: Final = 10422
#: A CRM call naming a record ``_id`` the object does not have. [sandbox]
RECORD_NOT_FOUND: Final = 10404

#: The sandbox's errorMessage texts. The manual warns that the real texts change, so clients must not
#: read them; these are deliberately the sandbox's own wording. [sandbox]
CODE_DESCRIPTIONS: Final[dict[int, str]] = {
    SYSTEM_BUSY: "the system is busy, please try again later",
    SYSTEM_ERROR: "an internal system error occurred",
    CREDENTIALS_REJECTED: "appId, appSecret or permanentCode is not valid",
    TO_USER_MISSING: "the toUser parameter is missing",
    TO_USER_INVALID: "the toUser parameter holds an id that is not valid",
    MSG_TYPE_INVALID: "the msgType parameter is not valid",
    MSG_TYPE_UNSUPPORTED: "this msgType is not supported here",
    EMPTY_BODY: "the request body is empty",
    EMPTY_TEXT: "the text content is empty",
    CALL_LIMIT_EXCEEDED: "the number of calls is over the limit",
    TOKEN_EXPIRED: "the access token is not valid or has expired",
    NO_CREDENTIALS: "the request carries no credentials",
    RATE_LIMITED: "calls are too frequent",
    SERVICE_EXCEPTION: "service exception (for example a timeout)",
    INVALID_PARAMETER: "a parameter is not valid",
    OFFSET_OUT_OF_RANGE: "offset out of range 10000",
    RECORD_REFUSED: "the record was refused: a field value is not valid",
    RECORD_NOT_FOUND: "no such record",
    20021: "the app is disabled for this enterprise",
    20022: "the enterprise has not authorised this app",
    15003: "the app has no permission for this call",
    30002: "today's Open API quota is used up",
    30003: "the enterprise has no Open API quota",
}


def describe_code(code: int) -> str:
    """The sandbox's own words for a code (the real gateway's texts differ and change)."""
    return CODE_DESCRIPTIONS.get(code, "error")


# --- loopback ---------------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): the only places it listens."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: What the sandbox assumes where the reference is silent or only secondary. Quoted by the README;
#: the real gateway may behave differently on every one of these.
ASSUMPTIONS: Final[tuple[str, ...]] = (
    "[sandbox] Header style hands out the same token until it is 6650 s old (the sandbox's reading of "
    '"refresh by calling again between 6650 and 7200 s"); legacy style until 6600 s, as its page says.',
    "[secondary] Header style: toUser holds CRM employee ids (digits) unless the body says "
    '"convertUserId": true, then FSUID_ open ids.',
    "[sandbox] Legacy style refuses plain employee ids in toUser with 11016 (no public legacy client "
    "sends them) and ignores convertUserId.",
    "[sandbox] A toUser mixing employee ids and open ids is refused with 11016.",
    "[sandbox] Well-formed recipient ids that are not in the sandbox's directory are accepted; the "
    "delivery record then names no person for them.",
    "[sandbox] A toUser listing the same person twice counts as two deliveries to that person.",
    "[sandbox] x-fs-userid must be digits; it need not be a person in the directory.",
    "[secondary] The token endpoint allows at most 10 calls a minute (per appId, sliding minute) and "
    "must not be called concurrently; the sandbox counts concurrent calls but still answers them.",
    "[sandbox] Over the token-endpoint limit the sandbox answers 14001 (the real code is undocumented).",
    "[sandbox] Refused token calls do not count in the token endpoint's window, unless the sandbox "
    "runs with count_refused_token_calls (--count-refused-token-calls): then they count too, as many "
    "rate limiters do. The reference does not say which the gateway does.",
    "[sandbox] The per-endpoint limit (100 / 20 s) is answered with 30004, never 14001, and counts "
    "authenticated calls only, per path and tenant.",
    "[sandbox] errorCode 10002 (invalid parameter) for every malformed request the reference names no "
    "code for: missing/non-UUID thirdTraceId, a broken card or article field, missing serviceId or "
    "messageId, a bad x-fs-userid, both auth styles in one request, bad address-book arguments, a "
    "refused upload.",
    "[sandbox] Revoke accepts any non-empty messageId and matches it to no send (nothing public says "
    "where a messageId comes from).",
    "[sandbox] Send answers carry only the common fields; the opt-in message_ids=True makes them also "
    "carry a messageId, a HYPOTHETICAL tenant behaviour for testing a client's plumbing, not a "
    "documented one.",
    "[sandbox] The upload answer names the media id mediaId (the older /media/upload route's name).",
    "[sandbox] Uploads are checked by filename extension AND magic bytes; type and size failures, and "
    "a missing media field, answer 10002.",
    "[sandbox] In legacy style the upload takes corpAccessToken and corpId as query parameters only "
    "(the manual's example), not as form fields.",
    "[sandbox] An article's coverImage is any non-empty string; unknown media ids are not refused.",
    "[sandbox] getByMobile with an unknown mobile answers errorCode 0 and an empty empList.",
    "[sandbox] user/get answers the employee's fields at the top level (openUserId, name, mobile, "
    "departmentIds); an unknown openUserId, like an unknown departmentId, answers 10002.",
    "[sandbox] Address-book answers carry open ids only, never employee ids.",
    "[sandbox] The root department has parentId 0.",
    "[sandbox] The preset CRM data paths (/cgi/crm/v2/data/...) refuse custom objects (api names "
    "ending in __c) with 10002, naming dataObjectApiName and the custom path; the custom paths "
    "(/cgi/crm/custom/v2/data/...) refuse preset objects the same way.",
    "[sandbox] A legacy-style CRM call without currentOpenUserId (an FSUID_ open id, at the top level) "
    "is refused with 10002 naming currentOpenUserId; the id need not be a person in the directory.",
    "[sandbox] A malformed CRM body (no data object, an unknown object, a bad search_query_info, an "
    "unknown operator, field_values not a list, a comparison or LIKE without exactly one value, "
    "BETWEEN without two values, a non-number for a number field, a limit outside 1 to 100, a "
    "negative offset) is refused with 10002 naming the field.",
    "[sandbox] A query without limit answers at most 20 records; without offset it starts at 0.",
    "[sandbox] A query without orders answers records newest-modified first (last_modified_time "
    "descending, then _id ascending), not in _id order.",
    "[sandbox] BETWEEN and NBETWEEN include both ends; IS and ISN test for an empty value (absent, "
    "null, empty text or empty list) and ignore field_values; LIKE, NLIKE, STARTWITH and ENDWITH "
    "compare text case-sensitively; a list-valued field (owner, select_many) matches EQ, IN and "
    "HASANYOF when any of its items matches; N, NLIKE, NIN, NBETWEEN and NHASANYOF match exactly the "
    "records their positive operator does not, empty values included.",
    "[sandbox] Filter values are compared by the field's type: numbers, currencies and date_time "
    "numerically (numeric strings accepted), everything else, _id included, as text.",
    "[sandbox] Queries leave out invalidated records unless a filter names life_status; get answers "
    "them with life_status invalid.",
    '[sandbox] get takes {"data": {"dataObjectApiName", "objectDataId"}} (object_data_id is '
    "accepted too) and answers the record as data; an unknown _id answers 10404 on get, update, "
    "invalid and delete.",
    "[sandbox] A record's content refusal (a value of the wrong type, a select value outside the "
    "options, name missing on create, a read-only field such as _id on create or create_time, an "
    "update of an invalidated record, a delete before invalidation) answers 10422 naming the field.",
    "[sandbox] Writes accept fields the object's describe does not list and store them as given, "
    "unchecked; filters, orders and projections may name such fields.",
    "[sandbox] Update, invalid and delete answer the common fields only; create answers dataId at the "
    "top level (the reference's) and nothing else. Invalidating an invalidated record changes nothing "
    "and answers 0.",
    "[sandbox] The owner of a created record defaults to the acting user: the x-fs-userid employee "
    "id in header style, in legacy style the employee id the directory knows for currentOpenUserId "
    "(the open id itself when it knows none).",
    "[sandbox] object/list answers data.objects, a list of {apiName, displayName, isCustom}; describe "
    "answers data.describe with apiName, displayName and fields (label, type, required, options for "
    "selects).",
    "[sandbox] Seeded records are generated, not real: deterministic per object and position, _id "
    "rising with create_time, create times spread over 2025, every seeded record life_status normal.",
)
