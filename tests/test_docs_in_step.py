"""Documentation that states facts the code also states, kept in step by tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from fxiaoke_provider.sandbox import ASSUMPTIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("assumption", ASSUMPTIONS)
def test_every_sandbox_assumption_is_on_the_assumptions_page(assumption: str) -> None:
    page = (ROOT / "docs" / "assumptions.md").read_text(encoding="utf-8")
    assert f"- {assumption}\n" in page, "docs/assumptions.md lists the sandbox's ASSUMPTIONS verbatim"


def test_readme_auth_style_table_names_each_style_and_its_ids() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| `auth_style` | acting `user_id` | `to_users` |") :].split("\n\n")[0]
    header_row = next(line for line in table.splitlines() if line.startswith("| `header`"))
    legacy_row = next(line for line in table.splitlines() if line.startswith("| `legacy`"))
    assert "digits" in header_row and "convertUserId" in header_row
    assert "`FSUID_...` open ids only" in legacy_row and "optional" in legacy_row
