#!/usr/bin/env bash
# Re-pin requirements/*.txt from requirements/*.in (run by a maintainer, not by tests or CI).
set -euo pipefail
cd "$(dirname "$0")/../requirements"
for spec in *.in; do
    uv pip compile --quiet --universal --python-version 3.10 "$spec" -o "${spec%.in}.txt"
done
