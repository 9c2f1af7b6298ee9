"""Message bodies for the send endpoints, checked against the gateway's rules before anything is sent.

Pure functions without I/O or Airflow imports, so operators can validate at construction time
and DAG files stay cheap to parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.gateway import protocol
from fxiaoke_provider.messaging import wire

#: Kept for callers of earlier versions; the wire name lives in ``gateway.protocol``.
OPEN_USER_ID_PREFIX = protocol.OPEN_USER_ID_PREFIX


def check_msg_type(msg_type: object) -> str:
    if msg_type not in wire.MSG_TYPES:
        raise FxiaokeInvalidInputError(
            "msg_type", f"must be one of {', '.join(wire.MSG_TYPES)}; got {msg_type!r}"
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
    return _encodable(value, field)


def _encodable(value: str, field: str) -> str:
    """The body is UTF-8 JSON: a lone surrogate (a broken upstream string) cannot be sent at all."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise FxiaokeInvalidInputError(
            field, f"is not valid Unicode text (character {error.start} cannot be encoded as UTF-8)"
        ) from None
    return value


def _check_encodable_tree(value: object, field: str) -> None:
    """Every string anywhere in a message, including keys and fields no rule names, must be UTF-8."""
    if isinstance(value, str):
        _encodable(value, field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_encodable_tree(key, field)
            _check_encodable_tree(item, f"{field}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_encodable_tree(item, f"{field}[{i}]")


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise FxiaokeInvalidInputError(field, f"must be a dict; got {type(value).__name__}")
    return value


def _text_fields(message: object) -> dict[str, Any]:
    content_key = wire.TEXT_CONTENT_FIELD
    if isinstance(message, Mapping):  # the gateway's own {"content": ...} shape is accepted too
        message = message.get(content_key)
    return {"text": {content_key: _required_text(message, "message (text content)")}}


def _composite_fields(message: object) -> dict[str, Any]:
    card = _mapping(message, "message (composite card)")
    for part, key in wire.COMPOSITE_REQUIRED:
        _required_text(_mapping(card.get(part), f"message.{part}").get(key), f"message.{part}.{key}")
    for part, key in wire.COMPOSITE_OPTIONAL_TEXT:
        if part in card:
            _limited_text(_mapping(card[part], f"message.{part}").get(key, ""), f"message.{part}.{key}", None)
    form_key = wire.COMPOSITE_FORM_FIELD
    if form_key in card:
        rows = card[form_key]
        if not isinstance(rows, Sequence) or isinstance(rows, str):
            raise FxiaokeInvalidInputError(f"message.{form_key}", "must be a list of {label, value} rows")
        for i, row in enumerate(rows):
            row = _mapping(row, f"message.{form_key}[{i}]")
            for key in wire.COMPOSITE_FORM_ROW_FIELDS:
                _limited_text(row.get(key, ""), f"message.{form_key}[{i}].{key}", None)
    return {"composite": dict(card)}


def _article(item: object, i: int) -> dict[str, Any]:
    field = f"message[{i}]"
    article = _mapping(item, field)
    _required_text(article.get("title"), f"{field}.title", wire.ARTICLE_TITLE_MAX)
    if "author" in article:
        _limited_text(article["author"], f"{field}.author", wire.ARTICLE_AUTHOR_MAX)
    if "description" in article:
        _limited_text(article["description"], f"{field}.description", wire.ARTICLE_DESCRIPTION_MAX)
    _required_text(article.get(wire.ARTICLE_COVER_FIELD), f"{field}.{wire.ARTICLE_COVER_FIELD}")
    article_type = article.get("type")
    if article_type not in wire.ARTICLE_TYPES:
        raise FxiaokeInvalidInputError(
            f"{field}.type", f"must be one of {', '.join(wire.ARTICLE_TYPES)}; got {article_type!r}"
        )
    _required_text(article.get("content"), f"{field}.content")
    in_content = wire.ARTICLE_COVER_IN_CONTENT_FIELD
    if in_content in article:
        if not isinstance(article[in_content], bool):
            raise FxiaokeInvalidInputError(f"{field}.{in_content}", "must be true or false")
        if article[in_content] and article_type != wire.ARTICLE_TEXT_TYPE:
            raise FxiaokeInvalidInputError(
                f"{field}.{in_content}", f"only allowed for type {wire.ARTICLE_TEXT_TYPE}"
            )
    return dict(article)


def _articles_fields(message: object) -> dict[str, Any]:
    if not isinstance(message, Sequence) or isinstance(message, str):
        raise FxiaokeInvalidInputError("message (articles)", "must be a list of article dicts")
    if not 1 <= len(message) <= wire.MAX_ARTICLES:
        raise FxiaokeInvalidInputError(
            "message (articles)", f"1 to {wire.MAX_ARTICLES} articles; got {len(message)}"
        )
    return {"articles": [_article(item, i) for i, item in enumerate(message)]}


_BUILDERS = {"text": _text_fields, "composite": _composite_fields, "articles": _articles_fields}


def build_message_fields(msg_type: str, message: object) -> dict[str, Any]:
    """Body fields for one message (``msgType`` plus its payload); raises on any broken rule."""
    msg_type = check_msg_type(msg_type)
    payload = _BUILDERS[msg_type](message)
    _check_encodable_tree(payload, "message")
    return {wire.MSG_TYPE_FIELD: msg_type, **payload}


def check_recipients(to_users: object, field: str = "to_users") -> list[str]:
    """Recipients as the gateway wants them: a non-empty list of ids, each person once.

    Ids are trimmed, then de-duplicated (first occurrence wins, order kept): a person listed twice,
    or in two batches of a split send, would otherwise get the message twice. Integers are accepted
    as employee ids because that is how they usually sit in CRM exports. Which id kinds the auth
    style accepts is checked by ``recipient_groups`` once the connection is known.
    """
    return dedupe_recipients(to_users, field)[0]


def dedupe_recipients(to_users: object, field: str = "to_users") -> tuple[list[str], int]:
    """``check_recipients`` plus how many repeated ids were dropped (for the log)."""
    if isinstance(to_users, (str, bytes)) or not isinstance(to_users, Sequence):
        raise FxiaokeInvalidInputError(field, f"must be a list of ids; got {type(to_users).__name__}")
    if not to_users:
        raise FxiaokeInvalidInputError(field, "must contain at least one id")
    recipients: dict[str, None] = {}
    for i, user in enumerate(to_users):
        if isinstance(user, int) and not isinstance(user, bool):
            user = str(user)
        if not isinstance(user, str) or not user.strip():
            raise FxiaokeInvalidInputError(f"{field}[{i}]", f"must be a non-empty string; got {user!r}")
        recipients.setdefault(_encodable(user.strip(), f"{field}[{i}]"))
    return list(recipients), len(to_users) - len(recipients)


def is_open_user_id(user: str) -> bool:
    return user.startswith(protocol.OPEN_USER_ID_PREFIX)


@dataclass(frozen=True)
class RecipientGroup:
    """Recipients of one id kind; ``convert_user_id`` asks the gateway to read them as open ids."""

    ids: tuple[str, ...]
    convert_user_id: bool = False

    def body_fields(self, chunk: Sequence[str]) -> dict[str, Any]:
        fields: dict[str, Any] = {wire.TO_USER_FIELD: list(chunk)}
        if self.convert_user_id:
            fields[wire.CONVERT_USER_ID_FIELD] = True
        return fields


def recipient_groups(
    recipients: Sequence[str], auth_style: str, field: str = "to_users"
) -> list[RecipientGroup]:
    """Split recipients by id kind, each kind sent in its own request(s), as the auth style requires.

    Header style: CRM employee ids (digits) as they are; ``FSUID_...`` open ids with ``convertUserId``.
    Legacy style: only ``FSUID_...`` open ids, sent as they are (every public legacy client does so).
    """
    if auth_style == protocol.LEGACY_STYLE:
        for i, user in enumerate(recipients):
            if not is_open_user_id(user):
                raise FxiaokeInvalidInputError(
                    f"{field}[{i}]",
                    "legacy auth style addresses people by open user ids "
                    f"({protocol.OPEN_USER_ID_PREFIX}...); got {user!r} "
                    "(use auth_style 'header' for CRM employee ids)",
                )
        return [RecipientGroup(tuple(recipients))]
    employees: list[str] = []
    open_ids: list[str] = []
    for i, user in enumerate(recipients):
        if is_open_user_id(user):
            open_ids.append(user)
        elif user.isdigit():
            employees.append(user)
        else:
            raise FxiaokeInvalidInputError(
                f"{field}[{i}]",
                f"must be a CRM employee id made of digits or an open user id "
                f"({protocol.OPEN_USER_ID_PREFIX}...); got {user!r}",
            )
    groups = [RecipientGroup(tuple(employees))] if employees else []
    if open_ids:
        groups.append(RecipientGroup(tuple(open_ids), convert_user_id=True))
    return groups


def uses_open_user_ids(recipients: Sequence[str]) -> bool:
    """True when every recipient is an ``FSUID_...`` open id."""
    return bool(recipients) and all(is_open_user_id(user) for user in recipients)


def check_id(value: object, field: str) -> str:
    """An id the gateway needs as a non-empty string (service id, message id)."""
    return _required_text(value, field).strip()


def batches(recipients: Sequence[str], size: int = wire.MAX_RECIPIENTS_PER_REQUEST) -> Iterator[list[str]]:
    """Recipients in request-sized slices, in the order given."""
    for start in range(0, len(recipients), size):
        yield list(recipients[start : start + size])


def crm_record_link(object_api_name: str, record_id: str) -> str:
    """In-app link that opens a CRM record, for a card's ``link.url`` (e.g. ``AccountObj``)."""
    _required_text(object_api_name, "object_api_name")
    _required_text(record_id, "record_id")
    target = json.dumps({"objDescApiName": object_api_name, "objDataId": record_id}, separators=(",", ":"))
    return wire.CRM_RECORD_LINK_PREFIX + target


def recipients_from_rendered(value: object, field: str = "to_users") -> object:
    """Templated ``to_users`` may render to text: a JSON list or comma-separated ids become a list."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise FxiaokeInvalidInputError(
                field, f"rendered to text that is not a JSON list: {text[:80]!r}"
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
