#!/usr/bin/env bash
# A real multi-worker Airflow 3 deployment on this machine, loopback only, then a fan-out of 30 sends.
#
# CeleryExecutor with Redis (broker) and PostgreSQL (metadata DB) from Debian's packages, one API server,
# one scheduler, one DAG processor and three Celery workers, each worker with its own AIRFLOW_HOME and so
# its own token directory, as separate machines would have. Tasks talk to the API server through
# Airflow's real execution API (which `dag.test()` bypasses), so a Variable-backed token is read and
# written the way a production worker does it. Prints token calls, deliveries and refusals.
#
#   scripts/multi_worker.sh [airflow|file|memory]   # the connection's token_cache (default: airflow)
#
# Not part of CI: needs root for `apt-get install -y redis-server postgresql` (done once if missing),
# about 2-4 minutes and ~3 GB of memory. The Celery provider, psycopg2 and redis are installed into a
# project-local venv (.venv/multi-worker) from requirements/multi-worker.txt (pinned). Everything it
# starts it stops; its files live in a temporary directory, logs are copied to .multi-worker-logs/.
set -euo pipefail
source "$(dirname "$0")/_env.sh"
cd "$ROOT"

TOKEN_CACHE="${1:-airflow}"
WORKERS=3
CONCURRENCY=4
DAG_ID=fxiaoke_multi_worker_fanout
RUN_TIMEOUT_S=600
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"

# --- packages -----------------------------------------------------------------------------------
if ! command -v redis-server > /dev/null || [ -z "$PG_BIN" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "redis-server and postgresql are missing; run as root to install them" >&2; exit 2; }
    echo "==> installing redis-server and postgresql from Debian's packages"
    apt-get update > /dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server postgresql > /dev/null
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
fi

VENV="$ROOT/.venv/multi-worker"
PY="$VENV/bin/python"
LOCK="$ROOT/requirements/multi-worker.txt"
want="$(cat "$LOCK" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$PY" ] || [ "$(cat "$VENV/.fxiaoke-installed" 2>/dev/null)" != "$want" ]; then
    fxiaoke_bootstrap_uv
    echo "==> creating $VENV (Airflow 3 + Celery provider, psycopg2, redis; pinned)"
    rm -rf "$VENV"
    "$UV" venv --quiet --python python3 "$VENV"
    "$UV" pip install --quiet --python "$PY" -r "$LOCK" -e "$ROOT"
    echo "$want" > "$VENV/.fxiaoke-installed"
fi

# --- processes and cleanup ----------------------------------------------------------------------
RUN_DIR="$(mktemp -d /tmp/fxiaoke-multi-worker.XXXXXX)"
chmod 755 "$RUN_DIR"  # the postgres user must reach its data directory inside
LOG_DIR="$ROOT/.multi-worker-logs"
PIDS=()
PG_DATA="$RUN_DIR/pg"

start() {  # start <name> <command...>: in the background, its own process group, output to a log
    local name="$1"; shift
    setsid "$@" > "$RUN_DIR/$name.log" 2>&1 &
    PIDS+=("$!")
    disown "$!"  # stopped by cleanup; no job notices
}

cleanup() {
    local status=$?
    set +e
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2> /dev/null; done
    for _ in $(seq 50); do
        alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2> /dev/null && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.2
    done
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2> /dev/null; done
    if [ -f "$PG_DATA/postmaster.pid" ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop > /dev/null 2>&1
    fi
    rm -rf "$LOG_DIR" && mkdir -p "$LOG_DIR"
    cp "$RUN_DIR"/*.log "$PG_DATA/postgres.log" "$LOG_DIR"/ 2> /dev/null
    for home in "$RUN_DIR"/home-*; do
        [ -d "$home/logs" ] && cp -r "$home/logs" "$LOG_DIR/$(basename "$home")-task-logs"
    done
    rm -rf "$RUN_DIR"
    echo "==> stopped everything; logs in $LOG_DIR"
    exit "$status"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

read -r PG_PORT REDIS_PORT API_PORT < <("$PY" scripts/multi_worker_report.py ports 3)

# --- PostgreSQL and Redis, loopback only --------------------------------------------------------
echo "==> PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT"
install -d -o postgres -g postgres -m 700 "$PG_DATA" "$RUN_DIR/pg-socket"
runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust > "$RUN_DIR/initdb.log"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -l "$PG_DATA/postgres.log" \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $RUN_DIR/pg-socket -c max_connections=300" start > /dev/null
runuser -u postgres -- "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -q \
    -c "CREATE USER airflow PASSWORD 'airflow'" -c "CREATE DATABASE airflow OWNER airflow"
install -d -m 700 "$RUN_DIR/redis"
start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$RUN_DIR/redis"

# --- the sandbox gateway ------------------------------------------------------------------------
start sandbox "$PY" -m fxiaoke_provider.sandbox --port 0 --ready-file "$RUN_DIR/sandbox.url" --quiet
for _ in $(seq 100); do [ -s "$RUN_DIR/sandbox.url" ] && break; sleep 0.1; done
SANDBOX_URL="$(cat "$RUN_DIR/sandbox.url")"
echo "==> sandbox gateway at $SANDBOX_URL"

# --- one Airflow deployment: shared configuration -----------------------------------------------
mkdir -p "$RUN_DIR/dags"
cp "$ROOT/tests/dags/$DAG_ID.py" "$RUN_DIR/dags/"
SECRETS="$("$PY" -c 'import secrets; from cryptography.fernet import Fernet
print(Fernet.generate_key().decode(), secrets.token_urlsafe(32), secrets.token_urlsafe(32))')"
read -r FERNET_KEY JWT_SECRET API_SECRET <<< "$SECRETS"
PG_URL="postgresql+psycopg2://airflow:airflow@127.0.0.1:$PG_PORT/airflow"
export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$RUN_DIR/dags"
export AIRFLOW__CORE__FERNET_KEY="$FERNET_KEY"
export AIRFLOW__CORE__PARALLELISM=32
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$API_PORT/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$PG_URL"
export AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql+psycopg2://airflow:airflow@127.0.0.1:$PG_PORT/airflow"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT="$API_PORT"
export AIRFLOW__API__SECRET_KEY="$API_SECRET"
export AIRFLOW__API_AUTH__JWT_SECRET="$JWT_SECRET"
export AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL=5
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=5
AIRFLOW_CONN_FXIAOKE_DEFAULT="$("$PY" scripts/multi_worker_report.py connection "$SANDBOX_URL" "$TOKEN_CACHE")"
export AIRFLOW_CONN_FXIAOKE_DEFAULT
AIRFLOW="$VENV/bin/airflow"

export AIRFLOW_HOME="$RUN_DIR/home-core"
mkdir -p "$AIRFLOW_HOME"
echo "==> migrating the PostgreSQL metadata DB"
"$AIRFLOW" db migrate > "$RUN_DIR/db-migrate.log" 2>&1 || { tail -n 40 "$RUN_DIR/db-migrate.log"; exit 1; }

echo "==> API server on 127.0.0.1:$API_PORT, scheduler, DAG processor"
start api-server "$AIRFLOW" api-server --host 127.0.0.1 --port "$API_PORT" --workers 1
start scheduler "$AIRFLOW" scheduler
start dag-processor "$AIRFLOW" dag-processor

WORKER_HOMES=()
for i in $(seq "$WORKERS"); do
    home="$RUN_DIR/home-worker$i"
    mkdir -p "$home"
    WORKER_HOMES+=("$home")
    echo "==> Celery worker $i (AIRFLOW_HOME=$home, concurrency $CONCURRENCY)"
    AIRFLOW_HOME="$home" start "worker$i" "$AIRFLOW" celery worker --concurrency "$CONCURRENCY" \
        --celery-hostname "worker$i@%h" --skip-serve-logs
done

echo "==> waiting for the API server, the workers and the DAG"
for _ in $(seq 300); do
    "$PY" - "$API_PORT" <<'PY' 2> /dev/null && break
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/v2/monitor/health", timeout=2)
PY
    sleep 1
done
for i in $(seq "$WORKERS"); do
    for _ in $(seq 300); do grep -q "ready" "$RUN_DIR/worker$i.log" 2> /dev/null && break; sleep 1; done
done
for _ in $(seq 300); do
    "$AIRFLOW" dags list -o plain 2> /dev/null | grep -q "$DAG_ID" && break
    sleep 2
done

RUN_ID="multi_worker_$(date +%s)"
echo "==> triggering $DAG_ID ($RUN_ID): 30 mapped sends, token_cache=$TOKEN_CACHE"
"$AIRFLOW" dags unpause "$DAG_ID" > /dev/null
"$AIRFLOW" dags trigger "$DAG_ID" --run-id "$RUN_ID" > /dev/null
echo "==> report"
"$PY" scripts/multi_worker_report.py report "$SANDBOX_URL" "$DAG_ID" "$RUN_ID" "$RUN_TIMEOUT_S" \
    "${WORKER_HOMES[@]}"
