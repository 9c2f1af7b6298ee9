"""The ``fxiaoke`` connection form as Airflow serves it: App ID / App Secret / Permanent Code, not Login.

Airflow 3: a real ``airflow api-server`` on loopback answers the UI's ``/ui/connections/hook_meta``
(built from ``conn-fields`` / ``ui-field-behaviour`` in provider info). Airflow 2.11: the providers
manager imports the hook's ``get_connection_form_widgets`` / ``get_ui_field_behaviour`` and the
webserver's connection form class is built from them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fxiaoke_provider import protocol
from fxiaoke_provider.version_compat import AIRFLOW_V_3_0_PLUS
from tests.api_server import api_server as start_api_server
from tests.api_server import request_json

LABELS = {"host": "OpenAPI Host", "login": "App ID", "password": "App Secret"}
EXTRA_LABELS = {
    "permanent_code": "Permanent Code",
    "user_id": "Acting User ID",
    "service_id": "Service Account ID",
    "auth_style": "Auth Style",
    "timeout": "Timeout (seconds)",
    "token_cache": "Token Cache",
    "proxy": "HTTPS Proxy",
    "ca_bundle": "CA Bundle Path",
}
HOOK_META_PATH = "/ui/connections/hook_meta"


@pytest.fixture(scope="module")
def api_server(tmp_path_factory) -> Iterator[str]:
    """``airflow api-server`` (one worker, core API only) on the suite's own AIRFLOW_HOME."""
    log_path = tmp_path_factory.mktemp("api-server") / "api-server.log"
    try:
        with start_api_server(Path(os.environ["AIRFLOW_HOME"]), log_path) as base_url:
            yield base_url
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 2.11 has no API server; its Flask form is tested")
def test_api_server_serves_the_fxiaoke_form(api_server):
    entries = {entry["connection_type"]: entry for entry in request_json(api_server + HOOK_META_PATH)}
    form = entries["fxiaoke"]

    assert form["hook_name"] == "Fxiaoke"
    assert form["hook_class_name"] == "fxiaoke_provider.hooks.fxiaoke.FxiaokeHook"
    standard = form["standard_fields"]
    for field, label in LABELS.items():
        assert standard[field]["title"] == label
        assert standard[field]["hidden"] is False
    assert standard["port"]["hidden"] is True
    assert standard["url_schema"]["hidden"] is True  # the form's name for "schema"
    assert standard["host"]["placeholder"] == protocol.DEFAULT_HOST
    assert standard["login"]["placeholder"].startswith("FSAID_")

    extra = form["extra_fields"]
    assert {name: spec["schema"]["title"] for name, spec in extra.items()} == EXTRA_LABELS
    assert extra["permanent_code"]["schema"]["format"] == "password"
    assert "permanentCode" in extra["permanent_code"]["description"]
    assert set(extra["auth_style"]["schema"]["enum"]) == {*protocol.AUTH_STYLES, None}
    assert extra["auth_style"]["value"] == "header"
    assert extra["timeout"]["schema"]["type"] == ["number", "null"]
    # nothing pre-filled with a masked "***" (fields named like "token"/"proxy" are masked by Airflow)
    assert all(spec["value"] != "***" for spec in extra.values())
    assert all(spec["description"] for spec in extra.values())


@pytest.mark.slow
@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 2.11 has no API server")
def test_api_server_lists_fxiaoke_as_testable_connection_type(api_server):
    """The form's Test button needs the type to be known with a hook; the server was started with it."""
    entries = {entry["connection_type"] for entry in request_json(api_server + HOOK_META_PATH)}
    assert "fxiaoke" in entries
    config = request_json(api_server + "/ui/config")
    assert config["test_connection"] == "Enabled"


@pytest.mark.skipif(
    AIRFLOW_V_3_0_PLUS, reason="Airflow 3 serves the form from provider info (API server test)"
)
def test_airflow2_form_widgets_and_field_behaviour():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = {
        info.field_name: info
        for key, info in manager.connection_form_widgets.items()
        if key.startswith("extra__fxiaoke__")
    }
    assert set(widgets) == set(EXTRA_LABELS)
    assert {name: info.field.args[0] for name, info in widgets.items()} == EXTRA_LABELS
    assert [name for name, info in widgets.items() if info.is_sensitive] == ["permanent_code"]
    assert manager.hooks["fxiaoke"].connection_testable

    behaviour = manager.field_behaviours["fxiaoke"]
    assert behaviour["relabeling"] == LABELS
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
    assert behaviour["placeholders"]["host"] == protocol.DEFAULT_HOST
    assert behaviour["placeholders"]["login"].startswith("FSAID_")
    assert behaviour["placeholders"]["extra__fxiaoke__permanent_code"] == "permanentCode"


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="the Flask connection form exists only in Airflow 2")
def test_airflow2_webserver_form_renders_the_widgets():
    """The webserver's own connection form class, bound and rendered inside a Flask request."""
    from airflow.www.forms import create_connection_form_class
    from flask import Flask
    from flask_babel import Babel

    app = Flask(__name__)
    app.config.update(WTF_CSRF_ENABLED=False, SECRET_KEY="form-test")
    Babel(app)
    with app.test_request_context():
        form = create_connection_form_class()()
        assert ("fxiaoke", "Fxiaoke") in form.conn_type.choices
        permanent_code = form["extra__fxiaoke__permanent_code"]
        assert permanent_code.label.text == "Permanent Code"
        assert 'type="password"' in permanent_code()
        user_id = form["extra__fxiaoke__user_id"]
        assert user_id.label.text == "Acting User ID"
        assert 'type="text"' in user_id()
        assert "x-fs-userid" in user_id.description
