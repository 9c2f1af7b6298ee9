# Sourced by the project's scripts: builds (or reuses) a project-local virtual environment for one
# Airflow generation and a project-local AIRFLOW_HOME, so nothing touches the user's own Airflow.
#   fxiaoke_env <flavour>   flavour: 3 (latest Airflow 3) or 2.11
# Sets VENV, PY, AIRFLOW_HOME. Reinstalls only when requirements/<flavour>.txt or pyproject.toml change.

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
