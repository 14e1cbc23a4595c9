"""Access to ``tests/data/glif/reference.npz`` (AllenSDK 2.16.2 runs, see make_reference.py)."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ctmirror.glif.config import GlifConfig
from ctmirror.readers.glif_config import parse_glif_config, unwrap_model_id

DATA = Path(__file__).parents[1] / "data" / "glif"
CONFIGS = DATA / "configs"


@dataclass(frozen=True)
class ReferenceRun:
    key: str
    config_path: str
    stimulus_kind: str
    variant: str | None
    config: GlifConfig
    stimulus: np.ndarray
    arrays: dict[str, np.ndarray]


@cache
def _archive() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with np.load(DATA / "reference.npz") as npz:
        arrays = {name: npz[name] for name in npz.files}
    return json.loads(str(arrays.pop("meta_json"))), arrays


def meta() -> dict[str, Any]:
    return _archive()[0]


def raw_config(relative: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    raw = copy.deepcopy(dict(unwrap_model_id(json.loads((CONFIGS / relative).read_text()))))
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        node = raw
        for key in parents:
            node = node[key]
        node[leaf] = value
    return raw


def stimulus(kind: str, amplitude: float, n_samples: int) -> np.ndarray:
    """Rebuild a reference stimulus with the same elementwise arithmetic as make_reference.py."""
    info, arrays = _archive()
    if kind == "step":
        step = info["step"]
        full = np.concatenate([np.zeros(step["delay"]),
                               np.full(step["length"], step["factor"] * amplitude)])
    else:
        noise = info["noise"]
        full = amplitude * (noise["mean"] + noise["sd"]
                            * np.repeat(arrays["noise_pattern"], noise["hold"]))
    return full[:n_samples]


def runs() -> list[ReferenceRun]:
    info, arrays = _archive()
    out = []
    for entry in info["runs"]:
        key = entry["key"]
        prefix = f"{key}__"
        out.append(ReferenceRun(
            key=key,
            config_path=entry["config"],
            stimulus_kind=entry["stimulus"],
            variant=entry["variant"],
            config=parse_glif_config(raw_config(entry["config"], entry["overrides"])),
            stimulus=stimulus(entry["stimulus"], entry["amplitude"], entry["n_samples"]),
            arrays={k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)},
        ))
    return out


def evr_cases() -> list[dict[str, Any]]:
    info, arrays = _archive()
    cases = []
    for entry in info["evr"]:
        name = entry["name"]
        data = [arrays[f"{name}__data{i}"] for i in range(entry["repeats"])]
        cases.append(dict(entry, data=data, model=arrays[f"{name}__model"]))
    return cases
