"""The published copy opens with DuckDB 1.1.3, the oldest DuckDB it is written for, in its own
virtualenv (made once, kept under the project's .venv), and every table and view gives the
count DuckDB 2 gives (``make compat``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ctmirror.replica.server import serve_in_thread
from ctmirror.settings import Settings
from ctmirror.sync import run_sync_locally
from ctmirror.warehouse.published import published_path

pytestmark = pytest.mark.compat

OLD_DUCKDB = "1.1.3"
_VENV = Path(sys.prefix) / "compat" / f"duckdb-{OLD_DUCKDB}"

#: Counts every table and view of the copy given as argv[1], from the mirror root argv[2].
_COUNT = """
import json, sys, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
conn.execute("SET file_search_path = ?", [sys.argv[2]])  # 1.1 takes it as a setting only
names = [n for (n,) in conn.execute(
    "SELECT table_name FROM duckdb_tables() WHERE NOT internal UNION ALL "
    "SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
print(json.dumps({"version": duckdb.__version__, "counts": {
    n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}}))
"""


def _old_duckdb() -> Path:
    python = _VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"duckdb=={OLD_DUCKDB}"],
                       check=True)
    return python


def test_duckdb_1_1_opens_the_published_copy(synth_snapshot: Path, tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    settings = Settings()
    settings.root = root
    settings.files.categories = "recordings,reconstructions"
    settings.features.glif = False
    with serve_in_thread(synth_snapshot) as replica:
        settings.api.base_url = replica.base_url
        run_sync_locally(settings.sync_config())
    copy = published_path(root / "warehouse.duckdb")

    out = subprocess.run([str(_old_duckdb()), "-c", _COUNT, str(copy), str(root)],
                         check=True, capture_output=True, text=True).stdout
    old = json.loads(out)
    assert old["version"] == OLD_DUCKDB
    with duckdb.connect(str(copy), read_only=True, config={"file_search_path": str(root)}
                        ) as conn:
        new = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
               for name in old["counts"]}
    assert old["counts"] == new
    assert {"api_cell_types_specimen_details", "sweeps", "ephys_spikes"} <= set(new)
    assert new["sweeps"] > 0 and new["ephys_spikes"] > 0
