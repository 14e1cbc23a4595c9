"""Alembic revision files, date-prefixed so they sort by time."""
