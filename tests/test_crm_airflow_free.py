"""The CRM package works without Airflow: it imports nothing of it, directly or through the provider.

Checked twice: statically (every import in ``fxiaoke_provider/crm`` is the standard library, the
package itself, the gateway core or the public errors), and at run time in a fresh interpreter
where ``airflow`` cannot be imported at all.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.support import ROOT

CRM = ROOT / "fxiaoke_provider" / "crm"
#: The capability, the public errors, the state-store protocol and the Airflow-free gateway core.
ALLOWED_PROVIDER_MODULES = (
    "fxiaoke_provider.crm",
    "fxiaoke_provider.exceptions",
    "fxiaoke_provider.gateway",
    "fxiaoke_provider.state_store",
)

BLOCK_AIRFLOW = """
import sys
class _NoAirflow:
    def find_spec(self, name, path=None, target=None):
        if name == "airflow" or name.startswith("airflow."):
            raise ImportError("airflow is not installed here")
sys.meta_path.insert(0, _NoAirflow())
try:
    import {precondition}
except ImportError:
    sys.exit(3)
import fxiaoke_provider.crm
assert not any(name == "airflow" or name.startswith("airflow.") for name in sys.modules)
"""


def imported_modules(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_crm_imports_only_the_standard_library_itself_and_the_errors() -> None:
    files = sorted(CRM.glob("*.py"))
    assert files
    for path in files:
        for name in imported_modules(path.read_text(encoding="utf-8")):
            top = name.split(".")[0]
            if top == "fxiaoke_provider":
                assert name.startswith(ALLOWED_PROVIDER_MODULES), f"{path.name} imports {name}"
            else:
                assert top in sys.stdlib_module_names, f"{path.name} imports {name}"


def test_crm_imports_in_an_interpreter_without_airflow() -> None:
    code = BLOCK_AIRFLOW.format(precondition="fxiaoke_provider.exceptions")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode == 3:
        pytest.skip("fxiaoke_provider.exceptions still imports Airflow")
    assert result.returncode == 0, result.stderr[-2000:]
