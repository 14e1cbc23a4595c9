"""SWC and marker files into Parquet: values as in the file, checked trees only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from ctmirror.convert.reconstruction import convert_reconstruction
from ctmirror.errors import SwcError
from ctmirror.readers.swc import read_swc

DATA = Path(__file__).parent.parent / "data"
SWC = DATA / "swc" / "Sst-IRES-Cre_Ai14_IVSCC_-173191.06.01.01_397902247_m.swc"
MODEL = DATA / "realdata_mini" / "biophysical_models" / "osb_AllenInstituteNeuroML" / \
    "neuronal_model_472450023"
MARKER = MODEL / "Sst-IRES-Cre_Ai14-165865.03.01.01_491119181_marker_m.swc"
IDS = {"specimen_id": 397902247, "neuron_reconstruction_id": 5, "well_known_file_id": 6}


def test_swc_nodes_are_the_files_rows(tmp_path: Path) -> None:
    out = tmp_path / "swc-6.parquet"
    rows = convert_reconstruction("swc", SWC, out, **IDS)
    table = pq.read_table(out)
    morphology = read_swc(SWC)
    assert rows == table.num_rows == morphology.n_nodes == 1058
    for column, expected in (("node_id", morphology.id), ("type", morphology.type),
                             ("x", morphology.x), ("radius", morphology.radius),
                             ("parent_id", morphology.parent)):
        np.testing.assert_array_equal(table[column].to_numpy(), expected)
    assert set(table["specimen_id"].to_pylist()) == {397902247}
    assert table["parent_id"].to_pylist().count(-1) == 1
    # The first node row of the file, by value.
    first = next(line for line in SWC.read_text().splitlines() if not line.startswith("#"))
    values = [float(v) for v in first.split()]
    assert [table[c][0].as_py() for c in ("node_id", "type", "x", "y", "z", "radius",
                                           "parent_id")] == values


def test_marker_points_keep_the_files_coordinates(tmp_path: Path) -> None:
    out = tmp_path / "marker-7.parquet"
    rows = convert_reconstruction("marker", MARKER, out, **IDS)
    table = pq.read_table(out).to_pylist()
    assert rows == len(table) == 16  # 17 lines, one of them the header comment
    assert table[0] == {**IDS, "x": 540.54, "y": 378.3208, "z": 12.32, "radius": 0.0,
                             "shape": 1, "name": 10, "comment": None, "color_r": 20,
                             "color_g": 27, "color_b": 252}


@pytest.mark.parametrize(("text", "phrase"), [
    (b"1 1 0 0 0 5 3\n2 3 10 0 0 1 1\n3 3 20 0 0 1 2\n", "no root"),
    (b"1 1 0 0 0 5 -1\n2 3 10 0 0 1 1\n3 1 50 0 0 5 -1\n", "2 soma roots"),
    (b"1 1 0 0 0 5 -1\n2 3 10 0 0 1 9\n", "parent"),
    (b"1 1 0 0 0 5\n", "expected 7"),
])
def test_broken_swc_is_an_error_and_writes_nothing(
    tmp_path: Path, text: bytes, phrase: str
) -> None:
    source = tmp_path / "bad.swc"
    source.write_bytes(text)
    with pytest.raises(SwcError, match=phrase):
        convert_reconstruction("swc", source, tmp_path / "out.parquet", **IDS)
    assert not (tmp_path / "out.parquet").exists()


def test_malformed_marker_row_names_its_line(tmp_path: Path) -> None:
    source = tmp_path / "bad_marker.swc"
    source.write_text("##x,y,z,radius,shape,name\n1.0,2.0,3.0,0,1,10\n1.0,two,3.0,0,1,10\n")
    with pytest.raises(SwcError, match=r"line 3: 'two' is not a number"):
        convert_reconstruction("marker", source, tmp_path / "out.parquet", **IDS)
