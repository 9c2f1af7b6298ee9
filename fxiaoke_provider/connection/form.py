"""The ``fxiaoke`` connection form as data: Airflow 3.2+ renders it from provider info without
importing the hook; older versions get the same fields as wtforms widgets from the hook.

Every field comes from ``connection.extras.EXTRA_FIELDS``, the table the parser reads too, so the form
declares exactly the extras the provider reads, with the parser's types, bounds and defaults.
"""

from __future__ import annotations

import copy
from typing import Any

from fxiaoke_provider.connection.extras import EXTRA_FIELDS, ExtraField
from fxiaoke_provider.gateway import protocol

HOOK_NAME = "Fxiaoke (ShareCRM)"

#: Airflow masks values of fields whose name contains one of these words (its secrets masker's
#: sensitive names); a default there would pre-fill the form with "***", so the description says it.
_MASKED_NAME_PARTS = ("token", "proxy", "secret", "password", "passwd", "api_key", "private_key")

_JSON_TYPES = {
    "text": "string",
    "secret": "string",
    "choice": "string",
    "number": "number",
    "integer": "integer",
    "flag": "boolean",
}


def is_masked_name(key: str) -> bool:
    return any(part in key.lower() for part in _MASKED_NAME_PARTS)


def field_schema(spec: ExtraField) -> dict[str, Any]:
    """JSON schema of one extra, as ``conn-fields`` declares it."""
    schema: dict[str, Any] = {"type": [_JSON_TYPES[spec.kind], "null"]}
    if spec.kind == "secret":
        schema["format"] = "password"
    if spec.choices:
        schema["enum"] = [*spec.choices, None]
    if spec.minimum is not None:
        schema["minimum"] = spec.minimum
    if spec.default is not None and not is_masked_name(spec.key):
        schema["default"] = spec.default
    return schema


CONN_FIELDS: dict[str, dict[str, Any]] = {
    key: {"label": spec.label, "schema": field_schema(spec), "description": spec.description}
    for key, spec in EXTRA_FIELDS.items()
}


def _placeholder(spec: ExtraField) -> str | None:
    if spec.example is not None:
        return spec.example
    if spec.default is None:
        return None
    if isinstance(spec.default, bool):
        return str(spec.default).lower()
    return f"{spec.default:g}" if isinstance(spec.default, float) else str(spec.default)


UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {"host": "OpenAPI Host", "login": "App ID", "password": "App Secret"},
    "placeholders": {
        "host": protocol.DEFAULT_HOST,
        "login": "FSAID_...",
        "password": "appSecret",
        # extras: shown by Airflow 2's form only (Airflow 3 renders the descriptions instead)
        **{key: text for key, spec in EXTRA_FIELDS.items() if (text := _placeholder(spec)) is not None},
    },
}


def provider_info_connection_type(hook_class_name: str) -> dict[str, Any]:
    """The ``connection-types`` entry of provider info (kebab-case keys, as Airflow expects there)."""
    behaviour = ui_field_behaviour()
    return {
        "hook-class-name": hook_class_name,
        "hook-name": HOOK_NAME,
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
    """wtforms widgets built from the table (imports Flask only when the old UI asks)."""
    from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, PasswordField, StringField

    widgets: dict[str, Any] = {}
    for name, spec in EXTRA_FIELDS.items():
        label, description = lazy_gettext(spec.label), spec.description
        if spec.kind == "flag":
            widgets[name] = BooleanField(label, default=bool(spec.default), description=description)
        elif spec.kind == "secret":
            widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), description=description)
        else:
            widgets[name] = StringField(label, widget=BS3TextFieldWidget(), description=description)
    return widgets
