#!/usr/bin/env bash
# A deadline alert through a real scheduler and triggerer: `airflow standalone` (scheduler, DAG
# processor, triggerer, API server; SQLite; LocalExecutor) runs the example DAG fxiaoke_deadline_alert,
# whose run misses its 30 s deadline; the triggerer sends the alert to the sandbox gateway. Prints the
# deadline, when the gateway received the alert and the delay between the two.
#
#   scripts/deadline_alert.sh [env|db]   # where the fxiaoke_default connection lives (default: env)
#     env  an AIRFLOW_CONN_FXIAOKE_DEFAULT variable every component sees
#     db   the metadata DB (`airflow connections add`), no variable
#
# Not part of CI: about 2 minutes. Uses the project's Airflow 3 venv and a project-local
# AIRFLOW_HOME (.airflow-home/deadline-alert), recreated on every run; everything it starts it stops.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$ROOT"

WHERE="${1:-env}"
case "$WHERE" in env | db) ;; *) echo "usage: $0 [env|db]" >&2; exit 2 ;; esac
DAG_ID=fxiaoke_deadline_alert
ALERT_TIMEOUT_S=240

fxiaoke_env 3
export PATH="$VENV/bin:$PATH"  # standalone starts its components as `airflow ...` from PATH
AIRFLOW="$VENV/bin/airflow"
REPORT=("$PY" "$ROOT/scripts/deadline_alert_report.py")
export AIRFLOW_HOME="$ROOT/.airflow-home/deadline-alert"
rm -rf "$AIRFLOW_HOME" && mkdir -p "$AIRFLOW_HOME/dags"
cp "$ROOT/example_dags/$DAG_ID.py" "$AIRFLOW_HOME/dags/"

STANDALONE_PID=""
cleanup() {
    local status=$?
    set +e
    if [ -n "$STANDALONE_PID" ]; then
        kill -INT "$STANDALONE_PID" 2> /dev/null  # standalone stops its components on Ctrl-C
        for _ in $(seq 100); do kill -0 "$STANDALONE_PID" 2> /dev/null || break; sleep 0.2; done
        kill -TERM -- "-$STANDALONE_PID" 2> /dev/null
        sleep 1
        kill -KILL -- "-$STANDALONE_PID" 2> /dev/null
    fi
    [ -n "${SANDBOX_PID:-}" ] && kill "$SANDBOX_PID" 2> /dev/null
    echo "==> stopped everything; logs in $AIRFLOW_HOME"
    exit "$status"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

fxiaoke_start_sandbox "$PY" "$AIRFLOW_HOME"
echo "==> sandbox gateway at $SANDBOX_URL"

API_PORT="$("${REPORT[@]}" port)"
export AIRFLOW__CORE__DAGS_FOLDER="$AIRFLOW_HOME/dags"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$API_PORT/execution/"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$API_PORT"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
CONNECTION="$("${REPORT[@]}" connection "$SANDBOX_URL")"

"$AIRFLOW" db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 40 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
if [ "$WHERE" = db ]; then
    echo "==> connection fxiaoke_default in the metadata DB"
    "$AIRFLOW" connections add fxiaoke_default --conn-json "$CONNECTION" > /dev/null
else
    echo "==> connection fxiaoke_default as AIRFLOW_CONN_FXIAOKE_DEFAULT"
    export AIRFLOW_CONN_FXIAOKE_DEFAULT="$CONNECTION"
fi

echo "==> airflow standalone on 127.0.0.1:$API_PORT (log: $AIRFLOW_HOME/standalone.log)"
setsid "$AIRFLOW" standalone > "$AIRFLOW_HOME/standalone.log" 2>&1 &
STANDALONE_PID=$!
for _ in $(seq 300); do
    grep -q "Airflow is ready" "$AIRFLOW_HOME/standalone.log" && break
    kill -0 "$STANDALONE_PID" 2> /dev/null || break
    sleep 1
done
grep -q "Airflow is ready" "$AIRFLOW_HOME/standalone.log" \
    || { tail -n 40 "$AIRFLOW_HOME/standalone.log"; echo "standalone did not get ready" >&2; exit 1; }
for _ in $(seq 120); do "$AIRFLOW" dags list -o plain 2> /dev/null | grep -q "$DAG_ID" && break; sleep 2; done

RUN_ID="deadline_alert_$(date +%s)"
echo "==> triggering $DAG_ID ($RUN_ID): the task takes 60 s, the deadline is 30 s after queueing"
"$AIRFLOW" dags trigger "$DAG_ID" --run-id "$RUN_ID" > /dev/null
echo "==> report"
"${REPORT[@]}" report "$SANDBOX_URL" "$DAG_ID" "$RUN_ID" "$ALERT_TIMEOUT_S"
