"""Subthreshold features of every long square of the test corpus against ipfx 2.1.2 and AllenSDK
2.16.2 (``tests/data/ephys/subthreshold_reference.json``, made by
``make_subthreshold_reference.py``): baseline, deflection, sag and time constant per sweep, input
resistance and mean time constant over the membrane-property sweeps. Each reference is compared
with its definition set, on the time base and window it used."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ctmirror.features.ephys import ALLEN2016, IPFX, Definitions
from ctmirror.features.ephys.subthreshold import (
    baseline_voltage,
    input_resistance,
    sag,
    time_constant,
    voltage_deflection,
)
from ctmirror.readers.ephys import recordings_from_nwb

from .reference import DATA, warn_if_changed

RATE = 200_000.0
REFERENCES = {"ipfx": IPFX, "allensdk": ALLEN2016}


def _close(got: float, want: float | None) -> bool:
    if want is None:
        return bool(np.isnan(got))
    return abs(got - want) <= 1e-6 * abs(want) + 1e-9


@pytest.fixture(scope="module")
def reference(synth_snapshot: Path) -> dict[str, dict]:
    records = json.loads((DATA / "subthreshold_reference.json").read_text())
    files = {p.name: p for p in synth_snapshot.rglob("*.nwb")}
    warn_if_changed({name: files[name] for name in records},
                    {name: entry["sha256"] for name, entry in records.items()},
                    "make_subthreshold_reference.py")
    for name, entry in records.items():
        recordings, _ = recordings_from_nwb(files[name], {"Long Square"})
        entry["recordings"] = {r.sweep_number: r for r in recordings}
    return records


@pytest.mark.parametrize("source", sorted(REFERENCES))
def test_sweep_subthreshold_features_agree(reference: dict[str, dict], source: str) -> None:
    definitions: Definitions = REFERENCES[source]
    rule = definitions.time_index
    compared = agreeing = 0
    differing = []
    for name, entry in sorted(reference.items()):
        for number, want in entry[source]["sweeps"].items():
            recording = entry["recordings"][int(number)]
            v = np.asarray(recording.v, dtype=float)
            i = np.asarray(recording.i, dtype=float)
            t = (np.arange(v.size) - want["epoch_start_index"]) / RATE
            start, end = want["start"], want["end"]
            sag_value, deflection = sag(t, v, i, start, end, rule=rule,
                                        baseline_interval=definitions.sag_baseline_interval)
            got = {
                "baseline": baseline_voltage(t, v, start, 0.1, rule),
                "deflection": deflection,
                "deflection_min": voltage_deflection(t, v, i, start, end, "min", rule)[0],
                "sag": sag_value,
                "tau": time_constant(t, v, i, start, end, rule=rule, max_fit_end=None,
                                     quality_gates=definitions.tau_quality_gates),
            }
            assert deflection == pytest.approx(want["deflection"][0], abs=1e-9)
            for feature, value in got.items():
                expected = want[feature][0] if feature.startswith("deflection") \
                    else want[feature]
                compared += 1
                if _close(value, expected):
                    agreeing += 1
                else:
                    differing.append((name, number, feature, value, expected))
    print(f"{agreeing} of {compared} sweep features equal to {source} (1e-6 relative)")
    assert compared >= 100
    assert not differing, differing


@pytest.mark.parametrize("source", sorted(REFERENCES))
def test_membrane_properties_agree(reference: dict[str, dict], source: str) -> None:
    """Input resistance (all membrane sweeps, and each alone) and the time constants."""
    definitions: Definitions = REFERENCES[source]
    rule = definitions.time_index
    for entry in reference.values():
        want = entry[source]
        cell = want["cell"]
        sweeps, taus = [], []
        for number in cell["membrane_sweeps"]:
            recording = entry["recordings"][number]
            sweep = want["sweeps"][str(number)]
            t = (np.arange(len(recording.v)) - sweep["epoch_start_index"]) / RATE
            v, i = np.asarray(recording.v, float), np.asarray(recording.i, float)
            sweeps.append((t, v, i))
            start, end = sweep["start"], sweep["end"]
            assert input_resistance([(t, v, i)], start, end, rule=rule) == pytest.approx(
                cell["ri_single"][str(number)], rel=1e-9)
            max_fit_end = cell.get("median_peak_time")  # ipfx's cell-level fits stop there
            taus.append(time_constant(t, v, i, start, end, rule=rule, max_fit_end=max_fit_end,
                                      quality_gates=definitions.tau_quality_gates))
        assert input_resistance(sweeps, start, end, rule=rule) == pytest.approx(cell["ri"],
                                                                               rel=1e-9)
        assert [None if np.isnan(x) else pytest.approx(x, rel=1e-6) for x in taus] == \
            cell["taus"]
        assert float(np.nanmean(taus)) == pytest.approx(cell["tau"], rel=1e-6)
