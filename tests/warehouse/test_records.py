"""Raw API records to typed column values (pure; no database)."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import BigInteger, Boolean, Double, Text

from ctmirror.schema import (
    MODEL_TABLES,
    attribute_columns,
    coerce,
    typed_values,
)
from tests.warehouse.staging import Record

CELL_LIST_COLUMNS = (
    "line_name,specimen__id,specimen__name,specimen__hemisphere,structure__id,structure__name,"
    "structure__acronym,structure_parent__id,structure_parent__acronym,structure__layer,"
    "nr__max_euclidean_distance,nr__number_stems,nr__number_bifurcations,nr__average_contraction,"
    "nr__average_parent_daughter_ratio,nr__reconstruction_type,nrwkf__id,erwkf__id,"
    "ef__fast_trough_v_long_square,ef__upstroke_downstroke_ratio_long_square,ef__adaptation,"
    "ef__f_i_curve_slope,ef__threshold_i_long_square,ef__tau,ef__avg_isi,ef__avg_firing_rate,"
    "ef__ri,ef__peak_t_ramp,ef__vrest,si__height,si__width,si__path,csl__x,csl__y,csl__z,"
    "csl__normalized_depth,cell_reporter_status,m__glif,m__biophys,m__biophys_perisomatic,"
    "m__biophys_all_active,tag__apical,tag__dendrite_type,morph_thumb_path,ephys_thumb_path,"
    "ephys_inst_thresh_thumb_path,donor__age,donor__sex,donor__disease_state,donor__race,"
    "donor__years_of_seizure_history,donor__species,donor__id,donor__name"
).split(",")


def test_cell_list_has_the_54_published_columns() -> None:
    table = MODEL_TABLES["ApiCellTypesSpecimenDetail"]
    assert table.name == "api_cell_types_specimen_details"
    assert sorted(c.name for c in attribute_columns(table)) == sorted(CELL_LIST_COLUMNS)


def test_ephys_features_has_56_columns() -> None:
    assert len(attribute_columns(MODEL_TABLES["EphysFeature"])) == 56


def test_real_sweep_record_is_typed(real_records: dict[str, list[Record]]) -> None:
    values = typed_values(MODEL_TABLES["EphysSweep"], real_records["EphysSweep"][0])
    assert values["id"] == 396429050
    assert values["sweep_number"] == 42
    assert values["stimulus_name"] == "Long Square"
    assert values["stimulus_absolute_amplitude"] == pytest.approx(110.000002162547)
    assert values["stimulus_interval"] is None
    assert values["num_spikes"] == 2


def test_real_specimen_record_is_typed(real_records: dict[str, list[Record]]) -> None:
    values = typed_values(MODEL_TABLES["Specimen"], real_records["Specimen"][0])
    assert values["is_cell_specimen"] is True and values["is_ish"] is False
    assert values["ephys_result_id"] == 386049444
    assert values["weight"] == 9000.0 and isinstance(values["weight"], float)
    assert values["specimen_id_path"] == "/339692365/383309938/383680643/386049446/"


def test_unknown_keys_are_not_columns() -> None:
    values = typed_values(MODEL_TABLES["Donor"], {"id": 1, "new_allen_field": "x"})
    assert "new_allen_field" not in values
    assert values["id"] == 1 and values["name"] is None


@pytest.mark.parametrize(
    ("column_type", "value", "expected"),
    [
        (BigInteger(), "313862022", 313862022),
        (BigInteger(), 5.0, 5),
        (BigInteger(), 5.5, None),
        (BigInteger(), True, None),
        (BigInteger(), 2**70, None),
        (Double(), "0.1144", 0.1144),
        (Double(), 3, 3.0),
        (Double(), "n/a", None),
        (Double(), math.inf, None),
        (Boolean(), "true", True),
        (Boolean(), 0, False),
        (Boolean(), "maybe", None),
        (Text(), 4, "4"),
        (Text(), {"nested": 1}, None),
        (Text(), None, None),
    ],
)
def test_coerce(column_type: object, value: object, expected: object) -> None:
    result = coerce(column_type, value)
    assert result == expected and type(result) is type(expected)
