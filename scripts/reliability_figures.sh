#!/usr/bin/env bash
# The reliability figures at full size (docs/reliability.md), each from a real run against the sandbox:
# dag.test() with execution_timeout and retries, new worker processes, machine-wide pacing.
# Uses the project venv of the chosen Airflow (FXIAOKE_AIRFLOW, default 3) and a project-local
# AIRFLOW_HOME. Arguments pick figures: timeout fan-out resume new-workers airflow-cache pacing.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$ROOT"
fxiaoke_env "${FXIAOKE_AIRFLOW:-3}"
export AIRFLOW_HOME="$ROOT/.airflow-home/figures-${FXIAOKE_AIRFLOW:-3}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/tests/dags"  # dag.test() needs the DAG file in a bundle (3.x)
export AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST="[{\"name\": \"fxiaoke_test_dags\", \"classpath\": \"airflow.dag_processing.bundles.local.LocalDagBundle\", \"kwargs\": {\"path\": \"$ROOT/tests/dags\"}}]"
rm -rf "$AIRFLOW_HOME" && mkdir -p "$AIRFLOW_HOME"
"$VENV/bin/airflow" db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
export AIRFLOW__CORE__FERNET_KEY="$("$PY" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
echo "==> Airflow $("$PY" -c 'import airflow; print(airflow.__version__)')"
"$PY" -u scripts/reliability_figures.py "$@" 2> "$AIRFLOW_HOME/figures.log" | grep -E '^\[[a-z-]+\] '
