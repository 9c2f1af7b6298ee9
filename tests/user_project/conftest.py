"""The user's Airflow settings for tests: their DAGs folder (Airflow 3 serializes DAGs from a bundle).

AIRFLOW_HOME comes from the environment (a migrated, project-local home); nothing here touches
Fxiaoke: the ``fxiaoke_sandbox`` fixture of the provider's plugin supplies the connection.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

DAGS = Path(__file__).resolve().parent / "dags"

os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {
            "name": "contracts_dags",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(DAGS)},
        }
    ]
)
