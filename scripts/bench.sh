#!/usr/bin/env bash
# The benchmark command: one table of what the provider costs, each figure a ratio against a baseline
# measured in the same run (bare requests, the gateway's limit, one token per process, bare Airflow,
# the bytes streamed, the fewest calls an upsert can make). Runs on the latest Airflow 3 in about two
# minutes (the paced export alone takes 40 s); not part of the test suite (figures depend on the
# machine). Extra arguments go to benchmarks/bench.py (see --help; --only export,reading picks rows).
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$ROOT"

fxiaoke_env 3
export AIRFLOW_HOME="$ROOT/.airflow-home/bench"  # its own home: never the test suite's
mkdir -p "$AIRFLOW_HOME"
export AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR  # library log lines would land in the table on stdout
unset PYTHONDONTWRITEBYTECODE  # parse cost is measured with cached bytecode, as in a deployment
export PYTHONPATH="$ROOT"  # the benchmark reuses tests/support.py as the package module tests.support
exec "$PY" benchmarks/bench.py "$@"
