#!/usr/bin/env bash
# The test command: the whole suite on the latest Airflow 3 and on Airflow 2.11, then ruff, then the
# built artefacts (scripts/smoke_wheel.sh: sdist and wheel, twine check, the wheel installed in a
# fresh virtualenv running an example DAG) and the docs site (`mkdocs build --strict` into site/).
# Each generation gets its own project-local virtualenv (.venv/) and AIRFLOW_HOME (.airflow-home/).
# FXIAOKE_AIRFLOW="3" (or "2.11") limits the run to one generation; extra arguments go to pytest.
# With pytest arguments (a partial run) the artefact and docs checks are skipped; FXIAOKE_DIST=1
# forces them, FXIAOKE_DIST=0 skips them.
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

if [ "$#" -gt 0 ]; then dist_default=0; else dist_default=1; fi
if [ "$status" -eq 0 ] && [ "${FXIAOKE_DIST:-$dist_default}" = "1" ]; then
    bash "$ROOT/scripts/smoke_wheel.sh" || status=$?
    if [ "$status" -eq 0 ]; then
        fxiaoke_docs_env
        start=$SECONDS
        "$DOCS_VENV/bin/mkdocs" build --strict --quiet --site-dir "$ROOT/site" || status=$?
        echo "==> docs site built into site/ in $((SECONDS - start))s (exit $status)"
    fi
fi
exit "$status"
