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
"$PY" -m fxiaoke_provider.sandbox --port 0 --ready-file "$AIRFLOW_HOME/sandbox.url" \
    --log-file "$AIRFLOW_HOME/sandbox.log" > /dev/null &
sandbox_pid=$!
trap 'kill "$sandbox_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$AIRFLOW_HOME/sandbox.url" ] && break; sleep 0.1; done
SANDBOX_URL="$(cat "$AIRFLOW_HOME/sandbox.url")"
echo "    sandbox at $SANDBOX_URL"

export SANDBOX_URL
AIRFLOW_CONN_FXIAOKE_DEFAULT="$("$PY" - <<'PY'
import json, os
from fxiaoke_provider.sandbox import DEFAULT_APP_ID, DEFAULT_APP_SECRET, DEFAULT_PERMANENT_CODE
print(json.dumps({
    "conn_type": "fxiaoke", "host": os.environ["SANDBOX_URL"],
    "login": DEFAULT_APP_ID, "password": DEFAULT_APP_SECRET,
    "extra": {"permanent_code": DEFAULT_PERMANENT_CODE, "user_id": "1000", "service_id": "FSAID_service_alerts"},
}))
PY
)"
export AIRFLOW_CONN_FXIAOKE_DEFAULT

echo "==> airflow dags test fxiaoke_nightly_load (task output: $AIRFLOW_HOME/dags-test.log)"
if ! "$VENV/bin/airflow" dags test fxiaoke_nightly_load > "$AIRFLOW_HOME/dags-test.log" 2>&1; then
    tail -n 60 "$AIRFLOW_HOME/dags-test.log"
    exit 1
fi

PYTHONPATH="$ROOT" "$PY" "$ROOT/scripts/demo_report.py" "$SANDBOX_URL"
