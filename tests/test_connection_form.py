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

from fxiaoke_provider.airflow_support.version_compat import AIRFLOW_V_3_0_PLUS
from fxiaoke_provider.connection.config import config_from_connection
from fxiaoke_provider.connection.extras import EXTRA_FIELDS
from fxiaoke_provider.connection.form import CONN_FIELDS, HOOK_NAME, is_masked_name
from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError
from fxiaoke_provider.gateway import protocol
from tests.api_server import api_server as start_api_server
from tests.api_server import request_json

LABELS = {"host": "OpenAPI Host", "login": "App ID", "password": "App Secret"}
EXTRA_LABELS = {key: spec.label for key, spec in EXTRA_FIELDS.items()}
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

    assert form["hook_name"] == HOOK_NAME == "Fxiaoke (ShareCRM)"
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
    assert extra["timeout"]["schema"]["minimum"] == 0.001
    assert extra["retry_max_attempts"]["schema"]["type"] == ["integer", "null"]
    assert extra["allow_insecure_http"]["schema"]["type"] == ["boolean", "null"]
    assert set(extra["language"]["schema"]["enum"]) == {"en", "zh-CN", None}
    assert "FSUID_" in extra["user_id"]["description"] and "1000" in extra["user_id"]["description"]
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
    assert type(widgets["allow_insecure_http"].field).__name__ == "UnboundField"
    assert widgets["allow_insecure_http"].field.field_class.__name__ == "BooleanField"
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
        assert ("fxiaoke", "Fxiaoke (ShareCRM)") in form.conn_type.choices
        permanent_code = form["extra__fxiaoke__permanent_code"]
        assert permanent_code.label.text == "Permanent Code"
        assert 'type="password"' in permanent_code()
        user_id = form["extra__fxiaoke__user_id"]
        assert user_id.label.text == "Acting User ID"
        assert 'type="text"' in user_id()
        assert "x-fs-userid" in user_id.description


# --- one table for the form and the parser ---------------------------------------------------------
class _Conn:
    """The smallest connection the parser reads: valid credentials plus the extras under test."""

    conn_id, host, schema, port = "form_check", "http://127.0.0.1:1", None, None
    login, password = "FSAID_form", "app-secret-value"

    def __init__(self, **extra: object) -> None:
        user_id = "FSUID_form" if extra.get("auth_style") == "legacy" else "1000"  # the style's id kind
        self.extra_dejson = {"permanent_code": "permanent-code-value", "user_id": user_id, **extra}


def _parsed(**extra: object) -> dict:
    config = config_from_connection(_Conn(**extra))
    retry = config.retry
    return {
        "timeout": config.timeout_s,
        "retry_max_attempts": retry.max_attempts,
        "retry_max_wait": retry.max_wait_s,
        "retry_unknown_outcome": retry.retry_unknown_outcome,
        "rate_limit_calls": config.rate_limit_calls,
        "rate_limit_window": config.rate_limit_window_s,
        "auth_style": config.auth_style,
        "token_cache": config.token_cache,
        "language": config.language,
        "allow_insecure_http": config.allow_insecure_http,
        "token_cache_dir": config.token_cache_dir,
        "service_id": config.service_id,
        "proxy": config.proxy,
        "ca_bundle": config.ca_bundle,
        "user_id": config.user_id,
        "permanent_code": config.permanent_code,
    }


def test_every_extra_the_parser_reads_is_declared_in_the_form(monkeypatch):
    """The extras the parser reads (recorded at its one read method) are exactly the form's fields."""
    from fxiaoke_provider.connection.config import ExtraReader

    read: set[str] = set()
    raw = ExtraReader.raw

    def recording_raw(self, key):
        read.add(key)
        return raw(self, key)

    monkeypatch.setattr(ExtraReader, "raw", recording_raw)
    config_from_connection(_Conn())
    assert read == set(CONN_FIELDS) == set(EXTRA_FIELDS)
    assert set(_parsed()) == set(EXTRA_FIELDS)


def test_form_defaults_are_the_parsers_defaults():
    defaults = _parsed()
    for key, spec in EXTRA_FIELDS.items():
        schema = CONN_FIELDS[key]["schema"]
        if spec.default is None:
            assert "default" not in schema and defaults[key] in (None, "1000", "permanent-code-value")
            continue
        assert defaults[key] == spec.default, key
        if is_masked_name(key):  # Airflow would pre-fill "***": the description names the default
            assert "default" not in schema and str(spec.default) in CONN_FIELDS[key]["description"], key
        else:
            assert schema["default"] == spec.default, key


@pytest.mark.parametrize("key", [k for k, s in EXTRA_FIELDS.items() if s.minimum is not None])
def test_form_minimum_is_the_parsers_minimum(key):
    minimum = EXTRA_FIELDS[key].minimum
    assert CONN_FIELDS[key]["schema"]["minimum"] == minimum
    assert _parsed(**{key: minimum})[key] == minimum  # the bound itself is accepted
    below = minimum - (1 if EXTRA_FIELDS[key].kind == "integer" else 0.0005)
    with pytest.raises(FxiaokeConnectionConfigError, match=rf"extra '{key}': must be >= {minimum}"):
        _parsed(**{key: below})


@pytest.mark.parametrize("key", [k for k, s in EXTRA_FIELDS.items() if s.choices])
def test_form_choices_are_the_parsers_choices(key):
    choices = EXTRA_FIELDS[key].choices
    assert CONN_FIELDS[key]["schema"]["enum"] == [*choices, None]
    for choice in choices:
        assert _parsed(**{key: choice})[key].lower() == choice.lower()
    with pytest.raises(FxiaokeConnectionConfigError, match=rf"extra '{key}': must be one of"):
        _parsed(**{key: "not-a-choice"})


def test_descriptions_carry_examples_airflow_3_would_otherwise_not_show():
    """Airflow 3 does not render extra-field placeholders; the description holds the example."""
    for key, spec in EXTRA_FIELDS.items():
        if spec.example is not None:
            assert spec.example in spec.description, key
