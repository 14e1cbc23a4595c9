"""Model parameter files into typed rows: real GLIF configs and biophysical fits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctmirror.convert.model_parameters import read_model_parameters
from ctmirror.errors import ModelParametersError

DATA = Path(__file__).parent.parent / "data"
FIT = DATA / "realdata_mini" / "biophysical_models" / "osb_AllenInstituteNeuroML" / \
    "neuronal_model_472450023" / "464198958_fit.json"
GLIF_CONFIGS = sorted((DATA / "glif" / "configs").glob("*/neuron_config.json"))
IDS = {"neuronal_model_id": 472450023, "well_known_file_id": 9, "source_sha256": "ab" * 32}


def test_biophysical_fit_becomes_a_fit_row_and_one_row_per_gene() -> None:
    parsed = read_model_parameters(FIT, **IDS)
    document = json.loads(FIT.read_text())
    assert parsed.target == "biophysical_fits"
    [fit] = parsed.tables["biophysical_fits"]
    assert fit["ra"] == pytest.approx(294.577379958)
    assert fit["e_pas"] == pytest.approx(-80.97549438476562)
    assert (fit["celsius"], fit["junction_potential"], fit["fit_sweeps"]) == (34.0, -14.0, [29])
    assert fit["config"] == document and fit["neuronal_model_id"] == 472450023
    genes = parsed.tables["biophysical_fit_parameters"]
    assert len(genes) == len(document["genome"]) == 15
    im = next(g for g in genes if (g["section"], g["name"]) == ("soma", "gbar_Im"))
    assert (im["mechanism"], im["value"]) == ("Im", 0.0073341815852014276)


@pytest.mark.parametrize("path", GLIF_CONFIGS, ids=lambda p: p.parent.name)
def test_real_glif_config_becomes_one_typed_row(path: Path) -> None:
    parsed = read_model_parameters(path, **IDS)
    [row] = parsed.tables["glif_neuron_configs"]
    raw = json.loads(path.read_text())
    raw = next(iter(raw.values())) if "El" not in raw else raw
    assert parsed.target == "glif_neuron_configs"
    assert (row["el"], row["c"], row["r_input"], row["th_inf"]) == (
        raw["El"], raw["C"], raw["R_input"], raw["th_inf"])
    assert row["spike_cut_length"] == raw["spike_cut_length"]
    assert row["asc_tau_array"] == raw["asc_tau_array"]
    assert row["voltage_reset_method"] == raw["voltage_reset_method"]["name"]
    assert 1 <= row["level"] <= 5
    assert row["level"] in {1, 2} or row["asc_dynamics_method"] == "exp"


def test_levels_of_the_real_configs_cover_all_five() -> None:
    levels = {read_model_parameters(p, **IDS).tables["glif_neuron_configs"][0]["level"]
              for p in GLIF_CONFIGS}
    assert levels == {1, 2, 3, 4, 5}


@pytest.mark.parametrize(("text", "phrase"), [
    (b'{"El": 0.0, "coeffs": ', "does not parse"),
    (b'{"El": 0.0}', "missing keys"),
    (b'{"genome": {"name": "x"}}', "must be a list"),
    (b'{"genome": [{"section": "soma", "name": "g", "value": 1},'
     b' {"section": "soma", "name": "g", "value": 2}]}', "twice"),
    (b'{"genome": [], "passive": [{"ra": "high"}]}', "passive.ra must be a number"),
])
def test_bad_parameter_files_say_what_is_wrong(tmp_path: Path, text: bytes, phrase: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(text)
    with pytest.raises(ModelParametersError, match=phrase):
        read_model_parameters(path, **IDS)


def test_all_active_fit_with_values_written_as_text() -> None:
    path = DATA / "biophysical" / "all_active_497232925_fit_parameters.json"
    parsed = read_model_parameters(path, **IDS)
    document = json.loads(path.read_text())
    genes = parsed.tables["biophysical_fit_parameters"]
    assert len(genes) == len(document["genome"])
    g_pas = next(g for g in genes if (g["section"], g["name"]) == ("soma", "g_pas"))
    assert g_pas["value"] == 0.000213177 and g_pas["mechanism"] is None
    [fit] = parsed.tables["biophysical_fits"]
    assert (fit["ra"], fit["celsius"], fit["v_init"], fit["fit_sweeps"]) == (100.0, 34.0, -90.0,
                                                                             [28])
