"""Message bodies follow the gateway's documented rules, and a broken rule is reported before sending."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fxiaoke_provider.exceptions import FxiaokeInvalidInputError
from fxiaoke_provider.messaging import bodies as messages
from fxiaoke_provider.messaging.wire import (
    ARTICLE_AUTHOR_MAX,
    ARTICLE_DESCRIPTION_MAX,
    ARTICLE_TITLE_MAX,
    CRM_RECORD_LINK_PREFIX,
    MAX_ARTICLES,
    MAX_RECIPIENTS_PER_REQUEST,
)
from tests.support import article, card


def invalid(excinfo: pytest.ExceptionInfo[FxiaokeInvalidInputError], field: str, rule_words: str) -> None:
    """The error names the field path and the rule, both in its text and as attributes."""
    error = excinfo.value
    assert error.field == field
    assert rule_words in error.rule
    assert str(error).startswith(f"{field}: ")
    assert rule_words in str(error)


# --- msg_type ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("msg_type", ["text", "composite", "articles"])
def test_known_msg_types_pass(msg_type: str) -> None:
    assert messages.check_msg_type(msg_type) == msg_type


@pytest.mark.parametrize("msg_type", ["html", "TEXT", "", None, 1, "news"])
def test_unknown_msg_type_is_refused(msg_type: object) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields(msg_type, "hello")  # type: ignore[arg-type]
    invalid(excinfo, "msg_type", "must be one of text, composite, articles")


# --- text ---------------------------------------------------------------------------------------
def test_text_body() -> None:
    assert messages.build_message_fields("text", "disk full") == {
        "msgType": "text",
        "text": {"content": "disk full"},
    }


def test_text_accepts_the_gateway_shape() -> None:
    fields = messages.build_message_fields("text", {"content": "disk full"})
    assert fields["text"] == {"content": "disk full"}


@pytest.mark.parametrize("content", ["", "   ", None, {"content": ""}, {}, 42])
def test_empty_text_is_refused(content: object) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields("text", content)
    invalid(excinfo, "message (text content)", "required, a non-empty string")


# --- recipients ---------------------------------------------------------------------------------
def test_recipients_strings_and_ints() -> None:
    assert messages.check_recipients(["1000", 1001, " 1002 "]) == ["1000", "1001", "1002"]
    assert messages.check_recipients(("1000",)) == ["1000"]


@pytest.mark.parametrize(
    ("to_users", "field", "rule_words"),
    [
        ([], "to_users", "at least one id"),
        ((), "to_users", "at least one id"),
        ("1000", "to_users", "must be a list of ids; got str"),
        ("1000,1001", "to_users", "must be a list of ids; got str"),
        (b"1000", "to_users", "must be a list of ids"),
        (None, "to_users", "must be a list of ids; got NoneType"),
        (1000, "to_users", "must be a list of ids; got int"),
        (["1000", True], "to_users[1]", "must be a non-empty string; got True"),
        ([False], "to_users[0]", "must be a non-empty string"),
        (["1000", "1001", None], "to_users[2]", "must be a non-empty string; got None"),
        (["1000", ""], "to_users[1]", "must be a non-empty string"),
        (["   "], "to_users[0]", "must be a non-empty string"),
        ([1.5], "to_users[0]", "must be a non-empty string"),
    ],
)
def test_bad_recipients_are_refused(to_users: object, field: str, rule_words: str) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.check_recipients(to_users)
    invalid(excinfo, field, rule_words)


def test_header_style_sends_each_id_kind_in_its_own_group() -> None:
    groups = messages.recipient_groups(["1000", "FSUID_a", "1001", "FSUID_b"], "header")
    assert [(g.ids, g.convert_user_id) for g in groups] == [
        (("1000", "1001"), False),
        (("FSUID_a", "FSUID_b"), True),
    ]
    assert groups[1].body_fields(["FSUID_a"]) == {"toUser": ["FSUID_a"], "convertUserId": True}
    assert groups[0].body_fields(["1000"]) == {"toUser": ["1000"]}


def test_header_style_refuses_ids_of_no_known_kind() -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.recipient_groups(["1000", "alice"], "header")
    invalid(excinfo, "to_users[1]", "must be a CRM employee id made of digits or an open user id")


def test_legacy_style_addresses_open_ids_as_they_are() -> None:
    groups = messages.recipient_groups(["FSUID_a", "FSUID_b"], "legacy")
    assert [(g.ids, g.convert_user_id) for g in groups] == [(("FSUID_a", "FSUID_b"), False)]
    assert groups[0].body_fields(["FSUID_a"]) == {"toUser": ["FSUID_a"]}


def test_legacy_style_refuses_employee_ids() -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.recipient_groups(["FSUID_a", "1000"], "legacy")
    invalid(excinfo, "to_users[1]", "legacy auth style addresses people by open user ids (FSUID_...)")


def test_each_person_is_listed_once_first_occurrence_wins() -> None:
    recipients, dropped = messages.dedupe_recipients(["1001", " 1000", "1001", 1000, "FSUID_a", "FSUID_a "])
    assert recipients == ["1001", "1000", "FSUID_a"]
    assert dropped == 3
    assert messages.check_recipients(["1000", "1000"]) == ["1000"]


@pytest.mark.parametrize(
    ("msg_type", "message", "field"),
    [
        ("text", "broken \udc80 upstream", "message (text content)"),
        ("composite", card(remark={"content": "\ud800"}), "message.remark.content"),
        ("composite", card(extra={"note": "\udfff"}), "message.composite.extra.note"),
        ("articles", [article(title="\udc80")], "message[0].title"),
    ],
)
def test_text_that_cannot_be_utf8_is_invalid_input(msg_type, message, field) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields(msg_type, message)
    invalid(excinfo, field, "is not valid Unicode text")


def test_recipient_that_cannot_be_utf8_is_invalid_input() -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.check_recipients(["1000", "\udc80"])
    invalid(excinfo, "to_users[1]", "is not valid Unicode text")


def test_open_ids_ask_for_conversion() -> None:
    open_ids = messages.check_recipients(["FSUID_a", "FSUID_b"])
    assert messages.uses_open_user_ids(open_ids) is True
    assert messages.uses_open_user_ids(messages.check_recipients(["1000", 1001])) is False
    assert messages.uses_open_user_ids([]) is False


# --- composite ----------------------------------------------------------------------------------
def test_composite_body_keeps_every_part() -> None:
    fields = messages.build_message_fields("composite", card())
    assert fields == {"msgType": "composite", "composite": card()}


def test_composite_minimal_card_passes() -> None:
    minimal = {"head": {"title": "t"}, "link": {"title": "l", "url": "fs://x"}}
    assert messages.build_message_fields("composite", minimal)["composite"] == minimal


@pytest.mark.parametrize(
    ("broken", "field", "rule_words"),
    [
        ({"head": {}}, "message.head.title", "required"),
        ({"head": {"title": "  "}}, "message.head.title", "required"),
        ({"head": None}, "message.head", "must be a dict"),
        ({"link": {"url": "https://x.invalid"}}, "message.link.title", "required"),
        ({"link": {"title": "Open"}}, "message.link.url", "required"),
        ({"link": {"title": "Open", "url": ""}}, "message.link.url", "required"),
        ({"link": "https://x.invalid"}, "message.link", "must be a dict"),
        ({"form": "Company: ACME"}, "message.form", "list of {label, value} rows"),
        ({"form": [{"label": 1, "value": "x"}]}, "message.form[0].label", "must be a string"),
        ({"first": {"content": 5}}, "message.first.content", "must be a string"),
        ({"remark": "x"}, "message.remark", "must be a dict"),
    ],
)
def test_broken_composite_is_refused(broken: dict[str, Any], field: str, rule_words: str) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields("composite", card(**broken))
    invalid(excinfo, field, rule_words)


def test_composite_without_head_or_link_is_refused() -> None:
    without_head = {k: v for k, v in card().items() if k != "head"}
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields("composite", without_head)
    invalid(excinfo, "message.head", "must be a dict")
    without_link = {k: v for k, v in card().items() if k != "link"}
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields("composite", without_link)
    invalid(excinfo, "message.link", "must be a dict")
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields("composite", "a card as text")
    invalid(excinfo, "message (composite card)", "must be a dict")


# --- articles -----------------------------------------------------------------------------------
def test_articles_body() -> None:
    items = [article(), article(type="URL", content="https://x.invalid/a", title="Second")]
    assert messages.build_message_fields("articles", items) == {"msgType": "articles", "articles": items}


def test_article_count_boundaries() -> None:
    assert len(messages.build_message_fields("articles", [article()])["articles"]) == 1
    assert len(messages.build_message_fields("articles", [article()] * MAX_ARTICLES)["articles"]) == 7
    for count in (0, MAX_ARTICLES + 1):
        with pytest.raises(FxiaokeInvalidInputError) as excinfo:
            messages.build_message_fields("articles", [article()] * count)
        invalid(excinfo, "message (articles)", f"1 to 7 articles; got {count}")


@pytest.mark.parametrize("not_a_list", ["title", {"title": "x"}, None])
def test_articles_must_be_a_list(not_a_list: object) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields("articles", not_a_list)
    invalid(excinfo, "message (articles)", "must be a list of article dicts")


@pytest.mark.parametrize(
    ("key", "limit"),
    [("title", ARTICLE_TITLE_MAX), ("author", ARTICLE_AUTHOR_MAX), ("description", ARTICLE_DESCRIPTION_MAX)],
)
def test_article_length_boundaries(key: str, limit: int) -> None:
    assert (key, limit) in {("title", 45), ("author", 8), ("description", 140)}
    exact = [article(), article(), article(**{key: "字" * limit})]
    assert messages.build_message_fields("articles", exact)["articles"][2][key] == "字" * limit
    too_long = [article(), article(), article(**{key: "x" * (limit + 1)})]
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields("articles", too_long)
    invalid(excinfo, f"message[2].{key}", f"at most {limit} characters; got {limit + 1}")


@pytest.mark.parametrize(
    ("broken", "field", "rule_words"),
    [
        ({"title": None}, "message[1].title", "required"),
        ({"title": ""}, "message[1].title", "required"),
        ({"author": 7}, "message[1].author", "must be a string"),
        ({"coverImage": None}, "message[1].coverImage", "required"),
        ({"coverImage": ""}, "message[1].coverImage", "required"),
        ({"type": None}, "message[1].type", "must be one of TEXT, URL"),
        ({"type": "text"}, "message[1].type", "must be one of TEXT, URL"),
        ({"type": "HTML"}, "message[1].type", "must be one of TEXT, URL"),
        ({"content": None}, "message[1].content", "required"),
        ({"content": " "}, "message[1].content", "required"),
        ({"coverImageInContent": "yes"}, "message[1].coverImageInContent", "must be true or false"),
        ({"coverImageInContent": 1}, "message[1].coverImageInContent", "must be true or false"),
        (
            {"type": "URL", "content": "https://x.invalid", "coverImageInContent": True},
            "message[1].coverImageInContent",
            "only allowed for type TEXT",
        ),
    ],
)
def test_broken_article_is_refused(broken: dict[str, Any], field: str, rule_words: str) -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields("articles", [article(), article(**broken)])
    invalid(excinfo, field, rule_words)


def test_article_missing_required_keys_are_named() -> None:
    for key in ("title", "coverImage", "type", "content"):
        item = {k: v for k, v in article().items() if k != key}
        with pytest.raises(FxiaokeInvalidInputError) as excinfo:
            messages.build_message_fields("articles", [item])
        assert excinfo.value.field == f"message[0].{key}"


def test_article_optional_fields_and_cover_flag() -> None:
    bare = {"title": "t", "coverImage": "m", "type": "URL", "content": "https://x.invalid"}
    assert messages.build_message_fields("articles", [bare])["articles"] == [bare]
    with_cover = article(coverImageInContent=True)
    assert (
        messages.build_message_fields("articles", [with_cover])["articles"][0]["coverImageInContent"] is True
    )
    url_without_cover = dict(bare, coverImageInContent=False)
    assert messages.build_message_fields("articles", [url_without_cover])["articles"] == [url_without_cover]


def test_article_not_a_dict_is_named() -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.build_message_fields("articles", [article(), "oops"])
    invalid(excinfo, "message[1]", "must be a dict")


# --- ids and batches ----------------------------------------------------------------------------
def test_check_id() -> None:
    assert messages.check_id(" FSAID_svc ", "service_id") == "FSAID_svc"
    for bad in ("", "  ", None, 5):
        with pytest.raises(FxiaokeInvalidInputError) as excinfo:
            messages.check_id(bad, "service_id")
        assert excinfo.value.field == "service_id"


def test_batches_split_in_order() -> None:
    recipients = [str(10_000 + i) for i in range(1234)]
    chunks = list(messages.batches(recipients))
    assert [len(chunk) for chunk in chunks] == [500, 500, 234]
    assert chunks[0] == recipients[:500]
    assert chunks[1] == recipients[500:1000]
    assert chunks[2] == recipients[1000:]
    assert MAX_RECIPIENTS_PER_REQUEST == 500


def test_batches_edges() -> None:
    assert list(messages.batches([])) == []
    assert [len(c) for c in messages.batches(["1"] * 500)] == [500]
    assert [len(c) for c in messages.batches(["1"] * 501)] == [500, 1]
    assert list(messages.batches(["1", "2", "3"], size=2)) == [["1", "2"], ["3"]]


# --- helpers for templated operators -----------------------------------------------------------
def test_crm_record_link() -> None:
    link = messages.crm_record_link("AccountObj", "5f1e0c")
    assert link == 'fs://CRM/udobj?{"objDescApiName":"AccountObj","objDataId":"5f1e0c"}'
    assert link.startswith(CRM_RECORD_LINK_PREFIX)
    assert json.loads(link[len(CRM_RECORD_LINK_PREFIX) :]) == {
        "objDescApiName": "AccountObj",
        "objDataId": "5f1e0c",
    }
    for api_name, record_id, field in (("", "1", "object_api_name"), ("AccountObj", " ", "record_id")):
        with pytest.raises(FxiaokeInvalidInputError) as excinfo:
            messages.crm_record_link(api_name, record_id)
        assert excinfo.value.field == field


@pytest.mark.parametrize(
    ("rendered", "expected"),
    [
        ('["1000", "1001"]', ["1000", "1001"]),
        (" [1000, 1001] ", [1000, 1001]),
        ("1000,1001", ["1000", "1001"]),
        (" 1000 , 1001 ,, ", ["1000", "1001"]),
        ("1000", ["1000"]),
        ("", []),
        (["1000"], ["1000"]),
        (("1000",), ("1000",)),
        (None, None),
    ],
)
def test_recipients_from_rendered(rendered: object, expected: object) -> None:
    assert messages.recipients_from_rendered(rendered) == expected


def test_recipients_from_rendered_bad_json_names_the_field() -> None:
    with pytest.raises(FxiaokeInvalidInputError) as excinfo:
        messages.recipients_from_rendered("[1000, ")
    invalid(excinfo, "to_users", "not a JSON list")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ params.users }}", True),
        ("{% for u in users %}{{ u }}{% endfor %}", True),
        ({"head": {"title": "{{ ds }}"}}, True),
        ([article(), article(title="{{ ti.task_id }}")], True),
        (("1000", "{{ x }}"), True),
        (object(), True),
        ("plain text", False),
        ("{ not jinja }", False),
        (card(), False),
        ([article()], False),
        (1000, False),
        (None, False),
        (True, False),
    ],
)
def test_has_template(value: object, expected: bool) -> None:
    assert messages.has_template(value) is expected
