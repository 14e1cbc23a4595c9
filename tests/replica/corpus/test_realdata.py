"""Typing of the published CSV exports."""

from __future__ import annotations

import pytest

from ctmirror.errors import SnapshotError
from ctmirror.replica.corpus.realdata import (
    type_cell_row,
    type_ephys_feature_row,
    type_morphology_row,
)


def test_cell_row_types_ids_counts_measurements_and_strips_literal_quotes() -> None:
    row = type_cell_row(
        {
            "specimen__id": "469803127",
            "structure__name": '"frontal lobe"',
            "structure__layer": "4",
            "m__glif": "5",
            "ef__ri": "199.375",
            "csl__x": "273",
            "nr__reconstruction_type": "",
            "donor__age": "25 yrs",
        }
    )
    assert row == {
        "specimen__id": 469803127,
        "structure__name": "frontal lobe",
        "structure__layer": "4",
        "m__glif": 5,
        "ef__ri": 199.375,
        "csl__x": 273.0,
        "nr__reconstruction_type": None,
        "donor__age": "25 yrs",
    }
    assert isinstance(row["csl__x"], float)


def test_non_integer_id_is_refused() -> None:
    with pytest.raises(SnapshotError):
        type_cell_row({"specimen__id": "12.5"})


def test_feature_and_morphology_rows() -> None:
    feature = type_ephys_feature_row(
        {
            "id": "529951870",
            "has_burst": "False",
            "sag": "0.11",
            "rheobase_sweep_number": "78",
            "adaptation": "",
        }
    )
    assert feature == {
        "id": 529951870,
        "has_burst": False,
        "sag": 0.11,
        "rheobase_sweep_number": 78,
        "adaptation": None,
    }
    morphology = type_morphology_row(
        {
            "": "0",
            "id": "492413664",
            "number_stems": "10",
            "max_branch_order": "10.0",
            "neuron_reconstruction_type": "dendrite-only",
        }
    )
    assert morphology == {
        "id": 492413664,
        "number_stems": 10,
        "max_branch_order": 10.0,
        "neuron_reconstruction_type": "dendrite-only",
    }
