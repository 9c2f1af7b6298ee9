"""The only place that knows Airflow 2.11 and 3.x apart: base classes and helpers by version.

Loading it also connects the gateway's redaction to Airflow's secrets masker, so every process that
uses the Airflow face masks credentials and tokens in logs and errors alike.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from airflow import __version__ as _airflow_version

from fxiaoke_provider.gateway import redaction


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = [*version.split("."), "0"][:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


AIRFLOW_VERSION = _version_tuple(_airflow_version)
AIRFLOW_V_3_0_PLUS = AIRFLOW_VERSION >= (3, 0)
#: The task state store (AIP-103): key/value state per task instance that survives retries.
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= (3, 3)

if TYPE_CHECKING or AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import BaseNotifier, BaseOperator, BaseSensorOperator, PokeReturnValue
else:
    from airflow.models.baseoperator import BaseOperator  # type: ignore[no-redef]
    from airflow.notifications.basenotifier import BaseNotifier  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator, PokeReturnValue  # type: ignore[no-redef]

if TYPE_CHECKING or AIRFLOW_VERSION >= (3, 1):
    from airflow.sdk import BaseHook
else:  # 2.x and 3.0
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]

if TYPE_CHECKING or AIRFLOW_VERSION >= (3, 2):
    from airflow.sdk.exceptions import AirflowFailException
else:  # deprecated there from 3.2 on
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]


if AIRFLOW_V_3_0_PLUS:
    try:
        from airflow.sdk.log import mask_secret as _mask_secret
        from airflow.sdk.log import redact as _redact
    except ImportError:  # Airflow 3.0
        from airflow.sdk.execution_time.secrets_masker import mask_secret as _mask_secret
        from airflow.sdk.execution_time.secrets_masker import redact as _redact
else:
    from airflow.utils.log.secrets_masker import mask_secret as _mask_secret  # type: ignore[no-redef]
    from airflow.utils.log.secrets_masker import redact as _redact  # type: ignore[no-redef]


def object_storage_path(url: str, conn_id: str | None = None) -> Any:
    """Airflow's ``ObjectStoragePath`` for ``url`` (``file://``, ``s3://``, ``gs://``...), imported
    when a task needs it so DAG files stay cheap to parse."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(url, conn_id=conn_id)
    from airflow.io.path import ObjectStoragePath as Airflow2ObjectStoragePath

    return Airflow2ObjectStoragePath(url, conn_id=conn_id)  # noqa: AIR311 - Airflow 2.11 has only this one


def metadata_db_variable() -> Any:
    """Airflow's ORM model of Variables (``airflow.models.variable.Variable``), for code that runs
    outside a task process: scripts, ``dag.test()``, Airflow 2.

    The task SDK's ``airflow.sdk.Variable`` is the public way inside a task, but it writes only
    through a task's supervisor; outside one, the metadata DB is the store. The ORM model is
    imported from its own module, not through ``airflow.models.Variable``, the re-export for DAG
    code that Airflow 3 deprecates.
    """
    from airflow.models.variable import Variable

    return Variable


def mask_secret(secret: Any) -> None:
    """Register a value with Airflow's secrets masker so task logs show ``***`` instead."""
    _mask_secret(secret)


def redact(text: str) -> str:
    """``text`` with every value registered through ``mask_secret`` replaced by ``***``."""
    return str(_redact(text))


def in_task_process() -> bool:
    """True inside a task or trigger of Airflow 3 (a supervised process), where the supervisor
    answers for connections and Variables; the check Airflow itself uses. Always False on Airflow 2."""
    return hasattr(sys.modules.get("airflow.sdk.execution_time.task_runner"), "SUPERVISOR_COMMS")


redaction.use_masker(mask_secret, redact)

__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AirflowFailException",
    "BaseHook",
    "BaseNotifier",
    "BaseOperator",
    "BaseSensorOperator",
    "PokeReturnValue",
    "in_task_process",
    "mask_secret",
    "metadata_db_variable",
    "object_storage_path",
    "redact",
]
