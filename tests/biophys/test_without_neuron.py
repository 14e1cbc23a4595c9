"""What runs without the neuron extra: the mechanism hash and the one-line error."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ctmirror.biophys.mechanisms import mechanisms_hash, mod_files_in
from ctmirror.biophys.simulate import PerisomaticModel
from ctmirror.commands.biophys import app
from ctmirror.errors import ConfigError, InputError

DATA = Path(__file__).parents[1] / "data"
MODEL = (DATA / "realdata_mini" / "biophysical_models" / "osb_AllenInstituteNeuroML"
         / "neuronal_model_472450023")


def _mods(folder: Path, files: dict[str, bytes]) -> list[Path]:
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return mod_files_in(folder)


def test_hash_follows_names_and_bytes_not_folder_or_order(tmp_path: Path):
    one = _mods(tmp_path / "one", {"a.mod": b"NEURON { SUFFIX a }", "b.mod": b"B"})
    two = _mods(tmp_path / "two", {"b.mod": b"B", "a.mod": b"NEURON { SUFFIX a }"})
    renamed = _mods(tmp_path / "renamed", {"c.mod": b"NEURON { SUFFIX a }", "b.mod": b"B"})
    edited = _mods(tmp_path / "edited", {"a.mod": b"NEURON { SUFFIX a } ", "b.mod": b"B"})
    assert mechanisms_hash(one) == mechanisms_hash(list(reversed(two)))
    assert len({mechanisms_hash(one), mechanisms_hash(renamed), mechanisms_hash(edited)}) == 3


def test_folder_without_mod_files_is_an_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="no .mod files"):
        mod_files_in(tmp_path)


def test_run_without_the_extra_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "neuron", None)  # import neuron raises ImportError
    stimulus = tmp_path / "stim.npy"
    np.save(stimulus, np.zeros(100))
    result = CliRunner().invoke(app, ["run", "--model-dir", str(MODEL), "--stimulus",
                                      str(stimulus), "--dt", "5e-6"])
    assert isinstance(result.exception, ConfigError)
    message = str(result.exception)
    assert "install ctmirror[neuron]" in message and "\n" not in message


def test_package_read_and_checked(tmp_path: Path):
    model = PerisomaticModel.from_dir(MODEL)
    assert model.swc.name.endswith("_491119181_m.swc")  # not the marker file
    assert model.mechanisms == {"Ih", "NaTs", "Nap", "K_P", "K_T", "Kv3_1", "SK", "Ca_HVA",
                                "Ca_LVA", "CaDynamics", "Im"}
    all_active = tmp_path / "all_active"
    all_active.mkdir()
    shutil.copyfile(DATA / "biophysical" / "all_active_497232925_fit_parameters.json",
                    all_active / "fit_parameters.json")
    with pytest.raises(InputError, match="all-active model package"):
        PerisomaticModel.from_dir(all_active)
    broken = tmp_path / "broken"
    shutil.copytree(MODEL, broken)
    next(broken.glob("*_fit.json")).write_text('{"passive": {}}')
    with pytest.raises(InputError, match="not a perisomatic fit"):
        PerisomaticModel.from_dir(broken)
