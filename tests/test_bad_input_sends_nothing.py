"""Bad input is refused with an error naming the field, before any request (not even a token call).

One row per place the hook checks its input; the rules themselves are tested where they live
(``test_messages.py``, ``test_connection.py``), so each row breaks just one of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError, FxiaokeInvalidInputError
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from tests.support import article, card

#: (id, send_message arguments changed from a valid text send, field the error names)
SEND_CASES = [
    ("msg_type", {"msg_type": "image"}, "msg_type"),
    ("text", {"message": "  "}, "message (text content)"),
    ("card", {"msg_type": "composite", "message": card(link=None)}, "message.link"),
    (
        "articles",
        {"msg_type": "articles", "message": [article(), article(coverImage="")]},
        "message[1].coverImage",
    ),
    ("recipients", {"to_users": []}, "to_users"),
    ("recipient id", {"to_users": ["1000", " "]}, "to_users[1]"),
    ("recipient kind", {"to_users": ["1000", "alice"]}, "to_users[1]"),
    ("service_id", {"service_id": " "}, "service_id"),
]

#: (id, revoke_message arguments, connection extras, field the error names)
REVOKE_CASES = [
    ("message_id", {"message_id": ""}, {}, "message_id"),
    # what "{{ ti.xcom_pull(..., key='message_ids')[0] }}" renders to when the send answer had none
    ("message_id rendered from None", {"message_id": "None"}, {}, "message_id"),
    ("service_id", {"message_id": "m1", "service_id": ""}, {}, "service_id"),
    ("no service_id anywhere", {"message_id": "m1"}, {"service_id": None}, "service_id"),
]


@pytest.mark.parametrize(("changes", "field"), [c[1:] for c in SEND_CASES], ids=[c[0] for c in SEND_CASES])
def test_bad_send_sends_nothing(sandbox, use_connection, changes: dict[str, Any], field: str) -> None:
    use_connection(sandbox)
    with pytest.raises(FxiaokeInvalidInputError) as info:
        FxiaokeHook().send_message(**{"to_users": ["1000"], "message": "hi", **changes})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    ("kwargs", "extra", "field"), [c[1:] for c in REVOKE_CASES], ids=[c[0] for c in REVOKE_CASES]
)
def test_bad_revoke_sends_nothing(sandbox, use_connection, kwargs: dict, extra: dict, field: str) -> None:
    use_connection(sandbox, **extra)
    with pytest.raises(FxiaokeInvalidInputError) as info:
        FxiaokeHook().revoke_message(**kwargs)
    assert info.value.field == field
    assert sandbox.requests() == []


def test_employee_ids_in_legacy_style_send_nothing(sandbox, use_connection) -> None:
    use_connection(sandbox, auth_style="legacy", user_id="")
    with pytest.raises(FxiaokeInvalidInputError) as info:
        FxiaokeHook().send_message(["FSUID_ops", "1000"], "hi")
    assert "to_users[1]: legacy auth style addresses people by open user ids (FSUID_...)" in str(info.value)
    assert sandbox.requests() == []


def test_bad_connection_sends_nothing(sandbox, use_connection) -> None:
    use_connection(sandbox, permanent_code="")
    with pytest.raises(FxiaokeConnectionConfigError) as info:
        FxiaokeHook().send_message(["1000"], "hi")
    assert "extra 'permanent_code': is required" in str(info.value)
    assert sandbox.requests() == []
