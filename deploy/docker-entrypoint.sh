#!/bin/sh
# kntc-entrypoint ROLE [ARGS...]: the roles of the KNTC image.
#   web [gunicorn options]        gunicorn -c /app/deploy/gunicorn.conf.py ... 'web:create_app()'
#   worker [dramatiq options]     dramatiq workers --processes $KNTC_WORKER_PROCESSES --threads $KNTC_WORKER_THREADS ...
#   migrate                       kntc db upgrade
#   scheduler                     kntc scheduler (periodic jobs: overdue and stuck petitions; one or more)
#   anything else                 run as given (kntc units import ..., kntc accounts create ..., sh)
#
# Secrets as files (compose secrets, Kubernetes secret volumes): for NAME in KNTC_SIGNING_KEY,
# DATABASE_URL and REDIS_URL, NAME_FILE=/path sets NAME from that file unless NAME is set.
set -eu

for name in KNTC_SIGNING_KEY DATABASE_URL REDIS_URL; do
  eval "file=\${${name}_FILE:-}"
  eval "value=\${${name}:-}"
  if [ -n "$file" ] && [ -z "$value" ]; then
    if [ ! -r "$file" ]; then
      echo "kntc-entrypoint: ${name}_FILE=$file is not a readable file" >&2
      exit 64
    fi
    export "$name=$(cat "$file")"
  fi
done

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    # Every web replica must sign receipts with the same key; a generated one would differ per container.
    if [ -z "${KNTC_SIGNING_KEY:-}" ] && [ "${KNTC_ALLOW_GENERATED_KEY:-0}" != "1" ]; then
      echo "kntc-entrypoint: set KNTC_SIGNING_KEY or KNTC_SIGNING_KEY_FILE (Ed25519 PEM);" \
        "KNTC_ALLOW_GENERATED_KEY=1 accepts a key generated into \$KNTC_DATA_DIR (one replica only)" >&2
      exit 64
    fi
    exec gunicorn -c /app/deploy/gunicorn.conf.py "$@" 'web:create_app()'
    ;;
  worker)
    # Metric files of a previous run of this container (restart: unless-stopped keeps /tmp) go.
    rm -rf "${dramatiq_prom_db:?}"
    mkdir -p "$dramatiq_prom_db"
    exec dramatiq workers --processes "${KNTC_WORKER_PROCESSES:-2}" --threads "${KNTC_WORKER_THREADS:-8}" "$@"
    ;;
  migrate)
    exec kntc db upgrade "$@"
    ;;
  scheduler)
    exec kntc scheduler "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
