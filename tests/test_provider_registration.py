"""Airflow finds the provider the way it finds any provider: entry point, provider info, CLI.

The CLI checks run the venv's own ``airflow`` in subprocesses with the test's AIRFLOW_HOME, and
the connection test talks to the sandbox over loopback.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema
import pytest

import fxiaoke_provider
from fxiaoke_provider.airflow_support.version_compat import (
    AIRFLOW_V_3_0_PLUS,
    BaseNotifier,
    BaseSensorOperator,
)
from fxiaoke_provider.connection.form import CONN_FIELDS
from fxiaoke_provider.gateway.protocol import CREDENTIALS_REJECTED, SUCCESS, TOKEN_PATH
from fxiaoke_provider.get_provider_info import get_provider_info
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.notifications.fxiaoke import FxiaokeNotifier
from fxiaoke_provider.operators.crm import FxiaokeQueryOperator, FxiaokeUpsertRecordsOperator
from fxiaoke_provider.operators.fxiaoke import FxiaokeRevokeMessageOperator, FxiaokeSendMessageOperator
from fxiaoke_provider.sandbox import DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE
from fxiaoke_provider.sensors.crm import FxiaokeRecordSensor
from tests.support import connection_dict, requests_to

PACKAGE = "fxiaoke-provider"
AIRFLOW_BIN = Path(sys.executable).parent / "airflow"
AIRFLOW_SCHEMAS = Path(airflow.__file__).resolve().parent
JSON_SCHEMA_TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}
CLI_TIMEOUT_S = 300
#: Runtime provider-info fields Airflow 2's schema does not define yet (its providers manager ignores them).
FIELDS_AIRFLOW_2_DOES_NOT_DEFINE = {"integrations", "hooks", "operators", "sensors", "cli"}


def _import(dotted: str) -> object:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _airflow(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(AIRFLOW_BIN), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=CLI_TIMEOUT_S)
    return process.returncode, stdout, stderr


def _json_table(stdout: str) -> list[dict]:
    """The ``-o json`` table; warnings some versions print around it are skipped."""
    return json.loads(next(line for line in stdout.splitlines() if line.startswith("[")))


# --- provider info as data ------------------------------------------------------------------------
def test_provider_info_declares_integration_hooks_operators_sensors_notifier():
    info = get_provider_info()
    assert info["package-name"] == PACKAGE
    assert [i["integration-name"] for i in info["integrations"]] == ["Fxiaoke"]

    (hooks,) = info["hooks"]
    assert hooks["integration-name"] == "Fxiaoke"
    assert [importlib.import_module(m).FxiaokeHook for m in hooks["python-modules"]] == [FxiaokeHook]

    (operators,) = info["operators"]
    assert operators["integration-name"] == "Fxiaoke"
    messages, crm = (importlib.import_module(m) for m in operators["python-modules"])
    assert messages.FxiaokeSendMessageOperator is FxiaokeSendMessageOperator
    assert messages.FxiaokeRevokeMessageOperator is FxiaokeRevokeMessageOperator
    assert crm.FxiaokeQueryOperator is FxiaokeQueryOperator
    assert crm.FxiaokeUpsertRecordsOperator is FxiaokeUpsertRecordsOperator

    (sensors,) = info["sensors"]
    assert sensors["integration-name"] == "Fxiaoke"
    (sensor_module,) = (importlib.import_module(m) for m in sensors["python-modules"])
    assert sensor_module.FxiaokeRecordSensor is FxiaokeRecordSensor
    assert issubclass(FxiaokeRecordSensor, BaseSensorOperator)

    notifiers = [_import(name) for name in info["notifications"]]
    assert notifiers == [FxiaokeNotifier]
    assert issubclass(FxiaokeNotifier, BaseNotifier)


def test_provider_info_declares_the_fxiaoke_connection_type():
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == FxiaokeHook.conn_type == "fxiaoke"
    assert _import(conn_type["hook-class-name"]) is FxiaokeHook
    assert conn_type["hook-name"] == FxiaokeHook.hook_name

    behaviour = conn_type["ui-field-behaviour"]
    assert set(behaviour) == {"hidden-fields", "relabeling", "placeholders"}
    assert {"schema", "port"} <= set(behaviour["hidden-fields"])
    assert behaviour["relabeling"] == {"host": "OpenAPI Host", "login": "App ID", "password": "App Secret"}
    assert set(CONN_FIELDS) <= set(behaviour["placeholders"])

    fields = conn_type["conn-fields"]
    assert {"permanent_code", "user_id", "service_id", "auth_style"} <= set(fields)
    for name, spec in fields.items():
        assert spec["label"] and spec["description"], name
        types = spec["schema"]["type"]
        assert set(types if isinstance(types, list) else [types]) <= JSON_SCHEMA_TYPES, name
    assert fields["permanent_code"]["schema"]["format"] == "password"  # masked in the form


def test_provider_info_validates_against_airflows_own_schemas():
    info = get_provider_info()
    runtime_schema = json.loads((AIRFLOW_SCHEMAS / "provider_info.schema.json").read_text())
    jsonschema.validate(info, runtime_schema)
    # The runtime schema lets unknown fields through, and nothing reads them (``versions`` was one).
    unknown = set(info) - set(runtime_schema["properties"])
    assert unknown == (set() if AIRFLOW_V_3_0_PLUS else FIELDS_AIRFLOW_2_DOES_NOT_DEFINE & set(info))
    yaml_schema = json.loads((AIRFLOW_SCHEMAS / "provider.yaml.schema.json").read_text())
    connection_types = yaml_schema["properties"]["connection-types"]
    if "conn-fields" not in connection_types["items"]["properties"]:
        pytest.skip("this Airflow reads the form from the hook's widgets, not from conn-fields")
    jsonschema.validate(info["connection-types"], connection_types)


def test_entry_point_resolves_to_get_provider_info():
    (entry_point,) = [
        ep
        for ep in importlib.metadata.entry_points(group="apache_airflow_provider")
        if ep.dist is not None and ep.dist.metadata["Name"].replace("_", "-").lower() == PACKAGE
    ]
    assert entry_point.value == "fxiaoke_provider.get_provider_info:get_provider_info"
    assert entry_point.load()() == get_provider_info()


def test_providers_manager_registers_hook_form_and_notifier():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.providers[PACKAGE].version == fxiaoke_provider.__version__
    if AIRFLOW_V_3_0_PLUS:  # hooks are looked up by the task runtime there
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hook = ProvidersManagerTaskRuntime().hooks["fxiaoke"]
    else:
        hook = manager.hooks["fxiaoke"]
    assert hook is not None
    assert (hook.hook_class_name, hook.hook_name, hook.package_name) == (
        "fxiaoke_provider.hooks.fxiaoke.FxiaokeHook",
        "Fxiaoke (ShareCRM)",
        PACKAGE,
    )
    assert hook.connection_testable
    assert manager.field_behaviours["fxiaoke"]["relabeling"]["password"] == "App Secret"
    # Airflow 3 builds these from conn-fields, Airflow 2 from the hook's wtforms widgets
    widgets = {
        key: w for key, w in manager.connection_form_widgets.items() if key.startswith("extra__fxiaoke__")
    }
    assert set(widgets) == {f"extra__fxiaoke__{name}" for name in CONN_FIELDS}
    assert widgets["extra__fxiaoke__permanent_code"].is_sensitive
    assert "fxiaoke_provider.notifications.fxiaoke.FxiaokeNotifier" in manager.notification


# --- the distribution's metadata -------------------------------------------------------------------
# Imported only by the Airflow 2 webserver's connection form, which ships them with Airflow itself.
AIRFLOW_2_WEBSERVER_MODULES = {"flask_appbuilder", "flask_babel", "wtforms"}
# Imported only by the pytest plugin (fxiaoke_provider.testing), which pytest itself loads.
PYTEST_PLUGIN_MODULES = {"pytest"}


def _third_party_imports() -> set[str]:
    """Top-level modules the package imports that are neither its own nor the standard library."""
    modules: set[str] = set()
    for path in Path(fxiaoke_provider.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"fxiaoke_provider"}


def test_every_third_party_import_is_a_declared_dependency():
    distribution = importlib.metadata.distribution(PACKAGE)
    declared = {re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0].lower() for req in distribution.requires or []}
    providers = importlib.metadata.packages_distributions()
    undeclared = {}
    for module in sorted(_third_party_imports() - AIRFLOW_2_WEBSERVER_MODULES - PYTEST_PLUGIN_MODULES):
        names = {name.lower() for name in providers.get(module, [])}
        # "airflow" is split over apache-airflow-core, -task-sdk...: apache-airflow brings them all
        if module == "airflow" and "apache-airflow" in declared:
            continue
        if not names & declared:
            undeclared[module] = sorted(names)
    assert undeclared == {}, f"imported but not in the dependencies of {PACKAGE}: {undeclared}"


def test_distribution_metadata_names_license_and_python():
    metadata = importlib.metadata.metadata(PACKAGE)
    assert metadata["Name"] == PACKAGE == get_provider_info()["package-name"]
    assert metadata["Version"] == fxiaoke_provider.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    assert "Programming Language :: Python :: 3.11" in metadata.get_all("Classifier")


# --- the airflow CLI ------------------------------------------------------------------------------
@pytest.mark.slow
def test_airflow_cli_lists_provider_hook_and_notifier():
    env = dict(os.environ)
    started = {
        name: _airflow("providers", name, "--output", "json", env=env)
        for name in ("list", "hooks", "notifications")
    }
    results = {name: _finish(process) for name, process in started.items()}

    code, stdout, stderr = results["list"]
    assert code == 0, stderr
    (provider,) = [p for p in _json_table(stdout) if p["package_name"] == PACKAGE]
    assert provider["version"] == fxiaoke_provider.__version__

    code, stdout, stderr = results["hooks"]
    assert code == 0, stderr
    (hook,) = [h for h in _json_table(stdout) if h["connection_type"] == "fxiaoke"]
    assert hook["class"] == "fxiaoke_provider.hooks.fxiaoke.FxiaokeHook"
    assert (hook["package_name"], hook["hook_name"]) == (PACKAGE, "Fxiaoke (ShareCRM)")
    assert hook["conn_id_attribute_name"] == "fxiaoke_conn_id"

    code, stdout, stderr = results["notifications"]
    if code != 0 and "invalid choice" in stderr:
        pytest.skip("this Airflow has no 'providers notifications' command")
    assert code == 0, stderr
    names = [row["notification_class_name"] for row in _json_table(stdout)]
    assert "fxiaoke_provider.notifications.fxiaoke.FxiaokeNotifier" in names


@pytest.mark.slow
def test_airflow_cli_connection_test_against_the_sandbox(sandbox, tmp_path):
    wrong_secret = "wrong-secret-4f9c2a7e"
    good = connection_dict(sandbox, tmp_path / "good")
    bad = {**connection_dict(sandbox, tmp_path / "bad"), "password": wrong_secret}
    started = [
        _airflow(
            "connections",
            "test",
            "fxiaoke_default",
            env={
                **os.environ,
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
                "AIRFLOW_CONN_FXIAOKE_DEFAULT": json.dumps(conn),
            },
        )
        for conn in (good, bad)
    ]
    (ok_code, ok_out, ok_err), (bad_code, bad_out, bad_err) = (_finish(p) for p in started)

    assert ok_code == 0, ok_err
    assert "Connection success!" in ok_out
    assert "Connection failed!" in bad_out
    assert str(CREDENTIALS_REJECTED) in bad_out
    assert bad_code == (1 if AIRFLOW_V_3_0_PLUS else 0)  # Airflow 2 prints the failure but exits 0
    for output in (ok_out, ok_err, bad_out, bad_err):
        for secret in (DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE, wrong_secret):
            assert secret not in output

    token_calls = [r["errorCode"] for r in requests_to(sandbox, TOKEN_PATH)]
    assert sorted(token_calls) == sorted([SUCCESS, CREDENTIALS_REJECTED])
    # the whole error reaches the console: code, meaning, the gateway's traceId and our thirdTraceId
    (rejected,) = [r for r in sandbox.requests() if r["errorCode"] == CREDENTIALS_REJECTED]
    print(
        "\n"
        + "\n".join(line for line in bad_out.splitlines() if "Connection failed" in line or "Fxiaoke" in line)
    )
    for part in ("errorCode=10006", "credentials rejected", rejected["traceId"], rejected["thirdTraceId"]):
        assert part in bad_out, part
