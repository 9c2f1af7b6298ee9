"""Finding an ``fxiaoke`` connection wherever the hook runs: in a task, a DAG-level callback, a script.

Airflow 3's Task SDK finds connections stored in the metadata DB (what ``airflow connections add``
writes) only inside a supervised process (a task, the triggerer): it asks the API server. Anywhere
else (a plain script, a notebook, DAG-level callbacks under ``airflow dags test``) it reads only
``AIRFLOW_CONN_*`` variables and configured secrets backends. There, this module asks the metadata
DB itself, as Airflow's own ``MetastoreBackend`` does, when the process can reach it; where it
cannot, the error says what to do. Airflow 2 needs none of this: its lookup includes the DB.
"""

from __future__ import annotations

from typing import Any

from fxiaoke_provider.airflow_support.version_compat import (
    AIRFLOW_V_3_0_PLUS,
    BaseHook,
    in_task_process,
    mask_secret,
)


def _is_not_found(error: BaseException) -> bool:
    return any(cls.__name__ == "AirflowNotFoundException" for cls in type(error).__mro__)


def get_connection(conn_id: str) -> Any:
    """The connection ``conn_id``: Airflow's lookup first, then (Airflow 3, outside a task) the DB."""
    try:
        return BaseHook.get_connection(conn_id)
    except Exception as error:
        if not (AIRFLOW_V_3_0_PLUS and _is_not_found(error)) or in_task_process():
            raise
        not_found = error
    return _from_metadata_db(conn_id, not_found)


def _from_metadata_db(conn_id: str, not_found: BaseException) -> Any:
    try:
        from airflow.secrets.metastore import MetastoreBackend

        conn = MetastoreBackend().get_connection(conn_id)
    except Exception as db_error:  # no Airflow core, no DB configured, DB unreachable or not migrated
        reason = str(db_error).strip().splitlines()[0] if str(db_error).strip() else ""
        outcome = f"the metadata DB could not be read ({type(db_error).__name__}: {reason[:200]})"
        raise type(not_found)(_not_found_message(conn_id, outcome)) from db_error
    if conn is None:
        raise type(not_found)(_not_found_message(conn_id, "the metadata DB has no such connection"))
    for secret in (conn.password, conn.extra):
        if secret:
            mask_secret(secret)
    return conn


def _not_found_message(conn_id: str, outcome: str) -> str:
    return (
        f"The conn_id `{conn_id}` isn't defined: not in AIRFLOW_CONN_* variables or secrets backends, "
        f"and {outcome}. Outside a task, Airflow 3 reads connections made with `airflow connections add` "
        "only from a process that can reach the metadata DB ([database] sql_alchemy_conn). Where it "
        f"cannot, define the connection as the environment variable AIRFLOW_CONN_{conn_id.upper()} "
        "(JSON or URI) or in a secrets backend."
    )
