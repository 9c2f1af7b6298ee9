"""The provider's pytest plugin, used the way a user's project uses it: pytest in a subprocess.

``tests/user_project`` is a small project of its own (a DAG, a test, a ``pytest.ini``); it names no
plugin, so the ``fxiaoke_sandbox`` fixture must come from the installed ``pytest11`` entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

USER_PROJECT = Path(__file__).resolve().parent / "user_project"


def _pytest(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=USER_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow  # starts processes
def test_user_project_tests_its_dag_with_the_sandbox_fixture():
    run = _pytest()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout


def test_without_the_plugin_the_fixture_does_not_exist():
    """The fixture really comes from the plugin: disabling it by its entry-point name breaks the tests."""
    run = _pytest("-p", "no:fxiaoke")
    assert run.returncode != 0
    assert "fixture 'fxiaoke_sandbox' not found" in run.stdout
