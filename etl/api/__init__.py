"""Python access to a synced mirror: ``ctmirror.open(root_or_db_url)`` gives a read-only
``Mirror`` whose calls return Arrow tables, numpy samples and morphology objects."""

from __future__ import annotations

from ctmirror.api.mirror import GlifRun, Mirror, Reconstruction, Sweep, open_mirror

__all__ = ["GlifRun", "Mirror", "Reconstruction", "Sweep", "open_mirror"]
