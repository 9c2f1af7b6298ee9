"""The ``fxiaoke`` connection form as data: Airflow 3.2+ renders it from provider info without
importing the hook; older versions get the same fields as wtforms widgets from the hook."""

from __future__ import annotations

import copy
from typing import Any

from fxiaoke_provider import protocol

CONN_FIELDS: dict[str, dict[str, Any]] = {
    "permanent_code": {
        "label": "Permanent Code",
        "schema": {"type": ["string", "null"], "format": "password"},
        "description": "Required. The app's permanentCode from the Fxiaoke developer console.",
    },
    "user_id": {
        "label": "Acting User ID",
        "schema": {"type": ["string", "null"]},
        "description": "CRM employee id the calls act as (sent as x-fs-userid), e.g. 1000. "
        "Required with the header auth style.",
    },
    "service_id": {
        "label": "Service Account ID",
        "schema": {"type": ["string", "null"]},
        "description": "Optional. Default service account that sends messages; "
        "without one, messages are sent by the app itself.",
    },
    "auth_style": {
        "label": "Auth Style",
        "schema": {"type": ["string", "null"], "enum": [*protocol.AUTH_STYLES, None], "default": "header"},
        "description": "header (current: Bearer token headers) or legacy (corpAccessToken in the body).",
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "schema": {"type": ["number", "null"], "minimum": 1},
        "description": "Optional. Seconds to wait for an answer; default 30.",
    },
    "token_cache": {
        "label": "Token Cache",
        # no "default": the API server masks values of fields named like "token" as "***", and the
        # form would be pre-filled with that; the placeholder shows the default instead
        "schema": {"type": ["string", "null"], "enum": ["file", "memory"]},
        "description": "file: one token shared by all task processes on a worker (default); "
        "memory: one token per hook.",
    },
    "proxy": {
        "label": "HTTPS Proxy",
        "schema": {"type": ["string", "null"]},
        "description": "Optional. Proxy URL for calls to the gateway.",
    },
    "ca_bundle": {
        "label": "CA Bundle Path",
        "schema": {"type": ["string", "null"]},
        "description": "Optional. CA bundle file, for proxies that re-sign TLS traffic.",
    },
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {"host": "OpenAPI Host", "login": "App ID", "password": "App Secret"},
    "placeholders": {
        "host": protocol.DEFAULT_HOST,
        "login": "FSAID_...",
        "password": "appSecret",
        "permanent_code": "permanentCode",
        "user_id": "1000",
        "service_id": "FSAID_...",
        "auth_style": "header",
        "timeout": "30",
        "token_cache": "file",
        "proxy": "http://proxy.internal:3128",
        "ca_bundle": "/etc/ssl/certs/ca-certificates.crt",
        "extra": '{"retry_max_attempts": 7, "retry_max_wait": 30}',
    },
}


def provider_info_connection_type(hook_class_name: str) -> dict[str, Any]:
    """The ``connection-types`` entry of provider info (kebab-case keys, as Airflow expects there)."""
    behaviour = ui_field_behaviour()
    return {
        "hook-class-name": hook_class_name,
        "hook-name": "Fxiaoke",
        "connection-type": "fxiaoke",
        "ui-field-behaviour": {
            "hidden-fields": behaviour["hidden_fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        },
        "conn-fields": copy.deepcopy(CONN_FIELDS),
    }


def ui_field_behaviour() -> dict[str, Any]:
    """A fresh copy: Airflow's providers manager rewrites the placeholder keys in place."""
    return copy.deepcopy(UI_FIELD_BEHAVIOUR)


def connection_form_widgets() -> dict[str, Any]:
    """wtforms widgets built from ``CONN_FIELDS`` (imports Flask only when the old UI asks)."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, spec in CONN_FIELDS.items():
        if spec["schema"].get("format") == "password":
            field_class, widget = PasswordField, BS3PasswordFieldWidget()
        else:
            field_class, widget = StringField, BS3TextFieldWidget()
        widgets[name] = field_class(
            lazy_gettext(spec["label"]), widget=widget, description=spec["description"]
        )
    return widgets
