"""Recomputed features against values the Allen Institute published for the same files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctmirror.features.morphology import (
    CELL_LIST_COLUMNS,
    RECONSTRUCTION_COLUMNS,
    compute_morphology_features,
)
from ctmirror.readers.swc import read_swc

SWC_DIR = Path(__file__).parents[2] / "data" / "swc"
PUBLISHED = json.loads((SWC_DIR / "published_values.json").read_text())
# Records store 6 significant digits; the recomputation is otherwise exact.
RECORD_REL_TOL = 1e-5


@pytest.mark.parametrize("file_name", sorted(PUBLISHED["reconstruction_records"]))
def test_reconstruction_record_columns(file_name: str) -> None:
    published = PUBLISHED["reconstruction_records"][file_name]
    ours = compute_morphology_features(read_swc(SWC_DIR / file_name))
    for column in RECONSTRUCTION_COLUMNS:
        expected = published[column]
        if column.startswith("number_") or column == "max_branch_order":
            assert ours[column] == expected, column
        else:
            assert ours[column] == pytest.approx(expected, rel=RECORD_REL_TOL), column


@pytest.mark.parametrize("file_name", sorted(PUBLISHED["cell_list"]))
def test_cell_list_nr_values(file_name: str) -> None:
    published = PUBLISHED["cell_list"][file_name]
    ours = compute_morphology_features(read_swc(SWC_DIR / file_name))
    for column in CELL_LIST_COLUMNS:
        assert ours[column] == pytest.approx(published[column], rel=1e-9), column


def test_cell_list_values_differ_from_whole_cell_columns() -> None:
    """nr__ values are dendrite-only: with an axon they differ from the whole-cell ones."""
    ours = compute_morphology_features(read_swc(SWC_DIR / "324257146.swc"))
    assert ours["nr__number_stems"] == ours["number_stems"] - 1  # the axon's stem
