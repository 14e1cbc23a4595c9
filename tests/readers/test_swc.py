"""SWC and marker reading: layout tolerance, strict content checks, line-accurate errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ctmirror.errors import SwcError
from ctmirror.readers.swc import MARKER_VOXEL_UM, MarkerCode, parse_swc, read_marker, read_swc

SWC_DIR = Path(__file__).parent.parent / "data" / "swc"
BAD = SWC_DIR / "pathological"


def test_reads_real_allen_file() -> None:
    morph = read_swc(SWC_DIR / "Sst-IRES-Cre_Ai14_IVSCC_-173191.06.01.01_397902247_m.swc")
    assert morph.n_nodes == 1058
    assert morph.root == 0 and morph.type[morph.root] == 1
    assert morph.fragment_roots.size == 0 and morph.notes == ()
    # every non-root parent index points at the row holding the parent id
    child = morph.parent_index >= 0
    np.testing.assert_array_equal(morph.id[morph.parent_index[child]], morph.parent[child])
    assert morph.line[0] == 4  # three header comment lines precede the first node


def test_tolerates_tabs_blank_lines_and_comments() -> None:
    morph = read_swc(BAD / "tabs_blank_lines.swc")
    np.testing.assert_array_equal(morph.id, [1, 2, 3])
    np.testing.assert_array_equal(morph.x, [0.0, 10.0, 20.0])
    np.testing.assert_array_equal(morph.parent_index, [-1, 0, 1])
    np.testing.assert_array_equal(morph.line, [3, 5, 6])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cycle.swc", "cycle.swc line 3: cycle in parent links: 2 -> 3 -> 2"),
        ("two_somata.swc", "two_somata.swc line 3: 2 soma roots (ids 1, 3); expected one tree"),
        ("missing_parent.swc", "missing_parent.swc line 3: parent 7 of node 3 is not in the file"),
        ("duplicate_id.swc", "duplicate_id.swc line 3: id 2 appears twice"),
        ("six_columns.swc", "six_columns.swc line 3: 6 fields, expected 7"),
        ("non_numeric.swc", "non_numeric.swc line 2: field 6 is 'one', not a number"),
    ],
)
def test_rejects_broken_files_naming_file_and_line(name: str, message: str) -> None:
    with pytest.raises(SwcError) as caught:
        read_swc(BAD / name)
    assert str(caught.value).startswith(message)


def test_keeps_unknown_types_and_reports_them() -> None:
    morph = read_swc(BAD / "unknown_type.swc")
    assert morph.n_nodes == 4
    np.testing.assert_array_equal(morph.type, [1, 3, 7, 3])
    assert morph.notes == (
        "1 node(s) of unknown type 7 (lines 3): kept for whole-cell features only",
    )


def test_keeps_axon_fragments_beside_the_soma_tree() -> None:
    morph = read_swc(BAD / "axon_fragment.swc")
    assert morph.root == 0
    np.testing.assert_array_equal(morph.fragment_roots, [4])
    assert "1 disconnected fragment(s)" in morph.notes[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 1 0 0 0 1 2\n2 3 0 0 0 1 1\n", "no root"),
        ("1 3 0 0 0 1 -1\n2 3 5 0 0 1 -1\n", "2 roots and none is a soma"),
        ("1 1 0 0 0 1 -1\n2 3 0 0 0 1 2\n", "line 2: cycle in parent links: 2 -> 2"),
        ("1 1 0 0 0 nan -1\n", "line 1: a field is NaN or infinite"),
        ("1 1.5 0 0 0 1 -1\n", "line 1: type 1.5 is not an integer"),
        ("1 1 0 0 0 -2 -1\n", "line 1: radius -2 is negative"),
        ("# only a comment\n\n", "no SWC rows"),
    ],
)
def test_rejects_malformed_text(text: str, message: str) -> None:
    with pytest.raises(SwcError, match=message):
        parse_swc(text.encode(), source="t.swc")


def test_text_and_path_inputs_agree() -> None:
    path = BAD / "tabs_blank_lines.swc"
    from_text = read_swc(path.read_text())
    np.testing.assert_array_equal(from_text.xyz, read_swc(path).xyz)
    assert from_text.source == "<text>"


def test_missing_file_is_an_swc_error(tmp_path: Path) -> None:
    with pytest.raises(SwcError, match="cannot read"):
        read_swc(tmp_path / "absent.swc")


def test_long_chain_parses() -> None:
    n = 100_000
    rows = ["1 1 0 0 0 5 -1"] + [
        f"{i} 3 {i * 0.5:.4f} 1.0 2.0 0.5 {i - 1}" for i in range(2, n + 1)
    ]
    morph = parse_swc("\n".join(rows).encode())
    assert morph.n_nodes == n
    np.testing.assert_array_equal(morph.parent_index[1:], np.arange(n - 1))
    assert morph.x[-1] == pytest.approx(n * 0.5)


def test_marker_file_shifted_by_one_voxel() -> None:
    text = (
        "##x,y,z,radius,shape,name,comment, color_r,color_g,color_b\n"
        "540.54,378.3208,12.32,0.0, 1, 10, , 20,27,252\n"
        "388.6534,343.2057,43.68,0.0, 1, 20, , 20,27,252\n"
    )
    markers = read_marker(text)
    assert [m.name for m in markers] == [MarkerCode.CUT_DENDRITE, MarkerCode.NO_RECONSTRUCTION]
    assert markers[0].x == pytest.approx(540.54 - MARKER_VOXEL_UM[0])
    assert markers[1].z == pytest.approx(43.68 - MARKER_VOXEL_UM[2])


def test_marker_row_too_short() -> None:
    with pytest.raises(SwcError, match="line 2: 3 fields"):
        read_marker("#x,y,z\n1,2,3\n")
