#!/bin/sh
# The superset service: migrate Superset's own database, make sure the admin exists, import the
# dashboard (again on every start, so an updated dashboards/superset replaces the old one), serve.
set -eu
superset db upgrade
superset fab create-admin --username "$SUPERSET_ADMIN_USERNAME" --firstname ctmirror \
    --lastname admin --email admin@localhost --password "$SUPERSET_ADMIN_PASSWORD"
superset init
python /app/ctmirror/dashboard/bundle.py /tmp/ctmirror-dashboard.zip
superset import-dashboards -p /tmp/ctmirror-dashboard.zip -u "$SUPERSET_ADMIN_USERNAME"
exec gunicorn --bind 0.0.0.0:8088 --workers 2 --timeout 120 "superset.app:create_app()"
