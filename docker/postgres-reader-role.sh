#!/bin/sh
# First start of the postgres container: create the read-only role ctmirror_reader in the
# warehouse database, with its password from the environment (docker-compose.yml).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v reader_password="$CTMIRROR_READER_PASSWORD" -v owner="$POSTGRES_USER" \
    -f /etc/ctmirror/reader-role.sql
