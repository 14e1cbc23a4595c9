"""``ctmirror features ephys`` on a recording of the test corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from ctmirror.cli import app
from ctmirror.features.ephys import IPFX
from ctmirror.features.ephys.cell import cell_features
from ctmirror.readers.ephys import recordings_from_nwb


def test_json_features_and_spike_table(synth_snapshot: Path, tmp_path: Path) -> None:
    nwb = sorted(synth_snapshot.rglob("*.nwb"))[0]
    out = tmp_path / "spikes.parquet"
    result = CliRunner().invoke(app, ["features", "ephys", "--nwb", str(nwb), "--definitions",
                                      "ipfx", "--json", "--spikes", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout[result.stdout.index("{"):])
    expected = cell_features(recordings_from_nwb(nwb)[0], IPFX)
    assert printed["definitions"] == "ipfx"
    assert printed["rheobase_sweep_number"] == expected.rheobase_sweep_number
    assert printed["features"]["threshold_v_long_square"] == expected.values[
        "threshold_v_long_square"]
    spikes = pq.read_table(out)
    for column in ("sweep_number", "threshold_index", "threshold_t", "threshold_v", "peak_t",
                   "peak_v", "fast_trough_v", "upstroke_downstroke_ratio"):
        assert column in spikes.column_names
    rows = spikes.to_pylist()
    assert rows and all(r["peak_t"] > r["threshold_t"] and r["peak_v"] > r["threshold_v"]
                        for r in rows)


def test_unreadable_file_is_one_error_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.nwb"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    result = CliRunner().invoke(app, ["features", "ephys", "--nwb", str(broken)])
    assert result.exit_code == 1
    assert "HDF5 does not open" in result.output
