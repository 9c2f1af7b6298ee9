"""The wire names of messages, the address book and the material API: paths, fields, limits.

Only the messaging capability spells these; the wire every call shares is ``gateway.protocol``.
Source: the project's OpenAPI reference; facts it marks as secondary are noted here.
"""

from __future__ import annotations

from typing import Final, Literal

# --- paths -------------------------------------------------------------------------------------
APP_MESSAGE_SEND_PATH: Final = "/cgi/message/send"
SERVICE_MESSAGE_SEND_PATH: Final = "/cgi/app/message/send"
SERVICE_MESSAGE_REVOKE_PATH: Final = "/cgi/app/message/revoke"

# --- messages ----------------------------------------------------------------------------------
MessageType = Literal["text", "composite", "articles"]
MSG_TYPES: Final[tuple[str, ...]] = ("text", "composite", "articles")
MSG_TYPE_TEXT: Final = "text"
TO_USER_FIELD: Final = "toUser"
MSG_TYPE_FIELD: Final = "msgType"
SERVICE_ID_FIELD: Final = "serviceId"
MESSAGE_ID_FIELD: Final = "messageId"
#: Header style: recipients in toUser are FSUID_ open ids instead of employee ids [secondary].
CONVERT_USER_ID_FIELD: Final = "convertUserId"
TEXT_CONTENT_FIELD: Final = "content"

COMPOSITE_REQUIRED: Final[tuple[tuple[str, str], ...]] = (
    ("head", "title"),
    ("link", "title"),
    ("link", "url"),
)
COMPOSITE_OPTIONAL_TEXT: Final[tuple[tuple[str, str], ...]] = (("first", "content"), ("remark", "content"))
COMPOSITE_FORM_FIELD: Final = "form"
COMPOSITE_FORM_ROW_FIELDS: Final[tuple[str, ...]] = ("label", "value")

MAX_RECIPIENTS_PER_REQUEST: Final = 500
MAX_ARTICLES: Final = 7
ARTICLE_TITLE_MAX: Final = 45
ARTICLE_AUTHOR_MAX: Final = 8
ARTICLE_DESCRIPTION_MAX: Final = 140
ARTICLE_TYPES: Final[tuple[str, ...]] = ("TEXT", "URL")
ARTICLE_TEXT_TYPE: Final = "TEXT"
ARTICLE_COVER_FIELD: Final = "coverImage"
ARTICLE_COVER_IN_CONTENT_FIELD: Final = "coverImageInContent"
CRM_RECORD_LINK_PREFIX: Final = "fs://CRM/udobj?"

# --- address book ------------------------------------------------------------------------------
USER_BY_MOBILE_PATH: Final = "/cgi/user/getByMobile"
MOBILE_FIELD: Final = "mobile"
EMPLOYEE_LIST_FIELD: Final = "empList"
OPEN_USER_ID_FIELD: Final = "openUserId"
#: Employees of a department [code]; ``fetchChild: true`` includes every sub-department.
USER_SIMPLE_LIST_PATH: Final = "/cgi/user/simpleList"
DEPARTMENT_ID_FIELD: Final = "departmentId"
FETCH_CHILD_FIELD: Final = "fetchChild"
USER_LIST_FIELD: Final = "userList"
#: Every department of the enterprise [code].
DEPARTMENT_LIST_PATH: Final = "/cgi/department/list"
DEPARTMENTS_FIELD: Final = "departments"

# --- material (images for articles) ------------------------------------------------------------
#: ``multipart/form-data`` with the file in field ``media`` [manual]. Legacy style carries
#: ``corpAccessToken`` and ``corpId`` as query parameters (the manual's example).
MEDIA_UPLOAD_PATH: Final = "/media/upload/message"
MEDIA_FIELD: Final = "media"
#: Images at most 5 MB [manual]; read as MiB (the manual does not say which).
MEDIA_MAX_BYTES: Final = 5 * 1024 * 1024
#: JPG, JPEG, PNG, GIF or BMP [manual], by filename extension.
IMAGE_EXTENSIONS: Final[tuple[str, ...]] = ("jpg", "jpeg", "png", "gif", "bmp")
#: The manual says the answer "holds the media id" without naming the field; the older
#: ``/media/upload`` route answers ``mediaId`` [code].
MEDIA_ID_FIELD: Final = "mediaId"
