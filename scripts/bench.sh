#!/usr/bin/env bash
# The benchmark command: DAG-parse cost, send throughput, token sharing, round trips and fan-out,
# measured in one run on the latest Airflow 3 and printed as one table (stdout; progress on stderr).
# Not part of the test suite: the figures depend on the machine. Extra arguments go to
# `python -m benchmarks` (e.g. --import-runs 30; see --help).
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$ROOT"

fxiaoke_env 3
export AIRFLOW_HOME="$ROOT/.airflow-home/bench"  # its own home: never the test suite's
mkdir -p "$AIRFLOW_HOME"
unset PYTHONDONTWRITEBYTECODE  # parse cost is measured with cached bytecode, as in a deployment
exec "$PY" -m benchmarks "$@"
