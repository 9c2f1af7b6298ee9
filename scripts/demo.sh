#!/usr/bin/env bash
# The main job, end to end: a local environment (if needed), the offline sandbox gateway on loopback,
# the example DAG `fxiaoke_nightly_load` in real Airflow (`airflow dags test`, embedded SQLite DB),
# then the traceId read back from XCom printed next to the message the sandbox received.
# Nothing outside this folder is touched: the virtualenv is .venv/, AIRFLOW_HOME is .airflow-home/demo.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$ROOT"
fxiaoke_env 3
export AIRFLOW_HOME="$ROOT/.airflow-home/demo"
rm -rf "$AIRFLOW_HOME" && mkdir -p "$AIRFLOW_HOME"

echo "==> migrating the demo metadata DB ($AIRFLOW_HOME/airflow.db)"
"$VENV/bin/airflow" db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }

echo "==> starting the sandbox gateway (log: $AIRFLOW_HOME/sandbox.log)"
fxiaoke_start_sandbox "$PY" "$AIRFLOW_HOME"
trap 'kill "$SANDBOX_PID" 2>/dev/null || true' EXIT
echo "    sandbox at $SANDBOX_URL"
fxiaoke_sandbox_connection "$PY"

fxiaoke_nightly_load_round_trip "$VENV"
