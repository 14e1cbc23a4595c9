"""A model's parameter file (``NeuronalModelParameters``) into rows of the parameter tables.

Two documents share that file type: a GLIF ``neuron_config.json`` and a biophysical
``<specimen>_fit.json``. The document's keys say which it is (a fit has a ``genome``). Typed
columns take the values every model of the family has; ``config`` keeps the whole document.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctmirror.errors import GlifConfigError, ModelParametersError
from ctmirror.readers.glif_config import parse_glif_config, unwrap_model_id
from ctmirror.schema.model_parameters import (
    BiophysicalFit,
    BiophysicalFitParameter,
    GlifNeuronConfig,
)

GLIF_TABLE = GlifNeuronConfig.__tablename__
FIT_TABLE = BiophysicalFit.__tablename__
FIT_PARAMETER_TABLE = BiophysicalFitParameter.__tablename__


@dataclass(frozen=True)
class ModelParameters:
    """Rows for the parameter tables; ``target`` names the family's main table."""

    target: str
    tables: dict[str, list[dict[str, Any]]]


def read_model_parameters(path: Path, *, neuronal_model_id: int, well_known_file_id: int,
                          source_sha256: str) -> ModelParameters:
    """Read a GLIF config or biophysical fit file into table rows."""
    try:
        document = json.loads(Path(path).read_bytes())
    except json.JSONDecodeError as exc:
        raise ModelParametersError(
            f"{Path(path).name}: does not parse as JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    if isinstance(document, Mapping) and "genome" in document:
        return biophysical_rows(document, neuronal_model_id=neuronal_model_id,
                                well_known_file_id=well_known_file_id,
                                source_sha256=source_sha256)
    return glif_rows(document, neuronal_model_id=neuronal_model_id,
                     well_known_file_id=well_known_file_id, source_sha256=source_sha256)


def glif_rows(document: Any, *, neuronal_model_id: int, well_known_file_id: int,
              source_sha256: str) -> ModelParameters:
    """One ``glif_neuron_configs`` row; the config must be one the simulator accepts."""
    try:
        parsed = parse_glif_config(document)
    except GlifConfigError as exc:
        raise ModelParametersError(f"not a valid GLIF neuron_config: {exc}") from None
    raw = unwrap_model_id(document)

    def method(key: str) -> str | None:
        value = raw.get(key)
        return value.get("name") if isinstance(value, Mapping) else None

    row = {
        "neuronal_model_id": neuronal_model_id,
        "well_known_file_id": well_known_file_id,
        "source_sha256": source_sha256,
        "level": parsed.level,
        "el_reference": parsed.el_reference,
        "el": parsed.El,
        "c": parsed.C,
        "r_input": parsed.R_input,
        "th_inf": parsed.th_inf,
        "dt": parsed.fit_dt,
        "spike_cut_length": parsed.spike_cut_length,
        "init_voltage": parsed.init_voltage,
        "init_threshold": parsed.init_threshold,
        "asc_tau_array": list(parsed.asc_tau_array),
        "asc_amp_array": list(parsed.asc_amp_array),
        "coeffs": _json_safe(raw.get("coeffs")),
        "voltage_dynamics_method": method("voltage_dynamics_method"),
        "threshold_dynamics_method": method("threshold_dynamics_method"),
        "asc_dynamics_method": method("AScurrent_dynamics_method"),
        "voltage_reset_method": method("voltage_reset_method"),
        "threshold_reset_method": method("threshold_reset_method"),
        "asc_reset_method": method("AScurrent_reset_method"),
        "config": _json_safe(dict(raw)),
    }
    return ModelParameters(GLIF_TABLE, {GLIF_TABLE: [row]})


def biophysical_rows(document: Mapping[str, Any], *, neuronal_model_id: int,
                     well_known_file_id: int, source_sha256: str) -> ModelParameters:
    """One ``biophysical_fits`` row and one ``biophysical_fit_parameters`` row per gene."""
    passive = _first(document, "passive")
    conditions = _first(document, "conditions")
    fitting = _first(document, "fitting")
    genome = document.get("genome")
    if not isinstance(genome, list):
        raise ModelParametersError("fit file: 'genome' must be a list of "
                                   "{section, name, value, mechanism}")
    parameters: dict[tuple[str, str], dict[str, Any]] = {}
    for position, gene in enumerate(genome):
        if not isinstance(gene, Mapping) or not {"section", "name"} <= gene.keys():
            raise ModelParametersError(
                f"fit file: genome entry {position} needs 'section' and 'name', got {gene!r}")
        key = (str(gene["section"]), str(gene["name"]))
        if key in parameters:
            raise ModelParametersError(
                f"fit file: genome names {key[1]} in section {key[0]} twice")
        parameters[key] = {
            "neuronal_model_id": neuronal_model_id,
            "section": key[0],
            "name": key[1],
            "mechanism": gene.get("mechanism") or None,
            "value": _number(gene.get("value"), f"genome {key[0]}.{key[1]}"),
        }
    fit = {
        "neuronal_model_id": neuronal_model_id,
        "well_known_file_id": well_known_file_id,
        "source_sha256": source_sha256,
        "ra": _number(passive.get("ra"), "passive.ra"),
        "e_pas": _number(passive.get("e_pas"), "passive.e_pas"),
        "celsius": _number(conditions.get("celsius"), "conditions.celsius"),
        "v_init": _number(conditions.get("v_init"), "conditions.v_init"),
        "junction_potential": _number(fitting.get("junction_potential"),
                                      "fitting.junction_potential"),
        "fit_sweeps": fitting.get("sweeps"),
        "cm": passive.get("cm"),
        "erev": conditions.get("erev"),
        "config": _json_safe(dict(document)),
    }
    return ModelParameters(FIT_TABLE, {FIT_TABLE: [fit],
                                       FIT_PARAMETER_TABLE: list(parameters.values())})


def _first(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """Fit files wrap each block in a one-element list; accept the bare object too."""
    value = document.get(key)
    if isinstance(value, list):
        value = value[0] if value else {}
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ModelParametersError(f"fit file: '{key}' must be an object or a list of one")
    return value


def _number(value: Any, where: str) -> float | None:
    """A number, or a number written as a string: all-active fits store gene values as text
    (``"value": "2.22118e-06"``), which AllenSDK reads with ``float()``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ModelParametersError(
                f"fit file: {where} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelParametersError(f"fit file: {where} must be a number, got {value!r}")
    return float(value) if math.isfinite(value) else None


def _json_safe(value: Any) -> Any:
    """NaN and infinity are not JSON: PostgreSQL's json type rejects them; store null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


__all__ = ["FIT_PARAMETER_TABLE", "FIT_TABLE", "GLIF_TABLE", "ModelParameters",
           "biophysical_rows", "glif_rows", "read_model_parameters"]
