"""The Chinese README covers what the English one does: operators, connection extras, commands."""

from __future__ import annotations

import re

import pytest

from fxiaoke_provider.connection.extras import EXTRA_FIELDS
from tests.support import ROOT

READMES = {"en": ROOT / "README.md", "zh-CN": ROOT / "README.zh-CN.md"}
#: The English README is the short front page; the connection's extras are on the page it links.
ENGLISH_CONNECTION_PAGE = ROOT / "docs" / "connection.md"


def _text(language: str) -> str:
    return READMES[language].read_text(encoding="utf-8")


def _english_docs() -> str:
    return _text("en") + ENGLISH_CONNECTION_PAGE.read_text(encoding="utf-8")


def _named(text: str) -> dict[str, set[str]]:
    return {
        "classes": set(re.findall(r"\bFxiaoke\w*(?:Operator|Notifier|Hook)\b", text)),
        "extras": {key for key in EXTRA_FIELDS if f"`{key}`" in text},
        "commands": set(re.findall(r"bash scripts/[\w.-]+\.sh", text)),
    }


def test_both_readmes_name_the_same_operators_extras_and_commands():
    english, chinese = _named(_english_docs()), _named(_text("zh-CN"))
    assert chinese["classes"] == english["classes"]
    assert chinese["extras"] == english["extras"] == set(EXTRA_FIELDS)  # the form table's keys
    # the two commands of the quick start in both; maintenance commands may stay English-only
    assert {"bash scripts/demo.sh", "bash scripts/test.sh"} <= chinese["commands"] <= english["commands"]
    assert {"FxiaokeSendMessageOperator", "FxiaokeRevokeMessageOperator", "FxiaokeNotifier"} <= (
        english["classes"]
    )


@pytest.mark.parametrize(("language", "other"), [("en", "README.zh-CN.md"), ("zh-CN", "README.md")])
def test_each_readme_links_the_other(language, other):
    assert f"]({other})" in _text(language)


def test_chinese_readme_explains_both_auth_styles_and_installs_the_renamed_distribution():
    text = _text("zh-CN")
    assert "pip install fxiaoke-provider" in text
    assert "`header`" in text and "`legacy`" in text
    assert "`1000`" in text and "FSUID_" in text
