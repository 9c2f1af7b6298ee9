"""Airflow connections of type ``fxiaoke``, JSON or URI form, become one checked config or a clear error."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from fxiaoke_provider.connection.config import DEFAULT_RETRY_MAX_ATTEMPTS, DEFAULT_TIMEOUT_S
from fxiaoke_provider.exceptions import FxiaokeConnectionConfigError, FxiaokeInvalidInputError
from fxiaoke_provider.gateway.protocol import DEFAULT_HOST, RATE_LIMIT_CALLS
from fxiaoke_provider.hooks.fxiaoke import FxiaokeHook
from fxiaoke_provider.sandbox import (
    DEFAULT_APP_ID,
    DEFAULT_APP_SECRET,
    DEFAULT_PERMANENT_CODE,
    SandboxGateway,
)

APP_ID = "FSAID_conn0001"
SECRET = "app-secret-7f3a9c1e"
CODE = "permanent-code-5b2d8e04"


def conn(host: str | None = DEFAULT_HOST, **extra: Any) -> dict[str, Any]:
    """A complete JSON-form connection; tests remove or break one field at a time."""
    return {
        "conn_type": "fxiaoke",
        "host": host,
        "login": APP_ID,
        "password": SECRET,
        "extra": {"permanent_code": CODE, "user_id": "1000", **extra},
    }


@pytest.fixture
def install(monkeypatch):
    """Put a connection into the environment the way a deployment does (``AIRFLOW_CONN_<ID>``)."""

    def _install(conn_id: str, value: dict[str, Any] | str) -> str:
        text = value if isinstance(value, str) else json.dumps(value)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", text)
        return conn_id

    return _install


def config_of(conn_id: str, **hook_kwargs: Any):
    return FxiaokeHook(conn_id, **hook_kwargs).config


def config_error(conn_id: str, **hook_kwargs: Any) -> FxiaokeConnectionConfigError:
    with pytest.raises(FxiaokeConnectionConfigError) as excinfo:
        config_of(conn_id, **hook_kwargs)
    error = excinfo.value
    assert isinstance(error, FxiaokeInvalidInputError)
    assert error.conn_id == conn_id
    text = str(error)
    assert f"connection {conn_id!r}" in text
    for secret in (SECRET, CODE):
        assert secret not in text
        assert secret not in repr(error)
    return error


# --- reading both forms -------------------------------------------------------------------------
def test_json_form(install) -> None:
    install("fxiaoke_json", conn("open-hwcloud.fxiaoke.com", service_id="FSAID_svc"))
    config = config_of("fxiaoke_json")
    assert config.conn_id == "fxiaoke_json"
    assert config.base_url == "https://open-hwcloud.fxiaoke.com"
    assert (config.app_id, config.app_secret, config.permanent_code) == (APP_ID, SECRET, CODE)
    assert (config.user_id, config.auth_style, config.service_id) == ("1000", "header", "FSAID_svc")
    assert config.timeout_s == DEFAULT_TIMEOUT_S
    assert config.token_cache == "file"
    assert config.retry.max_attempts == DEFAULT_RETRY_MAX_ATTEMPTS
    assert config.retry.retry_unknown_outcome is False
    assert config.rate_limit_calls == RATE_LIMIT_CALLS
    assert config.verify is True


def test_uri_form(install) -> None:
    query = urlencode(
        {"permanent_code": CODE, "user_id": "1000", "service_id": "FSAID_svc", "timeout": "12.5"}
    )
    install("fxiaoke_uri", f"fxiaoke://{APP_ID}:{quote(SECRET)}@open.fxiaoke.com?{query}")
    config = config_of("fxiaoke_uri")
    assert config.base_url == "https://open.fxiaoke.com"
    assert (config.app_id, config.app_secret, config.permanent_code) == (APP_ID, SECRET, CODE)
    assert config.user_id == "1000"
    assert config.service_id == "FSAID_svc"
    assert config.timeout_s == 12.5


def test_uri_form_with_encoded_loopback_url_works_end_to_end(
    install, sandbox: SandboxGateway, tmp_path: Path
) -> None:
    """A URL-encoded ``http://127.0.0.1:PORT`` host keeps scheme and port and reaches the sandbox."""
    query = urlencode(
        {
            "permanent_code": DEFAULT_PERMANENT_CODE,
            "user_id": "1000",
            "token_cache_dir": str(tmp_path / "tokens"),
        }
    )
    host = quote(sandbox.url, safe="")
    assert host.startswith("http%3A%2F%2F127.0.0.1%3A")
    install("fxiaoke_sbx", f"fxiaoke://{DEFAULT_APP_ID}:{quote(DEFAULT_APP_SECRET, safe='')}@{host}?{query}")
    hook = FxiaokeHook("fxiaoke_sbx")
    assert hook.config.base_url == sandbox.url == f"http://127.0.0.1:{sandbox.port}"
    ok, message = hook.test_connection()
    assert ok, message
    hook.send_message(["1000"], "hello from a URI connection")
    assert [m["message"] for m in sandbox.messages()] == [{"content": "hello from a URI connection"}]


# --- host -------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", [None, "", "   "])
def test_empty_host_means_the_default_cloud(install, host: str | None) -> None:
    install("fxiaoke_default_host", conn(host))
    assert config_of("fxiaoke_default_host").base_url == "https://open.fxiaoke.com"


def test_missing_host_key_means_the_default_cloud(install) -> None:
    value = conn()
    del value["host"]
    install("fxiaoke_no_host", value)
    assert config_of("fxiaoke_no_host").base_url == "https://open.fxiaoke.com"


@pytest.mark.parametrize(
    ("host", "port", "schema", "expected"),
    [
        ("open-na.sharecrm.com", None, None, "https://open-na.sharecrm.com"),
        ("https://open.fxiaoke.com", None, None, "https://open.fxiaoke.com"),
        ("https://open.fxiaoke.com/", None, None, "https://open.fxiaoke.com"),
        ("https://open.fxiaoke.com:8443", None, None, "https://open.fxiaoke.com:8443"),
        ("gw.corp.internal", 9443, None, "https://gw.corp.internal:9443"),
        ("http://127.0.0.1:8901", None, None, "http://127.0.0.1:8901"),
        ("http://localhost:8080", None, None, "http://localhost:8080"),
        ("http://[::1]:8080", None, None, "http://[::1]:8080"),
        ("127.0.0.1", 8901, "http", "http://127.0.0.1:8901"),
    ],
)
def test_host_scheme_and_port(
    install, host: str, port: int | None, schema: str | None, expected: str
) -> None:
    value = conn(host)
    value.update({k: v for k, v in (("port", port), ("schema", schema)) if v is not None})
    install("fxiaoke_host", value)
    assert config_of("fxiaoke_host").base_url == expected


@pytest.mark.parametrize("host", ["www.fxiaoke.com", "https://www.fxiaoke.com", "fxiaoke.com"])
def test_web_site_host_is_refused(install, host: str) -> None:
    install("fxiaoke_www", conn(host))
    error = config_error("fxiaoke_www")
    assert "host" in error.field
    assert "web site, not the OpenAPI host" in str(error)
    assert DEFAULT_HOST in str(error)


@pytest.mark.parametrize("host", ["https://open.fxiaoke.com/cgi/message/send", "open.fxiaoke.com/api"])
def test_host_with_path_is_refused(install, host: str) -> None:
    install("fxiaoke_path", conn(host))
    error = config_error("fxiaoke_path")
    assert "host" in error.field
    assert "must not contain a path" in str(error)


@pytest.mark.parametrize(
    ("host", "rule_words"),
    [
        ("ftp://open.fxiaoke.com", "scheme must be https"),
        ("https://open.fxiaoke.com?x=1", "without path"),
        ("https://user:pw@open.fxiaoke.com", "without path"),
    ],
)
def test_other_malformed_hosts_are_refused(install, host: str, rule_words: str) -> None:
    install("fxiaoke_bad_host", conn(host))
    assert rule_words in str(config_error("fxiaoke_bad_host"))


@pytest.mark.parametrize(
    ("host", "schema"),
    [
        ("http://gw.corp.internal", None),
        ("http://open.fxiaoke.com", None),
        ("open.fxiaoke.com:80", "http"),
        ("http://10.0.0.5:8080", None),
    ],
)
def test_plain_http_to_a_remote_host_is_refused(install, host: str, schema: str | None) -> None:
    install("fxiaoke_http", {**conn(host), **({"schema": schema} if schema else {})})
    error = config_error("fxiaoke_http")
    assert "host" in error.field
    assert "plain http would send credentials unencrypted" in str(error)
    assert "allow_insecure_http" in str(error)


@pytest.mark.parametrize("flag", [True, "true", "yes", "1"])
def test_plain_http_allowed_on_request_with_a_warning(install, caplog, flag: object) -> None:
    install("fxiaoke_http_ok", conn("http://gw.corp.internal:8080", allow_insecure_http=flag))
    with caplog.at_level(logging.WARNING):
        config = config_of("fxiaoke_http_ok")
    assert config.base_url == "http://gw.corp.internal:8080"
    assert config.allow_insecure_http is True
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("plain http" in w and "http://gw.corp.internal:8080" in w for w in warnings), warnings
    assert any("fxiaoke_http_ok" in w for w in warnings)
    assert not any(SECRET in w or CODE in w for w in warnings)


def test_loopback_http_needs_no_flag_and_warns_nothing(install, caplog) -> None:
    install("fxiaoke_loop", conn("http://127.0.0.1:8901"))
    with caplog.at_level(logging.WARNING):
        assert config_of("fxiaoke_loop").is_plain_http
    assert not [r for r in caplog.records if "plain http" in r.getMessage()]


# --- required fields ----------------------------------------------------------------------------
def _without(field: str, empty: object) -> dict[str, Any]:
    value = conn()
    if field in ("login", "password"):
        value[field] = empty
    else:
        value["extra"][field] = empty
    return value


@pytest.mark.parametrize("empty", [None, "", "   "])
@pytest.mark.parametrize(
    ("field", "field_text"),
    [
        ("login", "login"),
        ("password", "password"),
        ("permanent_code", "extra 'permanent_code'"),
        ("user_id", "extra 'user_id'"),
    ],
)
def test_missing_required_field_names_field_and_connection(
    install, field: str, field_text: str, empty: object
) -> None:
    install("fxiaoke_missing", _without(field, empty))
    error = config_error("fxiaoke_missing")
    assert field_text in error.field
    assert field_text in str(error)
    assert "required" in str(error)


def test_required_field_absent_altogether(install) -> None:
    value = conn()
    del value["login"]
    del value["extra"]["permanent_code"]
    install("fxiaoke_absent", value)
    assert "login" in config_error("fxiaoke_absent").field


def test_user_id_not_needed_in_legacy_style(install) -> None:
    value = conn(auth_style="legacy")
    del value["extra"]["user_id"]
    install("fxiaoke_legacy", value)
    config = config_of("fxiaoke_legacy")
    assert (config.auth_style, config.user_id) == ("legacy", None)


def test_user_id_must_be_an_employee_id_in_header_style(install) -> None:
    install("fxiaoke_uid", conn(user_id="FSUID_admin"))
    error = config_error("fxiaoke_uid")
    assert "extra 'user_id'" in error.field
    assert "with auth_style 'header' must be a CRM employee id made of digits" in str(error)


def test_user_id_is_an_open_user_id_in_legacy_style(install) -> None:
    install("fxiaoke_legacy_uid", conn(auth_style="legacy", user_id="FSUID_admin"))
    assert config_of("fxiaoke_legacy_uid").user_id == "FSUID_admin"
    install("fxiaoke_legacy_digits", conn(auth_style="legacy", user_id="1000"))
    error = config_error("fxiaoke_legacy_digits")
    assert "extra 'user_id'" in error.field
    assert "with auth_style 'legacy' must be an open user id (FSUID_...)" in str(error)


# --- malformed extras ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "rule_words"),
    [
        ("timeout", "abc", "must be a number; got 'abc'"),
        ("timeout", 0, "must be >= 0.001"),
        ("timeout", True, "must be a number"),
        ("auth_style", "x", "must be one of header, legacy; got 'x'"),
        ("allow_insecure_http", "maybe", "must be true or false; got 'maybe'"),
        ("retry_unknown_outcome", "maybe", "must be true or false"),
        ("retry_max_attempts", "2.5", "must be a whole number"),
        ("retry_max_attempts", 0, "must be >= 1"),
        ("retry_max_wait", -1, "must be >= 0"),
        ("rate_limit_calls", "many", "must be a whole number"),
        ("token_cache", "disk", "must be one of file, memory, airflow"),
        ("service_id", {"id": 1}, "must be a string; got dict"),
        ("ca_bundle", "/nonexistent/ca.pem", "is not a file"),
    ],
)
def test_malformed_extra_names_field_and_rule(install, key: str, value: object, rule_words: str) -> None:
    install("fxiaoke_extra", conn(**{key: value}))
    error = config_error("fxiaoke_extra")
    assert f"extra {key!r}" in error.field
    assert rule_words in error.rule
    assert f"extra {key!r}: {error.rule}" in str(error)


def test_extras_are_converted(install, tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    install(
        "fxiaoke_types",
        conn(
            timeout="2.5",
            auth_style="LEGACY",
            retry_max_attempts="3",
            retry_unknown_outcome="on",
            token_cache="memory",
            rate_limit_calls="0",
            ca_bundle=str(bundle),
            user_id="FSUID_ops",
        ),
    )
    config = config_of("fxiaoke_types")
    assert config.timeout_s == 2.5
    assert config.auth_style == "legacy"
    assert config.retry.max_attempts == 3
    assert config.retry.retry_unknown_outcome is True
    assert config.token_cache == "memory"
    assert config.rate_limit_calls == 0
    assert config.verify == str(bundle)
    assert config.user_id == "FSUID_ops"


# --- old keys, untouched form fields, hook arguments -----------------------------------------------
def test_old_prefixed_extra_keys_are_read(install) -> None:
    value = conn()
    value["extra"] = {
        "extra__fxiaoke__permanent_code": CODE,
        "extra__fxiaoke__user_id": "1002",
        "extra__fxiaoke__service_id": "FSAID_old",
        "extra__fxiaoke__timeout": "7",
    }
    install("fxiaoke_old", value)
    config = config_of("fxiaoke_old")
    assert (config.permanent_code, config.user_id, config.service_id, config.timeout_s) == (
        CODE,
        "1002",
        "FSAID_old",
        7.0,
    )


def test_plain_key_wins_over_old_key_unless_empty(install) -> None:
    value = conn(service_id="FSAID_new", timeout="")
    value["extra"].update({"extra__fxiaoke__service_id": "FSAID_old", "extra__fxiaoke__timeout": "9"})
    install("fxiaoke_both", value)
    config = config_of("fxiaoke_both")
    assert config.service_id == "FSAID_new"
    assert config.timeout_s == 9.0


def test_empty_strings_and_none_count_as_absent(install) -> None:
    untouched = dict.fromkeys(
        ("timeout", "retry_max_attempts", "allow_insecure_http", "token_cache_dir", "proxy"), ""
    )
    untouched.update(dict.fromkeys(("auth_style", "service_id", "token_cache", "ca_bundle"), None))
    install("fxiaoke_form", conn(**untouched))
    config = config_of("fxiaoke_form")
    assert config.timeout_s == DEFAULT_TIMEOUT_S
    assert config.retry.max_attempts == DEFAULT_RETRY_MAX_ATTEMPTS
    assert config.auth_style == "header"
    assert config.token_cache == "file"
    for unset in (config.service_id, config.token_cache_dir, config.proxy, config.ca_bundle):
        assert unset is None
    assert config.allow_insecure_http is False


def test_empty_required_extra_falls_back_to_old_key(install) -> None:
    install("fxiaoke_fallback", conn(permanent_code="", extra__fxiaoke__permanent_code=CODE))
    assert config_of("fxiaoke_fallback").permanent_code == CODE


def test_hook_arguments_win_over_extras(install) -> None:
    install(
        "fxiaoke_over",
        conn(
            timeout="5",
            retry_max_attempts=4,
            retry_max_wait=9,
            retry_unknown_outcome=False,
            token_cache="file",
        ),
    )
    from_extras = config_of("fxiaoke_over")
    assert from_extras.timeout_s == 5.0
    assert (from_extras.retry.max_attempts, from_extras.retry.max_wait_s) == (4, 9.0)
    overridden = config_of(
        "fxiaoke_over",
        timeout=1.5,
        retry_max_attempts=2,
        retry_max_wait=0.1,
        retry_unknown_outcome=True,
        token_cache="memory",
    )
    assert overridden.timeout_s == 1.5
    assert overridden.retry.max_attempts == 2
    assert overridden.retry.max_wait_s == 0.1
    assert overridden.retry.retry_unknown_outcome is True
    assert overridden.token_cache == "memory"
    # An argument left at None keeps the extra.
    assert config_of("fxiaoke_over", timeout=None).timeout_s == 5.0


def test_hook_arguments_are_validated_too(install) -> None:
    install("fxiaoke_arg", conn())
    error = config_error("fxiaoke_arg", timeout=-1)
    assert "hook argument 'timeout'" in error.field  # the argument, not the connection, is at fault
    assert "must be >= 0.001" in str(error)


def test_repr_hides_secrets(install) -> None:
    install("fxiaoke_repr", conn(service_id="FSAID_svc"))
    config = config_of("fxiaoke_repr")
    for text in (repr(config), str(config), repr(config.retry)):
        assert SECRET not in text
        assert CODE not in text
    assert APP_ID in repr(config)
    assert "fxiaoke_repr" in repr(config)
