"""Ephys features recomputed inside the sync: per cell, per sweep and per spike, beside the
published values, and only for recordings that changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctmirror.features.ephys import IPFX
from ctmirror.features.ephys.cell import cell_features
from ctmirror.readers.ephys import recordings_from_nwb
from ctmirror.settings import Settings, SyncConfig
from ctmirror.sync import run_sync_locally
from ctmirror.sync_features import EPHYS_CODE_VERSION
from tests.conftest import duckdb_url

from .warehouse_sql import assert_dataset_tables_match_files
from .warehouse_sql import query_rows as _rows


def _config(base_url: str, root: Path, url: str, definitions: str = "ipfx") -> SyncConfig:
    settings = Settings()
    settings.root = root
    settings.api.base_url = base_url
    settings.warehouse.url = url
    settings.files.categories = "recordings"
    settings.features.ephys_definitions = definitions
    settings.features.workers = 2
    return settings.sync_config()


def test_sync_recomputes_ephys_features_once(
    replica: object, warehouse_url: str, tmp_path: Path
) -> None:
    root = tmp_path / "mirror"
    first = run_sync_locally(_config(replica.base_url, root, warehouse_url))
    assert first.errors == ()
    assert first.stages["ephys-features"].pending == first.stages["ephys-features"].done == 3
    rows = _rows(warehouse_url, """
        SELECT r.specimen_id, m.relpath, r.definitions, r.code_version, r.rheobase_sweep_number,
               r.vrest, r.threshold_v_long_square, r.tau
        FROM ephys_features_recomputed r
        JOIN mirror_files m ON m.source_id = r.well_known_file_id AND m.sha256 = r.source_sha256
        ORDER BY 1""")
    assert len(rows) == 3
    for _, relpath, definitions, version, rheobase, vrest, threshold, tau in rows:
        expected = cell_features(recordings_from_nwb(root / relpath)[0], IPFX)
        assert (definitions, version) == ("ipfx", EPHYS_CODE_VERSION)
        assert rheobase == expected.rheobase_sweep_number
        assert (vrest, threshold, tau) == pytest.approx((
            expected.values["vrest"], expected.values["threshold_v_long_square"],
            expected.values["tau"]), rel=1e-12)
    sweeps = _rows(warehouse_url, "SELECT count(*), sum(spike_count) FROM ephys_sweep_features")
    assert sweeps[0][0] > 30
    assert sweeps[0][1] == first.stages["ephys-features"].counts["spikes"] > 0
    tables = assert_dataset_tables_match_files(warehouse_url, root)
    assert not tables or tables["ephys_spikes"] == sweeps[0][1]
    # Published values are paired where the published row has one (a short recording may not).
    comparison = _rows(warehouse_url, """
        SELECT count(*), count(c.published), count(c.recomputed),
               count(p.vrest), count(*) FILTER (WHERE c.published = p.vrest)
        FROM ephys_features_comparison c
        LEFT JOIN ephys_features p ON p.specimen_id = c.specimen_id
        WHERE c.feature = 'vrest'""")
    [(rows_, published, recomputed, in_table, paired)] = comparison
    assert (rows_, recomputed) == (3, 3) and published == in_table == paired

    second = run_sync_locally(_config(replica.base_url, root, warehouse_url))
    assert second.stages["ephys-features"].pending == 0 and second.errors == ()
    # Another definition set is computed beside the first, not over it.
    third = run_sync_locally(_config(replica.base_url, root, warehouse_url, "allen2016"))
    assert third.stages["ephys-features"].done == 3
    assert _rows(warehouse_url, "SELECT definitions, count(*) FROM ephys_features_recomputed "
                                "GROUP BY 1 ORDER BY 1") == [("allen2016", 3), ("ipfx", 3)]
    tables = assert_dataset_tables_match_files(warehouse_url, root)
    assert not tables or tables["ephys_spikes"] > sweeps[0][1]


def test_spikes_view_reads_the_spike_tables(synced_mirror: Path) -> None:
    # It only reads a synced mirror: the session's shared one, its features computed with the
    # default definitions (allen2016). The spikes the sync computed are the sweep features'
    # spike counts (the test above ties those to the stage's own count).
    url = duckdb_url(synced_mirror)
    [(computed,)] = _rows(url, "SELECT sum(spike_count) FROM ephys_sweep_features "
                               "WHERE definitions = 'allen2016'")
    [(spikes, cells, ordered)] = _rows(url, """
        SELECT count(*), count(DISTINCT specimen_id), bool_and(peak_t > threshold_t)
        FROM ephys_spikes WHERE definitions = 'allen2016'""")
    assert spikes == computed > 0 and cells == 3 and ordered
    [(matches,)] = _rows(url, """
        SELECT count(*) FROM ephys_spikes s
        JOIN ephys_sweep_features f USING (specimen_id, sweep_number, definitions)""")
    assert matches == spikes
