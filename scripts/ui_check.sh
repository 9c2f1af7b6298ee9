#!/usr/bin/env bash
# Headless Chromium look at the fxiaoke connection form in the real Airflow 3 UI.
# Installs what it needs: Debian's chromium (apt, when missing) and the Playwright Python package into
# the project's Airflow 3 venv, used only as a driver for /usr/bin/chromium (no browser download).
# Writes docs/connection-form.png (or the path given with --out); exit 1 when a field is missing.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$ROOT"

if ! command -v chromium > /dev/null; then
    echo "==> installing chromium (apt)" >&2
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
fi

fxiaoke_env 3
export AIRFLOW_HOME="$ROOT/.airflow-home/ui-check"
mkdir -p "$AIRFLOW_HOME"
if ! "$PY" -c "import playwright" 2> /dev/null; then
    fxiaoke_bootstrap_uv
    echo "==> installing playwright (driver only) into $VENV" >&2
    "$UV" pip install --quiet --python "$PY" "playwright==1.65.2"
fi

start=$SECONDS
"$PY" scripts/ui_check.py --chromium "$(command -v chromium)" "$@"
echo "==> ui check took $((SECONDS - start))s" >&2
