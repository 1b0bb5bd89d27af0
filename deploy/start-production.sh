#!/usr/bin/env bash
# Start townstat in production on one machine: the Dagster daemon (sensor, schedule, run
# queue) and the Dagster UI, both over the code location in workspace.yaml.
#
#   deploy/start-production.sh [all|daemon|webserver]     (default: all)
#
# Required environment (see docs/deployment.md):
#   WAREHOUSE_URL        postgresql+psycopg://townstat:...@db-host:5432/townstat
#   TOWNSTAT_PII_KEY     the HMAC key for person IDs (production refuses to run without it)
#   DAGSTER_PG_HOST, DAGSTER_PG_PORT, DAGSTER_PG_USERNAME, DAGSTER_PG_PASSWORD, DAGSTER_PG_DB
#                        Dagster's own PostgreSQL database (deploy/dagster.yaml)
# Optional:
#   TOWNSTAT_RAW_DIR (raw), TOWNSTAT_CACHE_DIR (warehouse/cache),
#   TOWNSTAT_STAGING_DIR (warehouse/staging), DAGSTER_HOME (<repo>/dagster_home/production),
#   TOWNSTAT_UI_HOST (127.0.0.1), TOWNSTAT_UI_PORT (3000), TOWNSTAT_QUIET_SECONDS (60),
#   TOWNSTAT_SENSOR_INTERVAL (30), TOWNSTAT_SENSOR_RETRIES (1), TOWNSTAT_RETRY_DELAY_SECONDS (600)
set -euo pipefail

mode="${1:-all}"
case "$mode" in all|daemon|webserver) ;; *) echo "usage: $0 [all|daemon|webserver]" >&2; exit 2 ;; esac

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

missing=()
for var in WAREHOUSE_URL TOWNSTAT_PII_KEY DAGSTER_PG_HOST DAGSTER_PG_PORT DAGSTER_PG_USERNAME \
           DAGSTER_PG_PASSWORD DAGSTER_PG_DB; do
  if [ -z "${!var+x}" ]; then missing+=("$var"); fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "缺少环境变量 / missing environment: ${missing[*]} (see docs/deployment.md)" >&2
  exit 2
fi
case "$WAREHOUSE_URL" in
  postgresql*) ;;
  *) echo "WAREHOUSE_URL must be a PostgreSQL URL in production (got a ${WAREHOUSE_URL%%:*} URL)" >&2; exit 2 ;;
esac

export TOWNSTAT_ENV=production       # sensor and schedule RUNNING; a real PII key required
export TOWNSTAT_RAW_DIR="$(realpath -m "${TOWNSTAT_RAW_DIR:-raw}")"
export TOWNSTAT_CACHE_DIR="$(realpath -m "${TOWNSTAT_CACHE_DIR:-warehouse/cache}")"
export TOWNSTAT_STAGING_DIR="$(realpath -m "${TOWNSTAT_STAGING_DIR:-warehouse/staging}")"
export DAGSTER_HOME="$(realpath -m "${DAGSTER_HOME:-$repo/dagster_home/production}")"
mkdir -p "$DAGSTER_HOME" "$TOWNSTAT_CACHE_DIR" "$TOWNSTAT_STAGING_DIR"
install -m 0644 "$repo/deploy/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
if [ ! -d "$TOWNSTAT_RAW_DIR" ]; then
  echo "warning: the raw area $TOWNSTAT_RAW_DIR does not exist (yet); the sensor waits for it" >&2
fi

if [ -x "$repo/.venv/bin/dagster-daemon" ]; then
  bin="$repo/.venv/bin/"
else
  bin="uv run --frozen "
fi

# Fail early, with a readable message, if the PII key is unusable in production.
${bin}python -c "from pipelines.ingest.pseudonymise import pii_key; pii_key()" >/dev/null

echo "townstat production: DAGSTER_HOME=$DAGSTER_HOME raw=$TOWNSTAT_RAW_DIR" >&2
case "$mode" in
  daemon)
    exec ${bin}dagster-daemon run -w workspace.yaml ;;
  webserver)
    exec ${bin}dagster-webserver -w workspace.yaml -h "${TOWNSTAT_UI_HOST:-127.0.0.1}" \
      -p "${TOWNSTAT_UI_PORT:-3000}" ;;
  all)
    ${bin}dagster-daemon run -w workspace.yaml &
    daemon=$!
    ${bin}dagster-webserver -w workspace.yaml -h "${TOWNSTAT_UI_HOST:-127.0.0.1}" \
      -p "${TOWNSTAT_UI_PORT:-3000}" &
    web=$!
    stop() { kill -TERM "$daemon" "$web" 2>/dev/null || true; wait "$daemon" "$web" 2>/dev/null || true; }
    trap 'stop; exit 143' TERM INT
    # Whichever stops first (a crash), stop the other and exit non-zero for the supervisor.
    set +e
    wait -n "$daemon" "$web"
    rc=$?
    stop
    exit $((rc == 0 ? 1 : rc)) ;;
esac
