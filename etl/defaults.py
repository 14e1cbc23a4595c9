"""Defaults the command line shows in its help, apart from ``ctmirror.settings`` (which applies
them) so that ``ctmirror --help`` loads neither pydantic nor SQLAlchemy."""

from __future__ import annotations

#: The real Allen Brain Atlas API.
DEFAULT_API_BASE = "http://api.brain-map.org"

__all__ = ["DEFAULT_API_BASE"]
