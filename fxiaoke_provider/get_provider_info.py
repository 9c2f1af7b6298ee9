"""Provider metadata read by Airflow's providers manager (``apache_airflow_provider`` entry point).

Only fields of Airflow's runtime schema (``provider_info.schema.json``): the installed version comes
from the distribution's metadata, so ``versions`` (a field of provider.yaml, not of the runtime
info) is not repeated here.
"""

from __future__ import annotations

from typing import Any

from fxiaoke_provider.connection.form import provider_info_connection_type


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "fxiaoke-provider",
        "name": "Fxiaoke",
        "description": "Fxiaoke (ShareCRM) from Airflow: service-account messages and CRM data; hook, "
        "operators, sensor, transfer, notifier.",
        "integrations": [
            {
                "integration-name": "Fxiaoke",
                "external-doc-url": "https://open.fxiaoke.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Fxiaoke", "python-modules": ["fxiaoke_provider.hooks.fxiaoke"]}],
        "operators": [
            {
                "integration-name": "Fxiaoke",
                "python-modules": [
                    "fxiaoke_provider.operators.fxiaoke",
                    "fxiaoke_provider.operators.crm",
                ],
            }
        ],
        "sensors": [{"integration-name": "Fxiaoke", "python-modules": ["fxiaoke_provider.sensors.crm"]}],
        "transfers": [
            {
                "source-integration-name": "Fxiaoke",
                "target-integration-name": "Common IO",
                "python-module": "fxiaoke_provider.transfers.fxiaoke_to_object_storage",
            }
        ],
        "connection-types": [provider_info_connection_type("fxiaoke_provider.hooks.fxiaoke.FxiaokeHook")],
        "notifications": ["fxiaoke_provider.notifications.fxiaoke.FxiaokeNotifier"],
        # Airflow 3.2+: `airflow fxiaoke doctor`; older versions run `python -m fxiaoke_provider.doctor`.
        "cli": ["fxiaoke_provider.doctor.airflow_cli.get_cli_commands"],
    }
