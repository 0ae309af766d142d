#!/bin/sh
# Makes the secret files deploy/compose.yaml hands to the containers, once per installation.
# Existing files are kept (re-running never changes a signing key: receipts already issued
# stay verifiable only with the key that signed them).
#
#   sh deploy/secrets/make-secrets.sh
#
# kntc-signing-key.pem     Ed25519 private key (PEM) that signs every receipt: back it up
#                          offline; publish its public half via GET /api/v1/receipts/public-key
# postgres-password        password of the PostgreSQL role kntc
# database-url             DATABASE_URL of the KNTC containers (uses postgres-password)
# grafana-admin-password   Grafana's admin password
set -eu
cd "$(dirname "$0")"
umask 077

[ -s kntc-signing-key.pem ] || openssl genpkey -algorithm ed25519 -out kntc-signing-key.pem
[ -s postgres-password ] || openssl rand -hex 24 | tr -d '\n' > postgres-password
[ -s database-url ] || printf 'postgresql+psycopg://kntc:%s@postgres:5432/kntc' "$(cat postgres-password)" > database-url
[ -s grafana-admin-password ] || openssl rand -hex 16 | tr -d '\n' > grafana-admin-password

# The containers run as other users (kntc 10001, postgres 999, grafana 472) and see only the
# file, bind-mounted: the files are world-readable, this directory is not.
chmod 0700 .
chmod 0644 kntc-signing-key.pem postgres-password database-url grafana-admin-password
echo "secrets ready in $(pwd)"
