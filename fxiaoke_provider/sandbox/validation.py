"""Body checks of the send, revoke and address-book endpoints, with the codes of ``rules``.

Pure functions over an already parsed JSON object; they answer the first broken rule or None.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.sandbox.rules import (
    ARTICLE_AUTHOR_MAX,
    ARTICLE_DESCRIPTION_MAX,
    ARTICLE_TITLE_MAX,
    ARTICLE_TYPES,
    CONVERT_USER_ID_FIELD,
    EMPLOYEE_ID,
    EMPTY_TEXT,
    INVALID_PARAMETER,
    MAX_ARTICLES,
    MAX_RECIPIENTS_PER_REQUEST,
    MSG_TYPE_INVALID,
    MSG_TYPE_UNSUPPORTED,
    MSG_TYPES,
    OPEN_USER_ID_RE,
    TO_USER_INVALID,
    TO_USER_MISSING,
    id_kind,
    recipient_kind,
)


@dataclass(frozen=True)
class Rejection:
    """Why the gateway refuses a body: the errorCode and a message naming the field."""

    code: int
    message: str = ""


def _invalid(field: str, rule: str) -> Rejection:
    return Rejection(INVALID_PARAMETER, f"invalid parameter {field}: {rule}")


def _filled(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


_KIND_WORDS = {EMPLOYEE_ID: "CRM employee ids (digits)", "open": "open user ids (FSUID_...)"}


def check_recipients(body: dict[str, Any], style: str) -> Rejection | None:
    """``toUser``: a list of 1 to 500 ids, all of the one kind this auth style takes (``rules``)."""
    to_user = body.get("toUser")
    if to_user is None:
        return Rejection(TO_USER_MISSING, "toUser missing")
    if not isinstance(to_user, list) or not 1 <= len(to_user) <= MAX_RECIPIENTS_PER_REQUEST:
        return Rejection(TO_USER_INVALID, f"toUser must be a list of 1 to {MAX_RECIPIENTS_PER_REQUEST} ids")
    kinds = {id_kind(user) for user in to_user}
    if None in kinds:
        return Rejection(TO_USER_INVALID, "toUser holds an id that is neither an employee id nor an open id")
    if len(kinds) > 1:
        return Rejection(TO_USER_INVALID, "toUser mixes employee ids and open ids")
    wanted = recipient_kind(style, body.get(CONVERT_USER_ID_FIELD))
    if kinds != {wanted}:
        how = f"{style} style"
        if style == "header":
            how += " with convertUserId true" if wanted != EMPLOYEE_ID else " without convertUserId true"
        return Rejection(TO_USER_INVALID, f"toUser must hold {_KIND_WORDS[wanted]} in {how}")
    return None


def _check_text(text: dict[str, Any]) -> Rejection | None:
    if not _filled(text.get("content")):
        return Rejection(EMPTY_TEXT, "text.content is empty")
    return None


def _check_composite(card: dict[str, Any]) -> Rejection | None:
    for part, key in (("head", "title"), ("link", "title"), ("link", "url")):
        section = card.get(part)
        if not isinstance(section, dict) or not _filled(section.get(key)):
            return _invalid(f"composite.{part}.{key}", "required, a non-empty string")
    return None


def _check_article(article: object, field: str) -> Rejection | None:
    if not isinstance(article, dict):
        return _invalid(field, "must be an object")
    limits = (("title", ARTICLE_TITLE_MAX, True), ("author", ARTICLE_AUTHOR_MAX, False))
    limits += (("description", ARTICLE_DESCRIPTION_MAX, False),)
    for key, limit, required in limits:
        value = article.get(key)
        if value is None and not required:
            continue
        if not isinstance(value, str) or (required and not value.strip()):
            rule = "required, a non-empty string" if required else "must be a string"
            return _invalid(f"{field}.{key}", rule)
        if len(value) > limit:
            return _invalid(f"{field}.{key}", f"at most {limit} characters")
    if not _filled(article.get("coverImage")):
        return _invalid(f"{field}.coverImage", "required, a media id")
    if article.get("type") not in ARTICLE_TYPES:
        return _invalid(f"{field}.type", f"must be one of {', '.join(ARTICLE_TYPES)}")
    if not _filled(article.get("content")):
        return _invalid(f"{field}.content", "required, a non-empty string")
    if "coverImageInContent" in article and not isinstance(article["coverImageInContent"], bool):
        return _invalid(f"{field}.coverImageInContent", "must be true or false")
    return None


def _check_articles(articles: list[Any]) -> Rejection | None:
    if not 1 <= len(articles) <= MAX_ARTICLES:
        return _invalid("articles", f"1 to {MAX_ARTICLES} items")
    for i, article in enumerate(articles):
        rejection = _check_article(article, f"articles[{i}]")
        if rejection is not None:
            return rejection
    return None


def check_send(body: dict[str, Any], *, style: str, needs_service_id: bool) -> Rejection | None:
    """First broken rule of a send body: recipients, msgType, payload, payload fields, then serviceId."""
    rejection = check_recipients(body, style)
    if rejection is not None:
        return rejection
    msg_type = body.get("msgType")
    if not isinstance(msg_type, str) or msg_type not in MSG_TYPES:
        return Rejection(MSG_TYPE_INVALID, f"msgType must be one of {', '.join(MSG_TYPES)}")
    payload = body.get(msg_type)
    expected = list if msg_type == "articles" else dict
    if not isinstance(payload, expected):
        return Rejection(MSG_TYPE_UNSUPPORTED, f"no {msg_type} payload for msgType {msg_type}")
    if msg_type == "text":
        rejection = _check_text(payload)
    elif msg_type == "composite":
        rejection = _check_composite(payload)
    else:
        rejection = _check_articles(payload)
    if rejection is None and needs_service_id and not _filled(body.get("serviceId")):
        rejection = _invalid("serviceId", "required for a service-account send")
    return rejection


def check_revoke(body: dict[str, Any]) -> Rejection | None:
    for key in ("serviceId", "messageId"):
        if not _filled(body.get(key)):
            return _invalid(key, "required, a non-empty string")
    return None


def check_mobile(body: dict[str, Any]) -> Rejection | None:
    if not _filled(body.get("mobile")):
        return _invalid("mobile", "required, a non-empty string")
    return None


def check_open_user_id(body: dict[str, Any]) -> Rejection | None:
    value = body.get("openUserId")
    if not isinstance(value, str) or OPEN_USER_ID_RE.fullmatch(value) is None:
        return _invalid("openUserId", "required, an open user id FSUID_...")
    return None


def check_simple_list(body: dict[str, Any]) -> Rejection | None:
    department_id = body.get("departmentId")
    if isinstance(department_id, bool) or not isinstance(department_id, int):
        return _invalid("departmentId", "required, a department id (a number)")
    if "fetchChild" in body and not isinstance(body["fetchChild"], bool):
        return _invalid("fetchChild", "must be true or false")
    return None
