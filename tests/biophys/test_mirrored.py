"""The mechanism files a sync mirrors for the perisomatic template are the ones the runner
compiles: a synced synthetic replica (which serves the bundled perisomatic ``.mod`` files)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ctmirror.biophys.mechanisms import mechanisms_hash, mod_files_in
from ctmirror.biophys.mirrored import mirrored_mod_files
from ctmirror.biophys.simulate import PERISOMATIC_TEMPLATE_ID
from ctmirror.errors import InputError
from ctmirror.settings import Settings
from ctmirror.sync import run_sync_locally
from ctmirror.warehouse.engine import create_warehouse_engine

pytestmark = pytest.mark.slow

BUNDLED = Path(__file__).parents[2] / "etl" / "replica" / "corpus" / "modfiles"


def test_mirrored_template_files_are_the_bundled_mechanisms(replica: object, tmp_path: Path):
    settings = Settings()
    settings.root = tmp_path / "mirror"
    settings.api.base_url = replica.base_url  # type: ignore[attr-defined]
    settings.files.categories = "models"
    settings.features.ephys = settings.features.morphology = settings.features.glif = False
    result = run_sync_locally(settings.sync_config())
    assert result.errors == ()
    engine = create_warehouse_engine(settings.warehouse_url(), read_only=True)
    try:
        found = mirrored_mod_files(engine, settings.root, PERISOMATIC_TEMPLATE_ID)
        with pytest.raises(InputError, match="no mirrored .mod files of template 1:"):
            mirrored_mod_files(engine, settings.root, 1)
    finally:
        engine.dispose()
    bundled = mod_files_in(BUNDLED)
    assert sorted(p.name for p in found) == sorted(p.name for p in bundled)
    assert len(found) == 16
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in found} == \
        {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in bundled}
    # the same bytes: the runner reuses a compile of either set
    assert mechanisms_hash(found) == mechanisms_hash(bundled)
