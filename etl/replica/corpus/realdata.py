"""Read a directory of real published Allen Cell Types data into typed records (I/O edge).

The directory layout (see ``docs/corpus.md``)::

    api_celltypes_specimen_detail/cell_types_specimen_details__CAJAL.csv   the cell list
    ephys_features/ephys_features__lynnha577_2333cells.csv                 EphysFeature rows
    morphology_features/morphology_features__davidhbrann_2018.csv          NeuronReconstruction rows
    **/ephys_sweeps.json                                                    EphysSweep lists
    swc/cajal/<specimen_id>.swc, **/<name>_<reconstruction_id>_m.swc        reconstructions
    glif/*/neuronal_model_<id>/, biophysical_models/*/                      NeuronalModel packages
    api_responses/*.json                                                    RMA responses

Every value keeps its published meaning; only CSV text is typed (§2.1 of the API notes): ids and
counts become ints, measurements floats, flags booleans, empty fields null, and the literal
double quotes the CSV export leaves around some names are removed.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctmirror.errors import SnapshotError

__all__ = [
    "CELLS_CSV",
    "RealData",
    "RealFile",
    "RealModel",
    "load_realdata",
    "type_cell_row",
    "type_ephys_feature_row",
    "type_morphology_row",
]

CELLS_CSV = "api_celltypes_specimen_detail/cell_types_specimen_details__CAJAL.csv"
EPHYS_FEATURES_CSV = "ephys_features/ephys_features__lynnha577_2333cells.csv"
MORPHOLOGY_CSV = "morphology_features/morphology_features__davidhbrann_2018.csv"
MODFILES_DIR = "biophysical_models/modfiles"

_CELL_INTS = frozenset(
    {
        "specimen__id",
        "structure__id",
        "structure_parent__id",
        "donor__id",
        "nrwkf__id",
        "erwkf__id",
        "nr__number_stems",
        "nr__number_bifurcations",
        "si__height",
        "si__width",
        "m__glif",
        "m__biophys",
        "m__biophys_perisomatic",
        "m__biophys_all_active",
    }
)
_CELL_FLOATS = frozenset(
    {
        "nr__max_euclidean_distance",
        "nr__average_contraction",
        "nr__average_parent_daughter_ratio",
        "csl__x",
        "csl__y",
        "csl__z",
        "csl__normalized_depth",
        "donor__years_of_seizure_history",
    }
)
_FEATURE_INTS = frozenset(
    {
        "id",
        "specimen_id",
        "rheobase_sweep_id",
        "rheobase_sweep_number",
        "thumbnail_sweep_id",
    }
)
_FEATURE_BOOLS = frozenset({"has_burst", "has_delay", "has_pause"})
_MORPHOLOGY_INTS = frozenset(
    {
        "id",
        "specimen_id",
        "number_bifurcations",
        "number_branches",
        "number_nodes",
        "number_stems",
        "number_tips",
    }
)
_MORPHOLOGY_TEXT = frozenset({"neuron_reconstruction_type"})

# Association keys of nested RMA records and the model each holds.
_NESTED_MODELS = {
    "specimen": "Specimen",
    "donor": "Donor",
    "structure": "Structure",
    "ephys_result": "EphysResult",
    "neuron_reconstructions": "NeuronReconstruction",
    "well_known_files": "WellKnownFile",
    "transgenic_lines": "TransgenicLine",
}
_RECONSTRUCTION_SWC = re.compile(r"_(\d+)_m\.swc$")
GLIF_TEMPLATE_IDS = frozenset({395310469, 395310479, 395310475, 471355161, 395310498})
PERISOMATIC_TEMPLATE_ID = 329230710
ALL_ACTIVE_TEMPLATE_ID = 491455321
_TEMPLATE_BY_MODEL_TYPE = {
    "Biophysical - perisomatic": PERISOMATIC_TEMPLATE_ID,
    "Biophysical - all active": ALL_ACTIVE_TEMPLATE_ID,
}


@dataclass(frozen=True)
class RealFile:
    """A published file: its WellKnownFile id when known, its base name and bytes."""

    wkf_id: int | None
    name: str
    data: bytes


@dataclass(frozen=True)
class RealModel:
    """A published NeuronalModel: its own attributes and the files of its package."""

    record: dict[str, Any]
    parameters: RealFile
    extra_files: tuple[RealFile, ...] = ()
    explained_variance_ratio: float | None = None

    @property
    def template_id(self) -> int:
        return int(self.record["neuronal_model_template_id"])


@dataclass
class RealData:
    """Everything real the corpus can use, keyed by specimen id where a cell owns it."""

    cells: list[dict[str, Any]]
    ephys_features: dict[int, dict[str, Any]] = field(default_factory=dict)
    sweeps: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reconstructions: dict[int, dict[str, Any]] = field(default_factory=dict)
    swc: dict[int, bytes] = field(default_factory=dict)
    markers: dict[int, bytes] = field(default_factory=dict)
    models: dict[int, list[RealModel]] = field(default_factory=dict)
    # Records found nested in published responses: {model: {id: own attributes}}.
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    # The NEURON mechanism files of the biophysical templates: their published WellKnownFile
    # records (nested under a template) and their bytes by base name.
    template_files: dict[int, dict[str, Any]] = field(default_factory=dict)
    modfiles: dict[str, bytes] = field(default_factory=dict)

    def record(self, model: str, record_id: int | None) -> dict[str, Any] | None:
        if record_id is None:
            return None
        return self.records.get(model, {}).get(int(record_id))


def _number(text: str) -> float:
    return float(text)


def _integer(column: str, text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise SnapshotError(f"column {column}: {text!r} is not an integer; is this the cell CSV?")
    return int(value)


def _unquote(text: str) -> str:
    # The website's CSV export wraps some names in literal double quotes.
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def type_cell_row(raw: dict[str, str]) -> dict[str, Any]:
    """One ApiCellTypesSpecimenDetail CSV row as JSON-typed values."""
    row: dict[str, Any] = {}
    for column, text in raw.items():
        text = text.strip()
        if text == "":
            row[column] = None
        elif column in _CELL_INTS:
            row[column] = _integer(column, text)
        elif column in _CELL_FLOATS or column.startswith("ef__"):
            row[column] = _number(text)
        else:
            row[column] = _unquote(text)
    return row


def type_ephys_feature_row(raw: dict[str, str]) -> dict[str, Any]:
    """One EphysFeature CSV row as JSON-typed values."""
    row: dict[str, Any] = {}
    for column, text in raw.items():
        text = text.strip()
        if text == "":
            row[column] = None
        elif column in _FEATURE_INTS:
            row[column] = _integer(column, text)
        elif column in _FEATURE_BOOLS:
            row[column] = text.lower() == "true"
        else:
            row[column] = _number(text)
    return row


def type_morphology_row(raw: dict[str, str]) -> dict[str, Any]:
    """One NeuronReconstruction feature CSV row as JSON-typed values (the pandas index dropped)."""
    row: dict[str, Any] = {}
    for column, text in raw.items():
        if column == "":
            continue
        text = text.strip()
        if text == "":
            row[column] = None
        elif column in _MORPHOLOGY_INTS:
            row[column] = _integer(column, text)
        elif column in _MORPHOLOGY_TEXT:
            row[column] = text
        else:
            row[column] = _number(text)
    return row


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise SnapshotError(f"{path} is missing: point --from at a real data directory")
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _own_attributes(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not isinstance(v, (dict, list))}


def nested_records(record: dict[str, Any], model: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(model, own attributes) of a response record and of every known record nested in it."""
    if "id" in record:
        yield model, _own_attributes(record)
    for key, value in record.items():
        target = _NESTED_MODELS.get(key)
        if target is None:
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, dict):
                yield from nested_records(child, target)


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _glif_config_bytes(path: Path, model_id: int) -> bytes:
    """The neuron_config.json as the API serves it: the bare config, not keyed by model id."""
    config = _load_json(path)
    if isinstance(config, dict) and set(config) == {str(model_id)}:
        config = config[str(model_id)]
    return (json.dumps(config, indent=2) + "\n").encode()


def _parameter_wkf(record: dict[str, Any]) -> tuple[int | None, str | None]:
    for wkf in record.get("well_known_files") or []:
        if wkf.get("attachable_type") == "NeuronalModel":
            return int(wkf["id"]), Path(wkf["path"]).name
    return None, None


def _evr(record: dict[str, Any]) -> float | None:
    for run in record.get("neuronal_model_runs") or []:
        if run.get("explained_variance_ratio") is not None:
            return float(run["explained_variance_ratio"])
    return None


def _glif_models(root: Path) -> Iterator[tuple[RealModel, dict[str, Any]]]:
    for folder in sorted(root.glob("glif/*/neuronal_model_*")):
        meta = _load_json(folder / "model_metadata.json")
        wkf_id, name = _parameter_wkf(meta)
        model_id = int(meta["id"])
        parameters = RealFile(
            wkf_id,
            name or f"{model_id}_neuron_config.json",
            _glif_config_bytes(folder / "neuron_config.json", model_id),
        )
        yield RealModel(_own_attributes(meta), parameters, (), _evr(meta)), meta


def _biophysical_models(root: Path) -> Iterator[tuple[RealModel, dict[str, Any]]]:
    for folder in sorted(root.glob("biophysical_models/**/")):
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            continue
        manifest = _load_json(manifest_path)
        model_files = [f for f in manifest["biophys"][0]["model_file"] if f != "manifest.json"]
        fit = folder / model_files[0]
        extra = (RealFile(None, "manifest.json", manifest_path.read_bytes()),)
        record_path = next(
            (
                folder / n
                for n in ("neuronal_model.json", "model_metadata.json")
                if (folder / n).is_file()
            ),
            None,
        )
        if record_path is not None:
            meta = _load_json(record_path)
        else:
            # Packages that ship only AllenSDK's metadata.json: the folder names the model.
            info = _load_json(folder / "metadata.json")
            model_type = manifest["biophys"][0].get("model_type", "Biophysical - perisomatic")
            meta = {
                "id": int(folder.name.rsplit("_", 1)[1]),
                "name": f"{model_type}_{info['AIBS:aibs_specimen_name']}",
                "neuronal_model_template_id": _TEMPLATE_BY_MODEL_TYPE[model_type],
                "specimen_id": int(info["AIBS:aibs_specimen_id"]),
                "neuron_reconstruction_id": None,
            }
        wkf_id, name = _parameter_wkf(meta)
        parameters = RealFile(wkf_id, name or fit.name, fit.read_bytes())
        yield RealModel(_own_attributes(meta), parameters, extra, _evr(meta)), meta


def _swc_files(
    root: Path, cells: dict[int, dict[str, Any]], model_folders: dict[Path, int]
) -> Iterator[tuple[int, int | None, Path]]:
    """(specimen id, reconstruction id or None, path) of each usable real SWC file."""
    by_name = {
        str(c["specimen__name"]).replace(";", "_"): sid
        for sid, c in cells.items()
        if c.get("specimen__name")
    }
    for path in sorted(root.glob("swc/cajal/*.swc")):
        yield int(path.stem), None, path
    for path in sorted(root.glob("swc/celltypescache/specimen_*/reconstruction.swc")):
        yield int(path.parent.name.split("_")[1]), None, path
    for path in sorted(root.rglob("*_m.swc")):
        match = _RECONSTRUCTION_SWC.search(path.name)
        if match is None or path.name.endswith("_marker_m.swc"):
            continue
        specimen = model_folders.get(path.parent) or by_name.get(path.name[: match.start()])
        if specimen is not None:
            yield specimen, int(match.group(1)), path
    for path in sorted(root.glob("biophysical_models/*/reconstruction.swc")):
        if path.parent in model_folders:
            yield model_folders[path.parent], None, path


def _markers(root: Path, model_folders: dict[Path, int]) -> Iterator[tuple[int, Path]]:
    for folder, specimen in model_folders.items():
        for path in sorted([*folder.glob("*_marker_m.swc"), *folder.glob("reconstruction.marker")]):
            yield specimen, path


def _sweep_lists(root: Path) -> dict[int, list[dict[str, Any]]]:
    lists: dict[int, dict[int, dict[str, Any]]] = {}
    for path in sorted(root.rglob("*ephys_sweeps.json")):
        sweeps = _load_json(path)
        if not isinstance(sweeps, list):
            continue
        for sweep in sweeps:
            lists.setdefault(int(sweep["specimen_id"]), {})[int(sweep["id"])] = sweep
    return {sid: sorted(s.values(), key=lambda r: r["sweep_number"]) for sid, s in lists.items()}


def _add_nested(
    records: dict[str, dict[int, dict[str, Any]]], found: Iterable[tuple[str, dict[str, Any]]]
) -> None:
    for model, record in found:
        records.setdefault(model, {}).setdefault(int(record["id"]), record)


def load_realdata(root: Path) -> RealData:
    """Read every real record and file under ``root`` that the corpus uses."""
    root = Path(root)
    cells = [type_cell_row(r) for r in _read_csv(root / CELLS_CSV)]
    by_id = {int(c["specimen__id"]): c for c in cells}
    data = RealData(cells=cells)
    features_csv = root / EPHYS_FEATURES_CSV
    if features_csv.is_file():
        for raw in _read_csv(features_csv):
            row = type_ephys_feature_row(raw)
            data.ephys_features[int(row["specimen_id"])] = row
    morphology_csv = root / MORPHOLOGY_CSV
    if morphology_csv.is_file():
        for raw in _read_csv(morphology_csv):
            row = type_morphology_row(raw)
            data.reconstructions[int(row["specimen_id"])] = row

    model_folders: dict[Path, int] = {}
    seen_models: set[int] = set()
    packages = [*_glif_models(root), *_biophysical_models(root)]
    # Prefer the package that carries the published record when two folders hold one model.
    packages.sort(key=lambda p: "well_known_files" not in p[1] and "specimen" not in p[1])
    for model, meta in packages:
        model_id = int(model.record["id"])
        specimen = int(model.record["specimen_id"])
        if model_id in seen_models or specimen not in by_id:
            continue
        seen_models.add(model_id)
        data.models.setdefault(specimen, []).append(model)
        _add_nested(data.records, nested_records(meta, "NeuronalModel"))
        template = meta.get("neuronal_model_template") or {}
        for wkf in template.get("well_known_files") or []:
            data.template_files.setdefault(int(wkf["id"]), _own_attributes(wkf))
    for path in sorted((root / MODFILES_DIR).glob("*.mod")):
        data.modfiles[path.name] = path.read_bytes()
    for folder in root.glob("biophysical_models/**/"):
        for name in ("neuronal_model.json", "model_metadata.json", "metadata.json"):
            if (folder / name).is_file():
                meta = _load_json(folder / name)
                sid = meta.get("specimen_id") or meta.get("AIBS:aibs_specimen_id")
                if sid is not None:
                    model_folders[folder] = int(sid)
                break
    for path in sorted(root.glob("api_responses/*.json")):
        for record in _load_json(path).get("msg") or []:
            _add_nested(data.records, nested_records(record, "NeuronalModel"))
    for sid, sweeps in _sweep_lists(root).items():
        if sid in by_id:
            data.sweeps[sid] = sweeps
    for sid, specimen_models in data.models.items():
        for model in specimen_models:
            named = model.record.get("neuron_reconstruction_id")
            if named is not None and sid not in data.reconstructions:
                data.reconstructions[sid] = {"id": int(named), "specimen_id": sid}
    for reconstruction in data.records.get("NeuronReconstruction", {}).values():
        sid = int(reconstruction["specimen_id"])
        if sid in by_id:
            data.reconstructions[sid] = {**data.reconstructions.get(sid, {}), **reconstruction}
    for sid, reconstruction_id, path in _swc_files(root, by_id, model_folders):
        if sid not in by_id or sid in data.swc:
            continue
        data.swc[sid] = path.read_bytes()
        known = data.reconstructions.get(sid)
        if reconstruction_id is not None and known is None:
            data.reconstructions[sid] = {"id": reconstruction_id, "specimen_id": sid}
    for sid, path in _markers(root, model_folders):
        if sid in by_id:
            data.markers.setdefault(sid, path.read_bytes())
    return data
