"""The user's test: run the DAG against the provider's sandbox and read the alert it received."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def load_dag(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def test_failure_alert_reaches_the_data_team(fxiaoke_sandbox, request):
    assert request.config.pluginmanager.get_plugin("fxiaoke") is not None  # via the entry point
    assert fxiaoke_sandbox.conn_id == "fxiaoke_default"

    load_dag(Path(__file__).parent / "dags" / "contracts_alerts.py").test()

    [message] = fxiaoke_sandbox.messages()
    assert message["toUser"] == ["1000"]
    [text] = fxiaoke_sandbox.texts()
    assert "任务 load_contracts 执行失败" in text
    assert "原因：RuntimeError: CRM export is empty" in text  # noqa: RUF001


def test_each_test_gets_a_fresh_gateway(fxiaoke_sandbox):
    assert fxiaoke_sandbox.messages() == []
    assert fxiaoke_sandbox.url.startswith("http://127.0.0.1:")
