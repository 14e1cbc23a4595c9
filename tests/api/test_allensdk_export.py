"""`ctmirror export allensdk-cache` against SQL on the warehouse: the manifest AllenSDK's
CellTypesCache expects, the records of each cached file, and the recordings and
reconstructions as links to the mirror's verified files. (An unmodified AllenSDK reading the
export offline is checked by bench/allensdk_export_check.py, in its own virtualenv.)"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ctmirror.api.allensdk_cache import export_allensdk_cache
from ctmirror.cli import app
from ctmirror.errors import ConfigError, InputError
from tests.conftest import duckdb_url as warehouse_url

Sql = Callable[..., list[dict[str, Any]]]

pytestmark = pytest.mark.slow


def _raw(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [json.loads(r["raw"]) if isinstance(r["raw"], str) else r["raw"] for r in rows]


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _as_csv(value: Any) -> str:
    return "" if value is None else str(value)


@pytest.fixture(scope="module")
def exported(synced_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdk") / "cache"
    summary = export_allensdk_cache(warehouse_url(synced_mirror), synced_mirror, out)
    assert summary.recordings >= 3 and summary.reconstructions >= 1
    assert summary.linked == summary.recordings + summary.reconstructions + summary.markers
    return out


def test_manifest_is_the_cell_types_caches(exported: Path) -> None:
    manifest = json.loads((exported / "manifest.json").read_text())["manifest"]
    assert manifest[0] == {"type": "manifest_version", "value": "1.1"}
    specs = {e["key"]: e["spec"] for e in manifest if e.get("type") == "file"}
    assert specs["CELLS"] == "cells.json"
    assert specs["EPHYS_DATA"] == "specimen_%d/ephys.nwb"
    assert specs["RECONSTRUCTION"] == "specimen_%d/reconstruction.swc"


def test_cached_records_are_the_mirrors(exported: Path, warehouse_sql: Sql) -> None:
    cells = _raw(warehouse_sql("SELECT raw FROM api_cell_types_specimen_details "
                               "WHERE removed_at IS NULL ORDER BY specimen__id"))
    assert json.loads((exported / "cells.json").read_text()) == cells
    features = _raw(warehouse_sql(
        "SELECT f.raw FROM ephys_features f JOIN specimens s ON s.id = f.specimen_id "
        "JOIN ephys_results r ON r.id = s.ephys_result_id WHERE f.removed_at IS NULL "
        "AND r.failed = false ORDER BY f.id"))
    assert 0 < len(features) < len(cells)  # the failed cell's features are left out
    written = _csv(exported / "ephys_features.csv")
    assert list(written[0]) == list(features[0])
    assert written == [{k: _as_csv(v) for k, v in f.items()} for f in features]
    shapes = _csv(exported / "morphology_features.csv")
    # AllenSDK 2.16 asks to leave out the fields t, a, g and s (its excpt="tags" split into
    # letters), so tags stays in its cache
    assert shapes and "tags" in shapes[0]
    specimen = int(written[0]["specimen_id"])
    sweeps = _raw(warehouse_sql("SELECT raw FROM ephys_sweeps WHERE specimen_id = :s AND "
                                "removed_at IS NULL ORDER BY sweep_number", s=specimen))
    assert json.loads((exported / f"specimen_{specimen}" / "ephys_sweeps.json").read_text()
                      ) == sweeps


def test_files_are_links_to_the_verified_mirror(exported: Path, synced_mirror: Path,
                                                warehouse_sql: Sql) -> None:
    recordings = warehouse_sql("SELECT specimen_id, relpath FROM mirror_files WHERE "
                               "kind = 'nwb' AND removed_at IS NULL")
    assert recordings
    for row in recordings:
        linked = exported / f"specimen_{row['specimen_id']}" / "ephys.nwb"
        assert linked.samefile(synced_mirror / row["relpath"])
    swc = warehouse_sql("SELECT c.specimen_id, m.relpath FROM cells c JOIN well_known_files w "
                        "ON w.attachable_id = c.neuron_reconstruction_id JOIN mirror_files m "
                        "ON m.source_id = w.id AND m.kind = 'swc'")
    for row in swc:
        linked = exported / f"specimen_{row['specimen_id']}" / "reconstruction.swc"
        assert linked.samefile(synced_mirror / row["relpath"])


def test_some_cells_copied_by_the_command(synced_mirror: Path, warehouse_sql: Sql,
                                          tmp_path: Path) -> None:
    cell = warehouse_sql("SELECT specimen_id, relpath FROM mirror_files WHERE kind = 'nwb' "
                         "ORDER BY specimen_id")[0]
    out = tmp_path / "some"
    result = CliRunner().invoke(app, ["export", "allensdk-cache", str(out), "--cells",
                                      str(cell["specimen_id"]), "--copy", "--root",
                                      str(synced_mirror)])
    assert result.exit_code == 0, result.output
    assert "1 cells, 1 recordings" in result.output and "3 copied" in result.output
    cells = json.loads((out / "cells.json").read_text())
    assert [c["specimen__id"] for c in cells] == [cell["specimen_id"]]
    nwb = out / f"specimen_{cell['specimen_id']}" / "ephys.nwb"
    assert not nwb.samefile(synced_mirror / cell["relpath"])
    assert nwb.read_bytes() == (synced_mirror / cell["relpath"]).read_bytes()
    assert {r["specimen_id"] for r in _csv(out / "ephys_features.csv")} == {
        str(cell["specimen_id"])}
    with pytest.raises(InputError, match="not in the mirror: cell 1"):
        export_allensdk_cache(warehouse_url(synced_mirror), synced_mirror, out, cells=[1])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="neither empty nor an AllenSDK cache"):
        export_allensdk_cache(warehouse_url(synced_mirror), synced_mirror, tmp_path / "busy")
