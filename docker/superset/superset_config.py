"""Superset's settings for the ctmirror dashboard, all from the environment.

Used by the docker-compose service and by bench/superset_check.py alike:
    SUPERSET_SECRET_KEY        signs sessions and encrypts stored database passwords
    SUPERSET_METADATA_DB_URI   Superset's own database (users, charts, dashboards)
"""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_METADATA_DB_URI"]

# Charts below the fold load at once, so a screenshot or a reader scrolling sees them all.
FEATURE_FLAGS = {"DASHBOARD_VIRTUALIZATION": False}
# The warehouse is read through a read-only role: no SQL Lab writes, no uploads.
PREVENT_UNSAFE_DB_CONNECTIONS = True
WTF_CSRF_ENABLED = True
