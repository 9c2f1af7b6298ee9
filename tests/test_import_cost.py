"""DAG files that use the operator or the notifier must not pay for the HTTP stack at parse time.

Counts modules, not seconds: a fresh interpreter imports Airflow's own base classes, then the
operator and notifier modules, and reports which heavy modules each step loaded. Airflow itself
already loads some of them (``tenacity`` and ``httpx`` in Airflow 3's task SDK, ``requests`` in
Airflow 2.11), so what matters is that the provider's import adds none; the hook must not be loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("requests", "urllib3", "tenacity")
pytestmark = pytest.mark.slow  # a fresh interpreter that imports Airflow

PROVIDER_LAZY = (
    "fxiaoke_provider.hooks.fxiaoke",
    "fxiaoke_provider.gateway.transport",
    "fxiaoke_provider.gateway.retry",
)

CHILD = """
import json, sys
import airflow
if int(airflow.__version__.split(".")[0]) >= 3:
    from airflow.sdk import BaseHook, BaseNotifier, BaseOperator
else:
    from airflow.hooks.base import BaseHook
    from airflow.models.baseoperator import BaseOperator
    from airflow.notifications.basenotifier import BaseNotifier
watched = {watched!r}
def loaded():
    return sorted(name for name in watched if name in sys.modules)
snapshots = {{"airflow_base": loaded()}}
import fxiaoke_provider.operators.fxiaoke
import fxiaoke_provider.notifications.fxiaoke
snapshots["operator_and_notifier"] = loaded()
import fxiaoke_provider.hooks.fxiaoke
snapshots["hook"] = loaded()
import fxiaoke_provider.gateway.transport
snapshots["first_send"] = loaded()
print(json.dumps(snapshots))
"""


@pytest.fixture(scope="module")
def snapshots() -> dict[str, list[str]]:
    """Which watched modules were in ``sys.modules`` after each import step, in a fresh interpreter."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    code = CHILD.format(watched=HEAVY + PROVIDER_LAZY)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_operator_and_notifier_import_no_heavy_module(snapshots: dict[str, list[str]]) -> None:
    added = set(snapshots["operator_and_notifier"]) - set(snapshots["airflow_base"])
    assert added == set(), f"importing the operator/notifier loaded {sorted(added)}"


@pytest.mark.parametrize("module", PROVIDER_LAZY)
def test_hook_and_http_layers_stay_unloaded(snapshots: dict[str, list[str]], module: str) -> None:
    assert module not in snapshots["operator_and_notifier"]


def test_importing_the_hook_defers_the_http_stack(snapshots: dict[str, list[str]]) -> None:
    """DAG files may import the hook at the top (e.g. for a ``@task``); the HTTP layer waits for a send."""
    added = set(snapshots["hook"]) - set(snapshots["airflow_base"])
    assert added.isdisjoint({"requests", "urllib3", "fxiaoke_provider.gateway.transport"}), sorted(added)


def test_the_check_sees_what_a_send_loads(snapshots: dict[str, list[str]]) -> None:
    """Control: the same probe does see the HTTP stack once a task imports what its first send needs."""
    expected = {"requests", "urllib3", "fxiaoke_provider.hooks.fxiaoke", "fxiaoke_provider.gateway.transport"}
    assert expected <= set(snapshots["first_send"])
