"""Message bodies for the send endpoints, checked against the gateway's rules before anything is sent.

Pure functions without I/O or Airflow imports, so operators can validate at construction time
and DAG files stay cheap to parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from fxiaoke_provider import protocol
from fxiaoke_provider.exceptions import FxiaokeInvalidInputError

OPEN_USER_ID_PREFIX = "FSUID_"


def check_msg_type(msg_type: object) -> str:
    if msg_type not in protocol.MSG_TYPES:
        raise FxiaokeInvalidInputError(
            "msg_type", f"must be one of {', '.join(protocol.MSG_TYPES)}; got {msg_type!r}"
        )
    return str(msg_type)


def _required_text(value: object, field: str, max_len: int | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FxiaokeInvalidInputError(field, "required, a non-empty string")
    return _limited_text(value, field, max_len)


def _limited_text(value: object, field: str, max_len: int | None) -> str:
    if not isinstance(value, str):
        raise FxiaokeInvalidInputError(field, f"must be a string; got {type(value).__name__}")
    if max_len is not None and len(value) > max_len:
        raise FxiaokeInvalidInputError(field, f"at most {max_len} characters; got {len(value)}")
    return value


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FxiaokeInvalidInputError(field, f"must be a dict; got {type(value).__name__}")
    return value


def _text_fields(message: object) -> dict[str, Any]:
    if isinstance(message, Mapping):  # the gateway's own {"content": ...} shape is accepted too
        message = message.get("content")
    return {"text": {"content": _required_text(message, "message (text content)")}}


def _composite_fields(message: object) -> dict[str, Any]:
    card = _mapping(message, "message (composite card)")
    _required_text(_mapping(card.get("head"), "message.head").get("title"), "message.head.title")
    link = _mapping(card.get("link"), "message.link")
    _required_text(link.get("title"), "message.link.title")
    _required_text(link.get("url"), "message.link.url")
    if "first" in card:
        _limited_text(
            _mapping(card["first"], "message.first").get("content", ""), "message.first.content", None
        )
    if "remark" in card:
        _limited_text(
            _mapping(card["remark"], "message.remark").get("content", ""), "message.remark.content", None
        )
    if "form" in card:
        rows = card["form"]
        if not isinstance(rows, Sequence) or isinstance(rows, str):
            raise FxiaokeInvalidInputError("message.form", "must be a list of {label, value} rows")
        for i, row in enumerate(rows):
            row = _mapping(row, f"message.form[{i}]")
            for key in ("label", "value"):
                _limited_text(row.get(key, ""), f"message.form[{i}].{key}", None)
    return {"composite": dict(card)}


def _article(item: object, i: int) -> dict[str, Any]:
    field = f"message[{i}]"
    article = _mapping(item, field)
    _required_text(article.get("title"), f"{field}.title", protocol.ARTICLE_TITLE_MAX)
    if "author" in article:
        _limited_text(article["author"], f"{field}.author", protocol.ARTICLE_AUTHOR_MAX)
    if "description" in article:
        _limited_text(article["description"], f"{field}.description", protocol.ARTICLE_DESCRIPTION_MAX)
    _required_text(article.get("coverImage"), f"{field}.coverImage")
    article_type = article.get("type")
    if article_type not in protocol.ARTICLE_TYPES:
        raise FxiaokeInvalidInputError(
            f"{field}.type", f"must be one of {', '.join(protocol.ARTICLE_TYPES)}; got {article_type!r}"
        )
    _required_text(article.get("content"), f"{field}.content")
    if "coverImageInContent" in article:
        if not isinstance(article["coverImageInContent"], bool):
            raise FxiaokeInvalidInputError(f"{field}.coverImageInContent", "must be true or false")
        if article["coverImageInContent"] and article_type != "TEXT":
            raise FxiaokeInvalidInputError(f"{field}.coverImageInContent", "only allowed for type TEXT")
    return dict(article)


def _articles_fields(message: object) -> dict[str, Any]:
    if not isinstance(message, Sequence) or isinstance(message, str):
        raise FxiaokeInvalidInputError("message (articles)", "must be a list of article dicts")
    if not 1 <= len(message) <= protocol.MAX_ARTICLES:
        raise FxiaokeInvalidInputError(
            "message (articles)", f"1 to {protocol.MAX_ARTICLES} articles; got {len(message)}"
        )
    return {"articles": [_article(item, i) for i, item in enumerate(message)]}


_BUILDERS = {"text": _text_fields, "composite": _composite_fields, "articles": _articles_fields}


def build_message_fields(msg_type: str, message: object) -> dict[str, Any]:
    """Body fields for one message (``msgType`` plus its payload); raises on any broken rule."""
    msg_type = check_msg_type(msg_type)
    return {"msgType": msg_type, **_BUILDERS[msg_type](message)}


def check_recipients(to_users: object) -> list[str]:
    """Recipients as the gateway wants them: a non-empty list of non-empty id strings.

    Integers are accepted as employee ids because that is how they usually sit in CRM exports.
    """
    if isinstance(to_users, (str, bytes)) or not isinstance(to_users, Sequence):
        raise FxiaokeInvalidInputError(
            "to_users", f"must be a list of employee ids; got {type(to_users).__name__}"
        )
    if not to_users:
        raise FxiaokeInvalidInputError("to_users", "must contain at least one employee id")
    recipients: list[str] = []
    for i, user in enumerate(to_users):
        if isinstance(user, int) and not isinstance(user, bool):
            user = str(user)
        if not isinstance(user, str) or not user.strip():
            raise FxiaokeInvalidInputError(f"to_users[{i}]", f"must be a non-empty string; got {user!r}")
        recipients.append(user.strip())
    open_ids = sum(user.startswith(OPEN_USER_ID_PREFIX) for user in recipients)
    if 0 < open_ids < len(recipients):
        raise FxiaokeInvalidInputError(
            "to_users", f"mixes {OPEN_USER_ID_PREFIX}... open ids with employee ids; use one kind per send"
        )
    return recipients


def uses_open_user_ids(recipients: Sequence[str]) -> bool:
    """True when the gateway must be told to convert ``FSUID_...`` open ids (``convertUserId``)."""
    return bool(recipients) and recipients[0].startswith(OPEN_USER_ID_PREFIX)


def check_id(value: object, field: str) -> str:
    """An id the gateway needs as a non-empty string (service id, message id)."""
    return _required_text(value, field).strip()


def batches(
    recipients: Sequence[str], size: int = protocol.MAX_RECIPIENTS_PER_REQUEST
) -> Iterator[list[str]]:
    """Recipients in request-sized slices, in the order given."""
    for start in range(0, len(recipients), size):
        yield list(recipients[start : start + size])


def crm_record_link(object_api_name: str, record_id: str) -> str:
    """In-app link that opens a CRM record, for a card's ``link.url`` (e.g. ``AccountObj``)."""
    _required_text(object_api_name, "object_api_name")
    _required_text(record_id, "record_id")
    target = json.dumps({"objDescApiName": object_api_name, "objDataId": record_id}, separators=(",", ":"))
    return protocol.CRM_RECORD_LINK_PREFIX + target


def recipients_from_rendered(value: object) -> object:
    """Templated ``to_users`` may render to text: a JSON list or comma-separated ids become a list."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise FxiaokeInvalidInputError(
                "to_users", f"rendered to text that is not a JSON list: {text[:80]!r}"
            ) from None
    return [part.strip() for part in text.split(",") if part.strip()]


def has_template(value: object) -> bool:
    """True when a value still holds Jinja markup (or is not plain data yet), so rules wait for rendering."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(has_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_template(v) for v in value)
    return not isinstance(value, (int, float, bool, type(None)))
