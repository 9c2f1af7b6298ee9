#!/usr/bin/env bash
# Re-pin requirements/*.txt from requirements/*.in (run by a maintainer, not by tests or CI): the
# Airflow test environments and the docs/distribution tools, for Python 3.11 (requires-python), with
# the project's own pinned uv (bootstrapped into .venv/tools by scripts/_env.sh), never whatever uv
# is on PATH.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
fxiaoke_bootstrap_uv
cd "$ROOT/requirements"
for spec in *.in; do
    "$UV" pip compile --quiet --universal --python-version 3.11 "$spec" -o "${spec%.in}.txt"
done
