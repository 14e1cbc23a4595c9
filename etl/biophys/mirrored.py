"""The mechanism files of a model template as the mirror holds them: the template's
``BiophysicalModelDescription`` files (``ctmirror sync --files models``)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from ctmirror.errors import InputError

_TEMPLATE_FILES = sa.text("""
    SELECT f.relpath FROM neuronal_model_template_well_known_files l
    JOIN well_known_files w ON w.id = l.well_known_file_id AND w.removed_at IS NULL
    JOIN mirror_files f ON f.source = 'well_known_file' AND f.source_id = w.id
                       AND f.removed_at IS NULL
    WHERE l.neuronal_model_template_id = :template AND l.removed_at IS NULL
    ORDER BY f.relpath
""")


def mirrored_mod_files(engine: sa.Engine, root: Path, template_id: int) -> list[Path]:
    """The mirrored ``.mod`` files of a template; an input error when there are none."""
    with engine.connect() as conn:
        relpaths = list(conn.execute(_TEMPLATE_FILES, {"template": template_id}).scalars())
    found = [root / relpath for relpath in relpaths if relpath.endswith(".mod")]
    missing = [path for path in found if not path.is_file()]
    if not found:
        raise InputError(f"no mirrored .mod files of template {template_id}: run "
                         f"`ctmirror sync --files models`, or give --modfiles")
    if missing:
        raise InputError(f"{len(missing)} mirrored .mod files of template {template_id} are "
                         f"missing (e.g. {missing[0]}): run `ctmirror verify --fix` and sync")
    return found


__all__ = ["mirrored_mod_files"]
