#!/usr/bin/env bash
# MANUAL TOOL, not part of the tests or CI: a headless Chromium look at the fxiaoke connection form
# in the real Airflow 3 UI, for whoever changes the form and wants to see it (and refresh the
# screenshot in docs/). The automated form checks are tests/test_connection_form.py.
#
# What it installs, once:
#   * Debian's `chromium` package via apt-get (with sudo when not root), only if no `chromium` is on PATH;
#   * the Playwright Python package (pinned below) into the project's Airflow 3 venv (.venv/airflow-3),
#     used only as a driver for that chromium: no browser download.
# It runs `airflow api-server` on loopback with its own AIRFLOW_HOME (.airflow-home/ui-check).
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
PYTHONPATH="$ROOT" "$PY" scripts/ui_check.py --chromium "$(command -v chromium)" "$@"
echo "==> ui check took $((SECONDS - start))s" >&2
