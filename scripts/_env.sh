# Sourced by the project's scripts: builds (or reuses) a project-local virtual environment for one
# Airflow generation and a project-local AIRFLOW_HOME, so nothing touches the user's own Airflow.
#   fxiaoke_env <flavour>   flavour: 3 (latest Airflow 3) or 2.11
# Sets VENV, PY, AIRFLOW_HOME. Reinstalls only when requirements/<flavour>.txt or pyproject.toml change.
#   fxiaoke_docs_env        the docs and distribution tools (.venv/docs, requirements/docs.txt); sets DOCS_VENV
#   fxiaoke_start_sandbox <python> <dir>     the sandbox gateway on a free loopback port, run by <python>;
#                                            sets SANDBOX_URL and SANDBOX_PID (the caller stops it)
#   fxiaoke_sandbox_connection <python>      exports AIRFLOW_CONN_FXIAOKE_DEFAULT for that sandbox
#   fxiaoke_nightly_load_round_trip <venv>   `airflow dags test fxiaoke_nightly_load` from <venv>, then the
#                                            traceId in XCom checked against what the sandbox received

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"

fxiaoke_bootstrap_uv() {
    local tools="$ROOT/.venv/tools"
    if [ ! -x "$tools/bin/uv" ]; then
        echo "==> installing uv $UV_VERSION into .venv/tools" >&2
        python3 -m venv "$tools"
        "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
    fi
    UV="$tools/bin/uv"
}

fxiaoke_env() {
    local flavour="$1"
    local lock="$ROOT/requirements/airflow-$flavour.txt"
    [ -f "$lock" ] || { echo "unknown Airflow flavour '$flavour' (no $lock)" >&2; return 2; }
    VENV="$ROOT/.venv/airflow-$flavour"
    PY="$VENV/bin/python"
    local stamp="$VENV/.fxiaoke-installed"
    local want
    want="$(cat "$lock" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$PY" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        fxiaoke_bootstrap_uv
        echo "==> creating $VENV (Airflow $flavour)" >&2
        rm -rf "$VENV"
        "$UV" venv --quiet --python python3 "$VENV"
        "$UV" pip install --quiet --python "$PY" -r "$lock" -e "$ROOT"
        echo "$want" > "$stamp"
    fi
    export AIRFLOW_HOME="$ROOT/.airflow-home/airflow-$flavour"
    export AIRFLOW__CORE__LOAD_EXAMPLES=False
    export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/example_dags"
    mkdir -p "$AIRFLOW_HOME"
}

fxiaoke_docs_env() {
    local lock="$ROOT/requirements/docs.txt"
    DOCS_VENV="$ROOT/.venv/docs"
    local stamp="$DOCS_VENV/.fxiaoke-installed"
    local want
    want="$(sha256sum < "$lock" | cut -d' ' -f1)"
    if [ ! -x "$DOCS_VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        fxiaoke_bootstrap_uv
        echo "==> creating $DOCS_VENV (docs and distribution tools)" >&2
        rm -rf "$DOCS_VENV"
        "$UV" venv --quiet --python python3 "$DOCS_VENV"
        "$UV" pip install --quiet --python "$DOCS_VENV/bin/python" -r "$lock"
        echo "$want" > "$stamp"
    fi
}

fxiaoke_start_sandbox() {
    local python="$1" dir="$2"
    rm -f "$dir/sandbox.url"
    "$python" -m fxiaoke_provider.sandbox --port 0 --ready-file "$dir/sandbox.url" \
        --log-file "$dir/sandbox.log" > /dev/null &
    SANDBOX_PID=$!
    for _ in $(seq 100); do [ -s "$dir/sandbox.url" ] && break; sleep 0.1; done
    [ -s "$dir/sandbox.url" ] || { echo "the sandbox gateway did not start (log: $dir/sandbox.log)" >&2; return 1; }
    SANDBOX_URL="$(cat "$dir/sandbox.url")"
}

fxiaoke_sandbox_connection() {
    AIRFLOW_CONN_FXIAOKE_DEFAULT="$(SANDBOX_URL="$SANDBOX_URL" "$1" - <<'PY'
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
}

fxiaoke_nightly_load_round_trip() {
    local venv="$1"
    echo "==> airflow dags test fxiaoke_nightly_load (task output: $AIRFLOW_HOME/dags-test.log)"
    if ! "$venv/bin/airflow" dags test fxiaoke_nightly_load > "$AIRFLOW_HOME/dags-test.log" 2>&1; then
        tail -n 60 "$AIRFLOW_HOME/dags-test.log"
        return 1
    fi
    PYTHONPATH="$ROOT" "$venv/bin/python" "$ROOT/scripts/demo_report.py" "$SANDBOX_URL"
}
