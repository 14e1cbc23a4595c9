"""Synthetic ApiCellTypesSpecimenDetail rows: cells that look like published ones (pure).

The rows cycle through the kinds of cell the real list holds, so that a dozen of them cover
every case the project handles: mouse and human donors, spiny, aspiny and sparsely spiny
dendrites, full and dendrite-only reconstructions and none, 0, 2 or 5 GLIF models, perisomatic
and all-active biophysical models. Feature values are drawn around published means; they shape
the simulated recording and SWC file, and the fill replaces them by the values computed from
those files (``FillOptions.computed_cell_values``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ctmirror.replica.corpus.ids import IdAllocator

__all__ = ["synthetic_cells"]

# (structure id, acronym, name, layer) of real mouse VISp layers; the area is VISp (385).
_MOUSE_LAYERS = (
    (593, "VISp1", "Primary visual area, layer 1", "1"),
    (821, "VISp2/3", "Primary visual area, layer 2/3", "2/3"),
    (721, "VISp4", "Primary visual area, layer 4", "4"),
    (778, "VISp5", "Primary visual area, layer 5", "5"),
    (33, "VISp6a", "Primary visual area, layer 6a", "6a"),
)
_MOUSE_AREA = (385, "VISp")
_HUMAN_AREA = (12141, "MTG", "middle temporal gyrus")
_MOUSE_LINES = (
    "Rorb-IRES2-Cre",
    "Sst-IRES-Cre",
    "Pvalb-IRES-Cre",
    "Scnn1a-Tg3-Cre",
    "Htr3a-Cre_NO152",
    "Nr5a1-Cre",
)
_DENDRITES = ("spiny", "aspiny", "sparsely spiny")
_RECONSTRUCTIONS = ("full", "dendrite-only", None)
_GLIF_COUNTS = (5, 2, 0)


def _thumb(wkf_id: int) -> str:
    return f"/api/v2/well_known_file_download/{wkf_id}"


def _features(rng: np.random.Generator, spiny: bool) -> dict[str, float]:
    vrest = rng.normal(-72.0 if spiny else -66.0, 3.0)
    ri = rng.uniform(80.0, 260.0) if spiny else rng.uniform(60.0, 200.0)
    tau = rng.uniform(15.0, 35.0) if spiny else rng.uniform(6.0, 15.0)
    rheobase = 10.0 * rng.integers(5, 25) if spiny else 10.0 * rng.integers(8, 30)
    rate = rng.uniform(5.0, 20.0) if spiny else rng.uniform(20.0, 80.0)
    return {
        "ef__adaptation": float(rng.uniform(0.0, 0.15) if spiny else rng.uniform(-0.01, 0.02)),
        "ef__avg_firing_rate": float(rate),
        "ef__avg_isi": float(1000.0 / rate),
        "ef__f_i_curve_slope": float(rng.uniform(0.05, 0.3) if spiny else rng.uniform(0.2, 0.7)),
        "ef__fast_trough_v_long_square": float(rng.uniform(-55.0, -45.0)),
        "ef__peak_t_ramp": float(rng.uniform(3.0, 12.0)),
        "ef__ri": float(ri),
        "ef__tau": float(tau),
        "ef__threshold_i_long_square": float(rheobase),
        "ef__upstroke_downstroke_ratio_long_square": float(
            rng.uniform(2.5, 4.5) if spiny else rng.uniform(1.2, 2.0)
        ),
        "ef__vrest": float(vrest),
    }


def synthetic_cells(
    rng: np.random.Generator, count: int, new_id: IdAllocator
) -> list[dict[str, Any]]:
    """``count`` cell rows with synthetic ids (two cells per donor)."""
    cells: list[dict[str, Any]] = []
    donor: dict[str, Any] = {}
    for index in range(count):
        human = index % 4 == 3
        dendrite = _DENDRITES[index % 3]
        spiny = dendrite != "aspiny"
        reconstruction = (
            _RECONSTRUCTIONS[index % 3] if not human else _RECONSTRUCTIONS[(index + 1) % 3]
        )
        if index % 2 == 0 or donor.get("human") != human:
            donor_number = 160000 + index
            donor = {
                "human": human,
                "donor__id": new_id(),
                "donor__name": (
                    f"H16.03.{index:03d}"
                    if human
                    else f"{_MOUSE_LINES[index % len(_MOUSE_LINES)]};Ai14-{donor_number}"
                ),
                "line": None if human else _MOUSE_LINES[index % len(_MOUSE_LINES)],
                "donor__sex": ("Male", "Female")[(index // 2) % 2],
                "donor__age": (
                    f"{int(rng.integers(20, 70))} yrs" if human else f"P{int(rng.integers(45, 70))}"
                ),
            }
        specimen_id = new_id()
        if human:
            structure = (_HUMAN_AREA[0], _HUMAN_AREA[1], _HUMAN_AREA[2], str(2 + index % 4))
            parent = _HUMAN_AREA[:2]
            name = f"{donor['donor__name']}.01.{index:02d}.01"
        else:
            structure = _MOUSE_LAYERS[index % len(_MOUSE_LAYERS)]
            parent = _MOUSE_AREA
            name = f"{donor['donor__name']}.{index:02d}.01.01"
        reconstructed = reconstruction is not None
        stems = int(rng.integers(4, 10)) if reconstructed else None
        glif = _GLIF_COUNTS[index % 3]
        perisomatic = 1 if reconstructed and index % 2 == 0 else 0
        all_active = 1 if reconstruction == "full" else 0
        cell: dict[str, Any] = {
            "line_name": donor["line"],
            "specimen__id": specimen_id,
            "specimen__name": name,
            "specimen__hemisphere": ("left", "right")[index % 2],
            "structure__id": structure[0],
            "structure__name": structure[2],
            "structure__acronym": structure[1],
            "structure_parent__id": parent[0],
            "structure_parent__acronym": parent[1],
            "structure__layer": structure[3],
            "nr__max_euclidean_distance": float(rng.uniform(250, 800)) if reconstructed else None,
            "nr__number_stems": stems,
            "nr__number_bifurcations": int(rng.integers(10, 60)) if reconstructed else None,
            "nr__average_contraction": float(rng.uniform(0.82, 0.95)) if reconstructed else None,
            "nr__average_parent_daughter_ratio": (
                float(rng.uniform(0.75, 0.95)) if reconstructed else None
            ),
            "nr__reconstruction_type": reconstruction,
            "nrwkf__id": new_id() if reconstructed else None,
            "erwkf__id": new_id(),
            **_features(rng, spiny),
            "si__height": int(rng.integers(4000, 9000)) if reconstructed else None,
            "si__width": int(rng.integers(4000, 9000)) if reconstructed else None,
            "si__path": (
                f"/external/mousecelltypes/prod300/specimen_{specimen_id}/min_xy_{specimen_id}.aff"
                if reconstructed
                else None
            ),
            "csl__x": float(rng.uniform(7000, 10000)),
            "csl__y": float(rng.uniform(600, 2000)),
            "csl__z": float(rng.uniform(1500, 4000)),
            "csl__normalized_depth": float(rng.uniform(0.05, 0.95)),
            "cell_reporter_status": None if human else ("positive", "negative")[index % 2],
            "m__glif": glif,
            "m__biophys": perisomatic + all_active,
            "m__biophys_perisomatic": perisomatic,
            "m__biophys_all_active": all_active,
            "tag__apical": "intact" if spiny else "NA",
            "tag__dendrite_type": dendrite,
            "morph_thumb_path": _thumb(new_id()) if reconstructed else None,
            "ephys_thumb_path": _thumb(new_id()),
            "ephys_inst_thresh_thumb_path": _thumb(new_id()),
            "donor__age": donor["donor__age"],
            "donor__sex": donor["donor__sex"],
            "donor__disease_state": "epilepsy"
            if human and index % 8 == 3
            else ("tumor" if human else None),
            "donor__race": "White or Caucasian" if human else None,
            "donor__years_of_seizure_history": float(rng.integers(1, 30)) if human else None,
            "donor__species": "Homo Sapiens" if human else "Mus musculus",
            "donor__id": donor["donor__id"],
            "donor__name": donor["donor__name"],
        }
        cells.append(cell)
    return cells
