#!/usr/bin/env bash
# Smoke test of the built artefacts, as a user gets them: builds the sdist and the wheel, checks their
# metadata (`twine check --strict`, the project URLs) and contents, installs the WHEEL (not editable)
# with the pinned Airflow 3 requirements into a fresh virtualenv (.venv/smoke-wheel) and, from there
# with its own AIRFLOW_HOME (.airflow-home/smoke-wheel): `airflow providers get fxiaoke-provider`, DAG
# bundle setup and parsing with load_examples on (no provider import error), and the example DAG
# fxiaoke_nightly_load against the installed sandbox gateway. Called by scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$ROOT"
DIST_NAME="fxiaoke-provider"
OUT="$ROOT/dist"
SMOKE_VENV="$ROOT/.venv/smoke-wheel"
start=$SECONDS

fail() { echo "smoke: $*" >&2; exit 1; }

fxiaoke_bootstrap_uv
fxiaoke_docs_env
mkdir -p "$ROOT/.airflow-home"
export AIRFLOW_HOME="$ROOT/.airflow-home/smoke-wheel"
rm -rf "$AIRFLOW_HOME" "$OUT" && mkdir -p "$AIRFLOW_HOME"

echo "==> building sdist and wheel into dist/ (log: $AIRFLOW_HOME/build.log)"
"$UV" build --out-dir "$OUT" "$ROOT" > "$AIRFLOW_HOME/build.log" 2>&1 \
    || { cat "$AIRFLOW_HOME/build.log"; fail "build failed"; }
# Any deprecation or packaging warning fails (byte-compiling is off when PYTHONDONTWRITEBYTECODE is set).
if grep -i -E "deprecat|warning" "$AIRFLOW_HOME/build.log" | grep -v "byte-compiling is disabled"; then
    fail "the build warned (above)"
fi
sdist=("$OUT"/fxiaoke_provider-*.tar.gz)
wheel=("$OUT"/fxiaoke_provider-*-py3-none-any.whl)
[ -f "${sdist[0]}" ] && [ -f "${wheel[0]}" ] || fail "expected one sdist and one wheel in dist/, got: $(ls "$OUT")"

echo "==> twine check --strict"
"$DOCS_VENV/bin/twine" check --strict "${sdist[0]}" "${wheel[0]}"

echo "==> artefact contents"
"$DOCS_VENV/bin/python" - "${sdist[0]}" "${wheel[0]}" <<'PY'
import sys, tarfile, zipfile
from email.parser import Parser

sdist, wheel = sys.argv[1], sys.argv[2]
with tarfile.open(sdist) as tar:
    s_names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
with zipfile.ZipFile(wheel) as whl:
    w_names = set(whl.namelist())
    (meta_name,) = [n for n in w_names if n.endswith(".dist-info/METADATA")]
    meta = Parser().parsestr(whl.read(meta_name).decode())
problems = []
for top in ("tests/", "benchmarks/", "scripts/", "example_dags/", "docs/", "requirements/"):
    problems += [f"sdist ships {n}" for n in s_names if n.startswith(top)]
    problems += [f"wheel ships {n}" for n in w_names if n.startswith(top)]
for need in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "fxiaoke_provider/py.typed"):
    if need not in s_names:
        problems.append(f"sdist lacks {need}")
if "fxiaoke_provider/py.typed" not in w_names:
    problems.append("wheel lacks fxiaoke_provider/py.typed")
if not any(n.endswith(".dist-info/licenses/LICENSE") for n in w_names):
    problems.append("wheel lacks the LICENSE file")
checks = {
    "Name": "fxiaoke-provider",
    "License-Expression": "Apache-2.0",
    "Requires-Python": ">=3.11",
}
for field, want in checks.items():
    if meta.get(field) != want:
        problems.append(f"METADATA {field}: {meta.get(field)!r}, expected {want!r}")
requires = " ".join(meta.get_all("Requires-Dist") or [])
for dep in ("apache-airflow", "requests", "tenacity"):
    if dep not in requires:
        problems.append(f"METADATA does not require {dep}")
# The index shows these links, and Airflow's providers page its Documentation link.
urls = dict(entry.split(", ", 1) for entry in meta.get_all("Project-URL") or [])
for label in ("Documentation", "Source", "Changelog", "Issues"):
    if not urls.get(label, "").startswith("https://"):
        problems.append(f"METADATA Project-URL {label}: {urls.get(label)!r}, expected an https URL")
if problems:
    sys.exit("\n".join(problems))
print(f"    sdist {len(s_names)} entries, wheel {len(w_names)} entries; metadata {meta['Name']} {meta['Version']}")
for label, url in urls.items():
    print(f"    Project-URL {label}: {url}")
PY

echo "==> fresh virtualenv $SMOKE_VENV with the wheel and requirements/airflow-3.txt"
rm -rf "$SMOKE_VENV"
"$UV" venv --quiet --python python3 "$SMOKE_VENV"
"$UV" pip install --quiet --python "$SMOKE_VENV/bin/python" -r "$ROOT/requirements/airflow-3.txt" "${wheel[0]}"
AIRFLOW="$SMOKE_VENV/bin/airflow"
PY="$SMOKE_VENV/bin/python"

# Run from AIRFLOW_HOME, never from the checkout: the package must come from the installed wheel.
cd "$AIRFLOW_HOME"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/example_dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
where="$("$PY" -c 'import fxiaoke_provider; print(fxiaoke_provider.__file__)')"
case "$where" in
    "$SMOKE_VENV"/*) echo "    fxiaoke_provider imported from $where" ;;
    *) fail "fxiaoke_provider imported from $where, not from the installed wheel" ;;
esac
version="$("$PY" -c 'import fxiaoke_provider; print(fxiaoke_provider.__version__)')"

"$AIRFLOW" db migrate > "$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }

echo "==> airflow providers get $DIST_NAME"
"$AIRFLOW" providers get "$DIST_NAME" -o plain > "$AIRFLOW_HOME/providers-get.log" 2>&1 \
    || { cat "$AIRFLOW_HOME/providers-get.log"; fail "airflow providers get $DIST_NAME failed"; }
grep -E "^$DIST_NAME[[:space:]]+$version([[:space:]]|$)" "$AIRFLOW_HOME/providers-get.log" \
    || { cat "$AIRFLOW_HOME/providers-get.log"; fail "no '$DIST_NAME $version' row"; }

echo "==> DAG bundles and parsing with load_examples on (airflow dags reserialize)"
AIRFLOW__CORE__LOAD_EXAMPLES=True "$AIRFLOW" dags reserialize > "$AIRFLOW_HOME/reserialize.log" 2>&1 \
    || { tail -n 40 "$AIRFLOW_HOME/reserialize.log"; fail "airflow dags reserialize failed"; }
AIRFLOW__CORE__LOAD_EXAMPLES=True "$AIRFLOW" dags list-import-errors -o plain \
    > "$AIRFLOW_HOME/import-errors.log" 2>&1 || true
# Airflow's own examples may lack optional packages (kubernetes...): only this provider's lines count.
if grep -n -i -E "example DAG discovery|fxiaoke" "$AIRFLOW_HOME/reserialize.log" "$AIRFLOW_HOME/import-errors.log" \
    | grep -i -E "error|could not|traceback|exception"; then
    fail "provider import error while setting up bundles / parsing (above)"
fi
grep -q "fxiaoke_nightly_load" "$AIRFLOW_HOME/reserialize.log" \
    || fail "the example DAGs were not parsed (log: $AIRFLOW_HOME/reserialize.log)"
echo "    no provider import error; example DAGs parsed"

echo "==> sandbox gateway from the installed wheel"
fxiaoke_start_sandbox "$PY" "$AIRFLOW_HOME"
trap 'kill "$SANDBOX_PID" 2>/dev/null || true' EXIT
echo "    sandbox at $SANDBOX_URL"
fxiaoke_sandbox_connection "$PY"
fxiaoke_nightly_load_round_trip "$SMOKE_VENV"
echo "==> wheel smoke test passed in $((SECONDS - start))s"
