"""Every ```python block of the READMEs and docs/*.md compiles and imports what it imports.

Generic on purpose: it reads whatever markdown files exist. A block preceded by the line
``<!-- snippet: run -->`` is also executed, with ``fxiaoke_default`` pointing at a sandbox gateway.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS
from tests.support import ROOT

RUN_MARKER = "<!-- snippet: run -->"
_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)


def markdown_files() -> list[Path]:
    return [p for p in (ROOT / "README.md", ROOT / "README.zh-CN.md") if p.exists()] + sorted(
        (ROOT / "docs").glob("*.md")
    )


def snippets() -> list[tuple[str, str, bool]]:
    """``(id, code, run)`` for every python block, the id being ``file:line``."""
    found = []
    for path in markdown_files():
        text = path.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
            found.append((f"{path.relative_to(ROOT)}:{line}", match.group(1), before == RUN_MARKER))
    return found


SNIPPETS = snippets()


def test_there_are_snippets_to_check():
    assert len(SNIPPETS) >= 5
    assert any(run for _, _, run in SNIPPETS)


def _imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module != "__future__":
            imports.append((node.module or "", [alias.name for alias in node.names]))
    return imports


@pytest.mark.parametrize(("where", "code"), [(w, c) for w, c, _ in SNIPPETS], ids=[w for w, _, _ in SNIPPETS])
def test_snippet_compiles_and_its_imports_resolve(where, code):
    tree = ast.parse(code, filename=where)
    compile(tree, where, "exec")
    for module_name, names in _imports(tree):
        if module_name.startswith("airflow.sdk") and not AIRFLOW_V_3_0_PLUS:
            continue  # the Task SDK exists from Airflow 3 on; the docs say so where they use it
        module = importlib.import_module(module_name)
        for name in names:
            if not hasattr(module, name):
                importlib.import_module(f"{module_name}.{name}")  # a submodule, else ImportError


RUNNABLE = [(w, c) for w, c, run in SNIPPETS if run]


@pytest.mark.parametrize(("where", "code"), RUNNABLE, ids=[w for w, _ in RUNNABLE])
def test_marked_snippet_runs_against_the_sandbox(where, code, sandbox, use_connection):
    use_connection(sandbox)
    exec(compile(code, where, "exec"), {"__name__": "__snippet__"})
