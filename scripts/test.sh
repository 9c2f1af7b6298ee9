#!/usr/bin/env bash
# The test command: the whole suite on the latest Airflow 3 and on Airflow 2.11, then ruff.
# Each generation gets its own project-local virtualenv (.venv/) and AIRFLOW_HOME (.airflow-home/).
# FXIAOKE_AIRFLOW="3" (or "2.11") limits the run to one generation; extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$ROOT"

status=0
for flavour in ${FXIAOKE_AIRFLOW:-3 2.11}; do
    fxiaoke_env "$flavour"
    echo "==> Airflow $("$PY" -c 'import airflow; print(airflow.__version__)') / Python $("$PY" -c 'import platform; print(platform.python_version())')"
    rm -rf "$AIRFLOW_HOME" && mkdir -p "$AIRFLOW_HOME"
    "$VENV/bin/airflow" db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 \
        || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
    start=$SECONDS
    "$PY" -m pytest "$@" || status=$?
    echo "==> Airflow $flavour suite took $((SECONDS - start))s (exit $status)"
    [ "$status" -eq 0 ] || break
done

if [ "$status" -eq 0 ]; then
    fxiaoke_env 3
    "$VENV/bin/ruff" check . && "$VENV/bin/ruff" format --check . || status=$?
fi
exit "$status"
