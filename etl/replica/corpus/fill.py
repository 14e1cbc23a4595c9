"""Fill the gaps around a list of cells: every linked record and file, real where known.

Given ApiCellTypesSpecimenDetail rows and whatever real records exist (``RealData``, empty for a
fully synthetic corpus), ``fill_corpus`` writes a consistent snapshot: Donor, Structure,
Specimen, EphysResult, EphysSweep, EphysFeature, NeuronReconstruction, WellKnownFile(+Type),
ImageSeries, ProjectionImage, SubImage, NeuronalModelTemplate, NeuronalModel, NeuronalModelRun,
the served-only reference records built from the cell rows (Product, CellReporter, CortexLayer,
SpecimenTag, CellSomaLocation, Organism, TransgenicLine, Condition, and their join-table pairs),
and the bytes of every WellKnownFile and model zip. Foreign keys follow
``ctmirror.schema.allen_model``. A real record or file always wins over a synthetic one; ids of
synthetic records come from ``ctmirror.replica.corpus.ids`` and never collide with published ones.

Links the cell rows publish keep their values and are made to resolve: ``nrwkf__id`` is the SWC
WellKnownFile, the three ``*_thumb_path`` links are PNG WellKnownFiles of the EphysResult, and
``erwkf__id`` is the NWB WellKnownFile of the first ``nwb_cells`` cells. Other cells have no NWB
record at all (their ``erwkf__id`` names no record in the corpus).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ctmirror.errors import ConfigError
from ctmirror.features.names import CELL_LIST_COLUMNS, RECONSTRUCTION_COLUMNS
from ctmirror.replica.corpus import computed, images, models, swc
from ctmirror.replica.corpus.ids import IdAllocator, named_id
from ctmirror.replica.corpus.protocols import synthetic_sweeps
from ctmirror.replica.corpus.realdata import GLIF_TEMPLATE_IDS, RealData, RealModel
from ctmirror.replica.snapshot import SnapshotWriter

__all__ = [
    "PRODUCTS",
    "WELL_KNOWN_FILE_TYPES",
    "FillOptions",
    "current_api_sweeps",
    "fill_corpus",
    "nwb_cell_order",
]

log = logging.getLogger(__name__)

#: Published WellKnownFileType ids.
WELL_KNOWN_FILE_TYPES = {
    "NWBDownload": 481007198,
    "NWBUncompressed": 478840678,
    "3DNeuronReconstruction": 303941301,
    "3DNeuronMarker": 486753749,
    "NeuronalModelParameters": 329230374,
    "BiophysicalModelDescription": 292178729,
    "EphysSummaryThumbnail": 480715749,
    "MorphologyThumbnail": 480715721,
    "EphysInstantaneousThresholdThumbnail": 488673261,
}
#: The Cell Types products a cell specimen belongs to, by species (published names; the ids
#: are not in the published records, so they are synthetic).
MOUSE_CELL_TYPES = named_id("Product", "Mouse Cell Types")
HUMAN_CELL_TYPES = named_id("Product", "Human Cell Types")
#: The Product the templates' NEURON mechanism files are attached to (its id as published in the
#: files' records; its name is not in the published records the corpus is built from).
MECHANISM_PRODUCT = 305094322
PRODUCTS: dict[int, str | None] = {
    MOUSE_CELL_TYPES: "Mouse Cell Types",
    HUMAN_CELL_TYPES: "Human Cell Types",
    MECHANISM_PRODUCT: None,
}
#: Published ``Specimen.cell_reporter_id`` values by the cell row's ``cell_reporter_status``:
#: every published mouse specimen record with status "positive" names 491913822, every human one
#: (status null) 491913820.
PUBLISHED_CELL_REPORTERS: dict[str | None, int] = {"positive": 491913822, None: 491913820}
#: Published ``Specimen.cortex_layer_id`` values by the cell row's ``structure__layer``, as human
#: specimen records give them (published mouse specimen records have no cortex layer).
PUBLISHED_CORTEX_LAYERS = {"2": 574006855, "3": 574006859, "4": 574006863, "5": 574006867}
#: Published ``Donor.organism_id`` values.
HUMAN_ORGANISM, MOUSE_ORGANISM = 1, 2
#: The specimen tags of a cell: (tag name prefix, cell row column).
_SPECIMEN_TAGS = (("dendrite type", "tag__dendrite_type"), ("apical", "tag__apical"))
_SOMA_LOCATION = (("x", "csl__x"), ("y", "csl__y"), ("z", "csl__z"),
                  ("normalized_depth", "csl__normalized_depth"))
#: Synthetic CellSomaLocation ids count up from here, one per cell in specimen id order (apart
#: from the other synthetic records, whose ids they leave unchanged).
_SOMA_LOCATION_ID_BASE = 2_120_000_000
_TRANSGENIC_LINE_FIELDS = (
    "description",
    "originating_lab",
    "stock_number",
    "sub_image_annotation_id",
    "transgenic_line_source_name",
    "url_prefix",
    "url_suffix",
)
#: The published record of the reporter line most mouse donors carry, for a corpus whose real
#: data hold no transgenic line records (``synth``).
PUBLISHED_AI14 = {
    "description": "tdTomato fluorescent protein is expressed in cytoplasm",
    "id": 177836291,
    "name": "Ai14(RCL-tdT)",
    "originating_lab": "Allen Institute for Brain Science",
    "stock_number": "007914",
    "sub_image_annotation_id": 21592,
    "transgenic_line_source_name": "JAX",
    "transgenic_line_type_code": "R",
    "transgenic_line_type_name": "reporter",
    "url_prefix": "http://jaxmice.jax.org/strain/",
    "url_suffix": ".html",
}
#: The templates whose records list the mechanism files.
_MECHANISM_TEMPLATES = (models.PERISOMATIC, models.ALL_ACTIVE)
_BUNDLED_MODFILES = Path(__file__).with_name("modfiles")

_THUMBNAILS = (
    ("ephys_thumb_path", "EphysSummaryThumbnail", "ephys_summary.png", "ephys"),
    (
        "ephys_inst_thresh_thumb_path",
        "EphysInstantaneousThresholdThumbnail",
        "ephys_inst_threshold.png",
        "threshold",
    ),
    ("morph_thumb_path", "MorphologyThumbnail", "morphology_summary.png", "morphology"),
)
#: The cell whose NWB file the API documentation downloads.
DOCUMENTED_NWB_CELL = 320654829
SAMPLING_RATE_HZ = 200000.0
_FAILED_FACET = 734881840
_SWEEP_QUALITY = (
    "num_spikes",
    "peak_deflection",
    "pre_vm_mv",
    "post_vm_mv",
    "slow_vm_mv",
    "vm_delta_mv",
    "pre_noise_rms_mv",
    "post_noise_rms_mv",
    "slow_noise_rms_mv",
    "leak_pa",
    "bridge_balance_mohm",
)
# Field names of published Donor and Specimen records (from nested API responses).
_DONOR_FIELDS = (
    "age_id",
    "chemotherapy",
    "condition_description",
    "data",
    "date_of_birth",
    "donor_condition_description_facet",
    "donor_race_only_facet",
    "donor_sex_facet",
    "donor_strain_facet",
    "donor_strain_only_facet",
    "egfr_amplification",
    "extent_of_resection",
    "external_donor_name",
    "full_genotype",
    "handedness",
    "id",
    "initial_kps",
    "mgmt_ihc",
    "mgmt_methylation",
    "molecular_subtype",
    "multifocal",
    "name",
    "organism_id",
    "pmi",
    "primary_tissue_source",
    "pten_deletion",
    "race_only",
    "radiation_therapy",
    "recurrence_by_six_months",
    "sex",
    "sex_full_name",
    "sleep_state",
    "smoker",
    "strain",
    "strain_only",
    "survival_days",
    "tags",
    "theiler_stage",
    "time_to_progression_or_recurrence",
    "transgenic_mouse_id",
    "tumor_status",
    "weight_grams",
)
_EPHYS_FEATURE_PROTOCOL_COLUMNS = (
    "fast_trough_t",
    "fast_trough_v",
    "peak_t",
    "peak_v",
    "slow_trough_t",
    "slow_trough_v",
    "threshold_i",
    "threshold_t",
    "threshold_v",
    "trough_t",
    "trough_v",
    "upstroke_downstroke_ratio",
)

NwbWriter = Callable[..., dict[int, int]]


@dataclass(frozen=True)
class FillOptions:
    seed: int = 0
    nwb_cells: int = 0
    #: Short protocols (and so short NWB files), for tests.
    fast_sweeps: bool = False
    #: SubImage slices per image series, except where ``sub_image_counts`` names the cell.
    sub_images_per_cell: int = 5
    sub_image_counts: dict[int, int] = field(default_factory=lambda: {313862022: 627})
    #: Specimens whose EphysResult failed quality control.
    failed_specimens: frozenset[int] = frozenset()
    #: The cell rows are made up too: their ``ef__`` and ``nr__`` values are replaced by the
    #: values computed from the cell's recording and SWC file, where it has them.
    computed_cell_values: bool = False


def _is_human(cell: dict[str, Any]) -> bool:
    return str(cell.get("donor__species") or "").lower() == "homo sapiens"


def _line_base(name: str) -> str:
    """A transgenic line name without its parenthesised detail: "Ai14(RCL-tdT)" -> "Ai14"."""
    return re.split(r"\s*\(", name, maxsplit=1)[0]


def _link_id(link: str | None) -> int | None:
    """The WellKnownFile id at the end of a ``/api/v2/well_known_file_download/<id>`` link."""
    if not link:
        return None
    tail = link.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _download_link(wkf_id: int) -> str:
    return f"/api/v2/well_known_file_download/{wkf_id}"


def _value(cell: dict[str, Any], key: str, default: float) -> float:
    value = cell.get(key)
    return float(value) if value is not None else default


def nwb_cell_order(cells: Iterable[dict[str, Any]], real: RealData) -> list[int]:
    """Specimen ids in the order NWB files are made: the documented cell, then cells with real
    GLIF configs and real sweep lists, then the rest by specimen id."""
    ids = sorted(int(c["specimen__id"]) for c in cells)

    def rank(sid: int) -> tuple[int, int]:
        if sid == DOCUMENTED_NWB_CELL:
            return (0, sid)
        glif = any(m.template_id in GLIF_TEMPLATE_IDS for m in real.models.get(sid, []))
        return (1 if glif and sid in real.sweeps else 2, sid)

    return sorted(ids, key=rank)


# Older exports of the sweep tables (the ephys_sweeps.json of the 2015 model packages, units
# "pA"/"mV", zero instead of null intervals) time current-clamp stimuli from the end of the 0.1 s
# test-pulse epoch, give pulse and noise intervals as the gap between pulses or epochs, and count
# no spikes as 0. The API serves the same sweep ids with onsets from the start of the sweep
# (where the files have them: a Long Square at 1.02 s, not 0.92 s), intervals as onset-to-onset
# periods and null counts: compare specimen 324257146 in both exports.
_OLD_EXPORT_ONSET_S = 0.1
_OLD_EXPORT_UNITS = {"pA": "Amps", "mV": "Volts"}
_PULSE_WIDTHS_S = {"Short Square - Triple": 0.003, "Square - 0.5ms Subthreshold": 0.0005}


def _old_export(sweeps: list[dict[str, Any]]) -> bool:
    return any(
        s.get("stimulus_name") == "Long Square" and s.get("stimulus_interval") == 0.0
        for s in sweeps
    )


def _as_served(sweep: dict[str, Any]) -> dict[str, Any]:
    """One sweep record of an older export as the API serves it now."""
    record = dict(sweep)
    units = str(record.get("stimulus_units") or "")
    record["stimulus_units"] = _OLD_EXPORT_UNITS.get(units, units)
    if record["stimulus_units"] != "Amps" or record.get("stimulus_name") == "Test":
        return record
    start = record.get("stimulus_start_time")
    if start is not None:
        record["stimulus_start_time"] = round(float(start) + _OLD_EXPORT_ONSET_S, 6)
    interval = float(record.get("stimulus_interval") or 0.0)
    name = str(record.get("stimulus_name") or "")
    duration = float(record.get("stimulus_duration") or 0.0)
    if name in _PULSE_WIDTHS_S and interval > 0:
        record["stimulus_interval"] = round(interval + _PULSE_WIDTHS_S[name], 6)
    elif name.startswith("Noise") and interval > 0:
        # Three epochs and two gaps fill the duration (published one sample short: whole ms).
        epoch = round((duration - 2.0 * interval) / 3.0, 3)
        record["stimulus_interval"] = round(interval + epoch, 6)
    else:
        record["stimulus_interval"] = None
    if record.get("num_spikes") == 0:
        record["num_spikes"] = None
    return record


def current_api_sweeps(sweeps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A real sweep list as the API serves it: older exports converted, others as published."""
    if not _old_export(sweeps):
        return [dict(s) for s in sweeps]
    return [_as_served(s) for s in sweeps]


class _Filler:
    def __init__(
        self,
        writer: SnapshotWriter,
        real: RealData,
        options: FillOptions,
        write_nwb: NwbWriter | None,
    ) -> None:
        self.writer = writer
        self.real = real
        self.options = options
        self.write_nwb = write_nwb
        self.new_id = IdAllocator()
        self.donors: set[int] = set()
        self.structures: dict[int, dict[str, Any]] = {}
        self.new_soma_location_id = IdAllocator(_SOMA_LOCATION_ID_BASE)
        # Reference records written so far: {model: {id: name}}.
        self.references: dict[str, dict[int, Any]] = {}
        published_lines = real.records.get("TransgenicLine", {}).values() or [PUBLISHED_AI14]
        self.published_lines = {str(r["name"]): r for r in published_lines}
        self.reporter_lines = {
            _line_base(name): r for name, r in self.published_lines.items()
            if r.get("transgenic_line_type_name") == "reporter"
        }

    # -- shared records -------------------------------------------------------------------
    def write_types_and_templates(self) -> None:
        self.writer.add_records(
            "WellKnownFileType",
            ({"id": type_id, "name": name} for name, type_id in WELL_KNOWN_FILE_TYPES.items()),
        )
        self.writer.add_records(
            "NeuronalModelTemplate",
            (
                {"id": template_id, "name": name, "description": description}
                for template_id, (name, description) in models.TEMPLATES.items()
            ),
        )

        for pid, name in PRODUCTS.items():
            self.reference("Product", {"id": pid, "name": name})
        self.template_files()

    def reference(self, model: str, record: dict[str, Any]) -> int:
        """Write the served-only record once; its id (a clash of two names is an error)."""
        known = self.references.setdefault(model, {})
        record_id = int(record["id"])
        if record_id in known:
            if known[record_id] != record.get("name"):
                raise ConfigError(f"{model} id {record_id} names both {known[record_id]!r} and "
                                  f"{record.get('name')!r}")
            return record_id
        known[record_id] = record.get("name")
        self.writer.add_record(model, record)
        return record_id

    def named(self, model: str, name: str, **fields: Any) -> int:
        """The id of the served-only ``model`` record called ``name`` (synthetic unless
        ``fields`` give a published ``id``), written on first use."""
        record = {"id": named_id(model, name), "name": name, **fields}
        return self.reference(model, record)

    def template_files(self) -> None:
        """The NEURON mechanism files, listed under both biophysical templates: the real data's
        records and bytes, else the copy bundled with the package."""
        records, data = self.real.template_files, self.real.modfiles
        if not records or not data:
            records = {
                int(r["id"]): r
                for r in json.loads((_BUNDLED_MODFILES / "well_known_files.json").read_text())
            }
            data = {p.name: p.read_bytes() for p in sorted(_BUNDLED_MODFILES.glob("*.mod"))}
        mechanism = WELL_KNOWN_FILE_TYPES["BiophysicalModelDescription"]
        for wkf_id, record in sorted(records.items()):
            name = Path(str(record["path"])).name
            if record.get("well_known_file_type_id") != mechanism or name not in data:
                continue
            self.writer.add_record(
                "WellKnownFile", {**record, "download_link": _download_link(wkf_id)}
            )
            self.writer.write_bytes_file(wkf_id, name, data[name])
            for template in _MECHANISM_TEMPLATES:
                self.writer.add_link("NeuronalModelTemplate", "well_known_files", template, wkf_id)

    def add_file(
        self,
        wkf_id: int,
        *,
        attachable_type: str,
        attachable_id: int,
        type_name: str,
        path: str,
        data: bytes,
    ) -> None:
        known = self.real.record("WellKnownFile", wkf_id)
        if known is not None:
            path = str(known["path"])
        self.writer.add_record(
            "WellKnownFile",
            {
                "id": wkf_id,
                "attachable_id": attachable_id,
                "attachable_type": attachable_type,
                "download_link": _download_link(wkf_id),
                "path": path,
                "well_known_file_type_id": WELL_KNOWN_FILE_TYPES[type_name],
            },
        )
        self.writer.write_bytes_file(wkf_id, Path(path).name, data)

    def _known_wkf(
        self, attachable_type: str, attachable_id: int, type_name: str
    ) -> dict[str, Any] | None:
        type_id = WELL_KNOWN_FILE_TYPES[type_name]
        for wkf in self.real.records.get("WellKnownFile", {}).values():
            if (
                wkf.get("attachable_type") == attachable_type
                and wkf.get("attachable_id") == attachable_id
                and wkf.get("well_known_file_type_id") == type_id
            ):
                return wkf
        return None

    # -- donor, structure, specimen ------------------------------------------------------
    def donor(self, cell: dict[str, Any]) -> None:
        donor_id = cell.get("donor__id")
        if donor_id is None or donor_id in self.donors:
            return
        self.donors.add(int(donor_id))
        real = self.real.record("Donor", donor_id)
        self.donor_links(cell, int(donor_id))
        if real is not None:
            self.writer.add_record("Donor", real)
            self.organism(cell, real.get("organism_id"))
            return
        human = _is_human(cell)
        sex = str(cell.get("donor__sex") or "")
        disease = cell.get("donor__disease_state")
        record: dict[str, Any] = dict.fromkeys(_DONOR_FIELDS)
        record.update(
            {
                "id": int(donor_id),
                "name": cell.get("donor__name"),
                "organism_id": HUMAN_ORGANISM if human else MOUSE_ORGANISM,
                "sex": sex[:1] or None,
                "sex_full_name": sex or None,
                "race_only": cell.get("donor__race"),
                "strain": cell.get("donor__race") if human else "C57BL/6J",
                "condition_description": f"disease categories - {disease}" if disease else None,
                "full_genotype": None if human else cell.get("line_name"),
                "tags": f"{cell.get('donor__name')} ",
            }
        )
        self.writer.add_record("Donor", record)
        self.organism(cell, record["organism_id"])

    def organism(self, cell: dict[str, Any], organism_id: int | None) -> None:
        """The Organism a donor names, called as the cell row names the species."""
        species = cell.get("donor__species")
        if organism_id is not None and species is not None:
            self.reference("Organism", {"id": int(organism_id), "name": species})

    def donor_links(self, cell: dict[str, Any], donor_id: int) -> None:
        """``Donor.transgenic_lines`` and ``Donor.conditions`` from the cell row: its driver
        lines (``line_name``, ``|``-separated), the reporter line of the donor's genotype where a
        published reporter line record names it, and its disease state."""
        drivers = [n for n in str(cell.get("line_name") or "").split("|") if n]
        for name in drivers:
            published = self.published_lines.get(name)
            line = (
                self.reference("TransgenicLine", dict(published)) if published is not None
                else self.named("TransgenicLine", name, transgenic_line_type_name="driver",
                                transgenic_line_type_code="D",
                                **dict.fromkeys(_TRANSGENIC_LINE_FIELDS))
            )
            self.writer.add_link("Donor", "transgenic_lines", donor_id, line)
        if cell.get("donor__name") and drivers:
            genotype = re.sub(r"-\d+$", "", str(cell["donor__name"])).split(";")
            for part in genotype:
                reporter = self.reporter_lines.get(_line_base(part))
                if part not in drivers and reporter is not None:
                    line = self.reference("TransgenicLine", dict(reporter))
                    self.writer.add_link("Donor", "transgenic_lines", donor_id, line)
        disease = cell.get("donor__disease_state")
        if disease:
            condition = self.named("Condition", f"disease categories - {disease}")
            self.writer.add_link("Donor", "conditions", donor_id, condition)

    def structure(
        self, structure_id: int, *, name: str, acronym: str, parent_id: int | None, human: bool
    ) -> None:
        if structure_id in self.structures:
            return
        real = self.real.record("Structure", structure_id)
        path = f"/{parent_id}/{structure_id}/" if parent_id else f"/{structure_id}/"
        record = (
            dict(real)
            if real is not None
            else {
                "id": structure_id,
                "name": name,
                "acronym": acronym,
                "safe_name": name,
                "atlas_id": None,
                "color_hex_triplet": f"{(structure_id * 2654435761) % 0xFFFFFF:06X}",
                "depth": None,
                "failed": False,
                "failed_facet": _FAILED_FACET,
                "graph_id": 16 if human else 1,
                "graph_order": None,
                "hemisphere_id": 3,
                "neuro_name_structure_id": None,
                "neuro_name_structure_id_path": None,
                "ontology_id": 11 if human else 1,
                "sphinx_id": None,
                "st_level": None,
                "structure_name_facet": None,
                "weight": 8690,
            }
        )
        # The corpus keeps two levels of the ontology: layer -> area; areas are roots here.
        record["parent_structure_id"] = parent_id
        record["structure_id_path"] = path
        self.structures[structure_id] = record
        self.writer.add_record("Structure", record)

    def structures_of(self, cell: dict[str, Any]) -> None:
        sid, parent = cell.get("structure__id"), cell.get("structure_parent__id")
        human = _is_human(cell)
        name = str(cell.get("structure__name") or cell.get("structure__acronym") or "")
        if parent is not None and parent != sid:
            area_name = (
                name.split(", layer")[0]
                if ", layer" in name
                else str(cell.get("structure_parent__acronym"))
            )
            self.structure(
                int(parent),
                name=area_name,
                acronym=str(cell.get("structure_parent__acronym")),
                parent_id=None,
                human=human,
            )
        if sid is not None:
            self.structure(
                int(sid),
                name=name,
                acronym=str(cell.get("structure__acronym")),
                parent_id=int(parent) if parent is not None and parent != sid else None,
                human=human,
            )

    def specimen(self, cell: dict[str, Any]) -> dict[str, Any]:
        sid = int(cell["specimen__id"])
        real = self.real.record("Specimen", sid)
        if real is not None:
            record = dict(real)
        else:
            record = {
                "cell_prep_sample_id": None,
                "cell_reporter_id": None,
                "cortex_layer_id": None,
                "data": None,
                "ephys_result_id": None,
                "external_specimen_name": None,
                "failed_facet": _FAILED_FACET,
                "id": sid,
                "is_cell_specimen": True,
                "is_ish": False,
                "name": cell.get("specimen__name"),
                "parent_id": None,
                "parent_x_coord": 0,
                "parent_y_coord": 0,
                "parent_z_coord": 0,
                "pinned_radius": None,
                "rna_integrity_number": None,
                "specimen_id_path": f"/{sid}/",
                "sphinx_id": None,
                "tissue_ph": None,
                "treatment_id": None,
                "weight": 9000,
            }
        # The cell list is the newer publication: its donor, structure and side win.
        record["donor_id"] = cell.get("donor__id")
        record["structure_id"] = cell.get("structure__id")
        record["hemisphere"] = cell.get("specimen__hemisphere")
        if record.get("ephys_result_id") is None:
            record["ephys_result_id"] = self.new_id()
        record["cell_reporter_id"] = self.cell_reporter(cell)
        record["cortex_layer_id"] = self.cortex_layer(cell)
        self.writer.add_record("Specimen", record)
        product = HUMAN_CELL_TYPES if _is_human(cell) else MOUSE_CELL_TYPES
        self.writer.add_link("Specimen", "products", sid, product)
        for prefix, column in _SPECIMEN_TAGS:
            if cell.get(column):
                tag = self.named("SpecimenTag", f"{prefix} - {cell[column]}")
                self.writer.add_link("Specimen", "specimen_tags", sid, tag)
        location = {field: cell.get(column) for field, column in _SOMA_LOCATION}
        if any(v is not None for v in location.values()):
            self.writer.add_record(
                "CellSomaLocation",
                {"id": self.new_soma_location_id(), "specimen_id": sid, **location},
            )
        return record

    def cell_reporter(self, cell: dict[str, Any]) -> int:
        """The CellReporter named by the cell row's reporter status (null for human cells)."""
        status = cell.get("cell_reporter_status")
        published = PUBLISHED_CELL_REPORTERS.get(status)
        record_id = published if published is not None else named_id("CellReporter", str(status))
        return self.reference("CellReporter", {"id": record_id, "name": status})

    def cortex_layer(self, cell: dict[str, Any]) -> int | None:
        """The CortexLayer of a human cell, named as the row's ``structure__layer``."""
        layer = cell.get("structure__layer")
        if not _is_human(cell) or not layer:
            return None
        record_id = PUBLISHED_CORTEX_LAYERS.get(str(layer), named_id("CortexLayer", str(layer)))
        return self.reference("CortexLayer", {"id": record_id, "name": str(layer)})

    # -- electrophysiology ----------------------------------------------------------------
    def sweeps(
        self, cell: dict[str, Any], rng: np.random.Generator
    ) -> tuple[list[dict[str, Any]], bool]:
        sid = int(cell["specimen__id"])
        if sid in self.real.sweeps:
            return current_api_sweeps(self.real.sweeps[sid]), True
        rheobase = _value(cell, "ef__threshold_i_long_square", 100.0)
        vrest = _value(cell, "ef__vrest", -70.0)
        ri = _value(cell, "ef__ri", 150.0)
        records = []
        for sweep in synthetic_sweeps(rng, rheobase_pa=rheobase, fast=self.options.fast_sweeps):
            record: dict[str, Any] = {"id": self.new_id(), "specimen_id": sid, **sweep}
            record.update(dict.fromkeys(_SWEEP_QUALITY))
            if sweep["stimulus_name"] != "Test":
                pre = vrest + float(rng.normal(0.0, 0.5))
                post = pre + float(rng.normal(0.0, 0.3))
                amplitude = float(sweep.get("stimulus_absolute_amplitude") or 0.0)
                record.update(
                    {
                        "pre_vm_mv": pre,
                        "post_vm_mv": post,
                        "slow_vm_mv": pre,
                        "vm_delta_mv": abs(post - pre),
                        "pre_noise_rms_mv": float(rng.uniform(0.02, 0.08)),
                        "post_noise_rms_mv": float(rng.uniform(0.02, 0.08)),
                        "slow_noise_rms_mv": float(rng.uniform(0.04, 0.12)),
                        "leak_pa": float(rng.normal(0.0, 10.0)),
                        "bridge_balance_mohm": float(rng.uniform(8.0, 25.0)),
                        "peak_deflection": (
                            vrest + amplitude * ri * 1e-3
                            if sweep["stimulus_name"] == "Long Square" and amplitude < 0
                            else None
                        ),
                    }
                )
            records.append(record)
        return records, False

    def ephys_feature(
        self,
        cell: dict[str, Any],
        sweeps: list[dict[str, Any]],
        rng: np.random.Generator,
        recording: computed.Recording | None,
    ) -> None:
        sid = int(cell["specimen__id"])
        real = self.real.ephys_features.get(sid)
        if real is not None:
            self.writer.add_record("EphysFeature", real)
            return
        if recording is not None:
            self.computed_ephys_feature(cell, sweeps, rng, recording)
            return
        rheobase = _value(cell, "ef__threshold_i_long_square", 100.0)
        long_squares = [s for s in sweeps if s["stimulus_name"] == "Long Square"]
        at_rheobase = next(
            (s for s in long_squares if (s["stimulus_absolute_amplitude"] or 0) >= rheobase), None
        )
        thumbnail = next(
            (s for s in long_squares if (s["stimulus_absolute_amplitude"] or 0) >= rheobase + 40),
            at_rheobase,
        )
        record: dict[str, Any] = {
            "id": self.new_id(),
            "specimen_id": sid,
            "rheobase_sweep_id": at_rheobase["id"] if at_rheobase else None,
            "rheobase_sweep_number": at_rheobase["sweep_number"] if at_rheobase else None,
            "thumbnail_sweep_id": thumbnail["id"] if thumbnail else None,
            "adaptation": cell.get("ef__adaptation"),
            "avg_isi": cell.get("ef__avg_isi"),
            "electrode_0_pa": float(rng.normal(0.0, 30.0)),
            "f_i_curve_slope": cell.get("ef__f_i_curve_slope"),
            "has_burst": False,
            "has_delay": False,
            "has_pause": False,
            "input_resistance_mohm": cell.get("ef__ri"),
            "latency": float(rng.uniform(0.02, 0.12)),
            "ri": cell.get("ef__ri"),
            "sag": float(rng.uniform(0.0, 0.3)),
            "seal_gohm": float(rng.uniform(1.0, 5.0)),
            "tau": cell.get("ef__tau"),
            "vm_for_sag": float(rng.uniform(-95.0, -80.0)),
            "vrest": cell.get("ef__vrest"),
        }
        threshold_v = float(rng.uniform(-50.0, -35.0))
        onsets = {"long_square": 1.02, "short_square": 1.02, "ramp": 4.0}
        for protocol, onset in onsets.items():
            t = onset + float(rng.uniform(0.001, 0.1))
            trough = threshold_v - float(rng.uniform(5.0, 15.0))
            record.update(
                {
                    f"threshold_t_{protocol}": t,
                    f"threshold_v_{protocol}": threshold_v,
                    f"peak_t_{protocol}": t + 0.0005,
                    f"peak_v_{protocol}": float(rng.uniform(20, 45)),
                    f"fast_trough_t_{protocol}": t + 0.002,
                    f"fast_trough_v_{protocol}": trough,
                    f"trough_t_{protocol}": t + 0.004,
                    f"trough_v_{protocol}": trough - 1.0,
                    f"slow_trough_t_{protocol}": None,
                    f"slow_trough_v_{protocol}": None,
                    f"upstroke_downstroke_ratio_{protocol}": float(rng.uniform(1.2, 4.0)),
                    f"threshold_i_{protocol}": rheobase
                    * {"long_square": 1.0, "short_square": 3.0, "ramp": 1.2}[protocol],
                }
            )
        for key in (
            "fast_trough_v_long_square",
            "upstroke_downstroke_ratio_long_square",
            "peak_t_ramp",
            "threshold_i_long_square",
        ):
            if cell.get(f"ef__{key}") is not None:
                record[key] = cell[f"ef__{key}"]
        self.writer.add_record("EphysFeature", record)

    def computed_ephys_feature(
        self,
        cell: dict[str, Any],
        sweeps: list[dict[str, Any]],
        rng: np.random.Generator,
        recording: computed.Recording,
    ) -> None:
        """The EphysFeature row of a cell with a synthetic recording: what the recording gives
        (``ctmirror.replica.corpus.computed``), and the voltage-clamp QC values the public
        recordings do not hold drawn. A synthetic cell row gets the same values."""
        ephys = recording.ephys
        ids = {int(s["sweep_number"]): int(s["id"]) for s in sweeps}
        rheobase, hero = ephys.rheobase_sweep_number, ephys.hero_sweep_number
        ri = ephys.features.get("ri")
        record: dict[str, Any] = {
            "id": self.new_id(),
            "specimen_id": int(cell["specimen__id"]),
            "rheobase_sweep_id": ids.get(rheobase) if rheobase is not None else None,
            "rheobase_sweep_number": rheobase,
            "thumbnail_sweep_id": ids.get(hero) if hero is not None else None,
            **ephys.features,
            "electrode_0_pa": float(rng.normal(0.0, 30.0)),
            "seal_gohm": float(rng.uniform(1.0, 5.0)),
            # Measured on the break-in sweep, not ri; close to it.
            "input_resistance_mohm": float(ri) * float(rng.uniform(0.9, 1.1))
            if isinstance(ri, float)
            else None,
        }
        self.writer.add_record("EphysFeature", record)
        if self.options.computed_cell_values:
            cell.update(computed.cell_list_ephys(ephys.features))

    def ephys_result(self, cell: dict[str, Any], specimen: dict[str, Any]) -> None:
        self.writer.add_record(
            "EphysResult",
            {
                "id": specimen["ephys_result_id"],
                "failed": int(cell["specimen__id"]) in self.options.failed_specimens,
                "sampling_rate": SAMPLING_RATE_HZ,
            },
        )

    def nwb(
        self,
        cell: dict[str, Any],
        specimen: dict[str, Any],
        sweeps: list[dict[str, Any]],
        real_sweeps: bool,
        storage: str,
        scratch: Path,
    ) -> computed.Recording:
        """Write the cell's NWB file; what the corpus computes from it (converted in
        ``scratch`` when first needed)."""
        if self.write_nwb is None:
            raise RuntimeError("NWB cells were asked for without an NWB writer")
        erid = int(specimen["ephys_result_id"])
        wkf_id = cell.get("erwkf__id") or self.new_id()
        name = f"{erid}_ephys.nwb"
        target = self.writer.well_known_file_path(wkf_id, name)
        counts = self.write_nwb(
            target,
            specimen_id=int(cell["specimen__id"]),
            specimen_name=str(cell.get("specimen__name") or ""),
            ephys_result_id=erid,
            cell=cell,
            sweeps=sweeps,
            seed=self.options.seed,
            follow_spike_counts=real_sweeps,
        )
        if not real_sweeps:
            for sweep in sweeps:
                if sweep["stimulus_name"] != "Test":
                    sweep["num_spikes"] = counts.get(int(sweep["sweep_number"]))
        known = self.real.record("WellKnownFile", wkf_id)
        self.writer.add_record(
            "WellKnownFile",
            {
                "id": wkf_id,
                "attachable_id": erid,
                "attachable_type": "EphysResult",
                "download_link": _download_link(wkf_id),
                "path": str(known["path"])
                if known
                else f"{storage}/Ephys_Specimen_Roi_plan_{erid}/{name}",
                "well_known_file_type_id": WELL_KNOWN_FILE_TYPES["NWBDownload"],
            },
        )
        self.writer.add_file("well_known_file", wkf_id, target)
        return computed.Recording(
            target, scratch, specimen_id=int(cell["specimen__id"]), well_known_file_id=int(wkf_id)
        )

    def thumbnails(
        self, cell: dict[str, Any], specimen: dict[str, Any], rng: np.random.Generator, storage: str
    ) -> None:
        erid = int(specimen["ephys_result_id"])
        for column, type_name, file_name, style in _THUMBNAILS:
            wkf_id = _link_id(cell.get(column))
            if wkf_id is None:
                continue
            self.add_file(
                wkf_id,
                attachable_type="EphysResult",
                attachable_id=erid,
                type_name=type_name,
                path=f"{storage}/Ephys_Specimen_Roi_plan_{erid}/{file_name}",
                data=images.thumbnail_png(rng, title=style),
            )

    # -- morphology -------------------------------------------------------------------------
    def reconstruction(
        self, cell: dict[str, Any], rng: np.random.Generator, storage: str
    ) -> dict[str, Any] | None:
        sid = int(cell["specimen__id"])
        kind = cell.get("nr__reconstruction_type")
        if kind is None and cell.get("nrwkf__id") is None:
            return None
        real = self.real.reconstructions.get(sid, {})
        reconstruction_id = int(real["id"]) if "id" in real else self.new_id()
        full = kind == "full"
        tree = None
        swc_bytes = self.real.swc.get(sid)
        if swc_bytes is None:
            tree = swc.synthetic_tree(
                rng,
                stems=int(cell.get("nr__number_stems") or rng.integers(3, 9)),
                bifurcations=int(cell.get("nr__number_bifurcations") or rng.integers(10, 60)),
                max_distance_um=_value(
                    cell, "nr__max_euclidean_distance", float(rng.uniform(250, 700))
                ),
                axon=full,
                soma_xyz=(
                    float(rng.uniform(250, 600)),
                    float(rng.uniform(250, 600)),
                    float(rng.uniform(20, 60)),
                ),
            )
            swc_bytes = swc.to_swc_text(tree).encode()
        record: dict[str, Any] = dict.fromkeys(RECONSTRUCTION_COLUMNS)
        if tree is not None:
            # A synthetic SWC file: its measurements are computed from it as a sync does.
            measured = computed.morphology_features(swc_bytes)
            record.update({k: v for k, v in measured.items() if k in RECONSTRUCTION_COLUMNS})
            if self.options.computed_cell_values:
                cell.update({k: v for k, v in measured.items() if k in CELL_LIST_COLUMNS})
        if not self.options.computed_cell_values:
            published = {
                key: cell.get(f"nr__{key}")
                for key in (
                    "average_contraction",
                    "average_parent_daughter_ratio",
                    "max_euclidean_distance",
                    "number_bifurcations",
                    "number_stems",
                )
            }
            record.update({k: v for k, v in published.items() if v is not None})
        record.update(
            {
                "id": reconstruction_id,
                "specimen_id": sid,
                "neuron_reconstruction_type": kind,
                "tags": "3D Neuron Reconstruction morphology",
                "superseded": False,
                "scale_factor_x": 0.1144,
                "scale_factor_y": 0.1144,
                "scale_factor_z": 0.28,
            }
        )
        # Published measurements win over the cell list's rounded copies and synthetic ones.
        record.update({k: v for k, v in real.items() if v is not None})
        self.writer.add_record("NeuronReconstruction", record)

        base = str(cell.get("specimen__name") or sid).replace(";", "_")
        folder = f"{storage}/specimen_{sid}"
        swc_name = f"{base}_{reconstruction_id}_m.swc"
        swc_wkf = cell.get("nrwkf__id") or self.new_id()
        self.add_file(
            swc_wkf,
            attachable_type="NeuronReconstruction",
            attachable_id=reconstruction_id,
            type_name="3DNeuronReconstruction",
            path=f"{folder}/{swc_name}",
            data=swc_bytes,
        )
        marker = self.real.markers.get(sid)
        if marker is None:
            marker_tree = tree if tree is not None else swc.parse_swc(swc_bytes.decode())
            marker = swc.synthetic_marker(rng, marker_tree, full=full).encode()
        known_marker = self._known_wkf("NeuronReconstruction", reconstruction_id, "3DNeuronMarker")
        marker_wkf = int(known_marker["id"]) if known_marker else self.new_id()
        self.add_file(
            marker_wkf,
            attachable_type="NeuronReconstruction",
            attachable_id=reconstruction_id,
            type_name="3DNeuronMarker",
            path=f"{folder}/{base}_{reconstruction_id}_marker_m.swc",
            data=marker,
        )
        return {
            "id": reconstruction_id,
            "swc_name": swc_name,
            "swc": swc_bytes,
            "marker_name": f"{base}_{reconstruction_id}_marker_m.swc",
            "marker": marker,
        }

    def images(self, cell: dict[str, Any], rng: np.random.Generator, storage: str) -> None:
        sid = int(cell["specimen__id"])
        si_path = cell.get("si__path")
        directory = str(Path(si_path).parent) if si_path else f"{storage}/specimen_{sid}"
        width = int(cell.get("si__width") or rng.integers(4000, 9000))
        height = int(cell.get("si__height") or rng.integers(4000, 9000))
        depth = int(rng.integers(200, 420))
        structure_id = cell.get("structure__id")
        series_id = self.new_id()
        self.writer.add_record(
            "ImageSeries",
            images.image_series(
                series_id,
                specimen_id=sid,
                specimen_name=str(cell.get("specimen__name") or sid),
                storage_directory=directory + "/",
            ),
        )
        self.writer.add_records(
            "ProjectionImage",
            images.projection_images(
                [self.new_id() for _ in range(4)],
                specimen_id=sid,
                directory=directory,
                width=width,
                height=height,
                depth=depth,
                structure_id=structure_id,
            ),
        )
        count = self.options.sub_image_counts.get(sid, self.options.sub_images_per_cell)
        self.writer.add_records(
            "SubImage",
            images.sub_images(
                [self.new_id() for _ in range(count)],
                data_set_id=series_id,
                directory=directory,
                width=width,
                height=height,
                structure_id=structure_id,
            ),
        )

    # -- models ------------------------------------------------------------------------------
    def _model_plan(self, cell: dict[str, Any]) -> list[tuple[int, RealModel | None]]:
        """(template id, real model or None) for every model the cell's counts publish."""
        sid = int(cell["specimen__id"])
        real = sorted(self.real.models.get(sid, []), key=lambda m: int(m.record["id"]))
        plan: list[tuple[int, RealModel | None]] = []
        wanted: dict[str | int, int] = {
            "glif": int(cell.get("m__glif") or 0),
            models.PERISOMATIC: int(cell.get("m__biophys_perisomatic") or 0),
            models.ALL_ACTIVE: int(cell.get("m__biophys_all_active") or 0),
        }
        for family, count in wanted.items():
            in_family = [
                m
                for m in real
                if (
                    m.template_id in GLIF_TEMPLATE_IDS
                    if family == "glif"
                    else m.template_id == family
                )
            ]
            chosen = in_family[:count]
            plan += [(m.template_id, m) for m in chosen]
            if family == "glif":
                used = {m.template_id for m in chosen}
                free = [t for t in models.GLIF_FILL_ORDER if t not in used]
                plan += [(free[i % len(free)], None) for i in range(count - len(chosen))]
            else:
                plan += [(int(family), None)] * (count - len(chosen))
        return plan

    def neuronal_models(
        self,
        cell: dict[str, Any],
        sweeps: list[dict[str, Any]],
        reconstruction: dict[str, Any] | None,
        specimen: dict[str, Any],
        rng: np.random.Generator,
        storage: str,
        recording: computed.Recording | None,
    ) -> None:
        sid = int(cell["specimen__id"])
        sweeps_json = json.dumps(sweeps, separators=(",", ":")).encode()
        stimulus_sweeps = [int(s["sweep_number"]) for s in sweeps if s["stimulus_name"] != "Test"]
        for template_id, real in self._model_plan(cell):
            glif = template_id in GLIF_TEMPLATE_IDS
            model_id = int(real.record["id"]) if real else self.new_id()
            name = (
                str(real.record["name"])
                if real
                else f"{models.MODEL_NAME_PREFIX[template_id]}_{cell.get('specimen__name')}"
            )
            record = {
                "id": model_id,
                "name": name,
                "neuronal_model_template_id": template_id,
                "specimen_id": sid,
                "neuron_reconstruction_id": (
                    reconstruction["id"] if reconstruction and not glif else None
                ),
            }
            self.writer.add_record("NeuronalModel", record)
            if real is not None:
                parameters, wkf_id = real.parameters.data, real.parameters.wkf_id
                file_name = real.parameters.name
            elif glif:
                parameters = models.json_bytes(
                    models.synthetic_neuron_config(
                        rng,
                        template_id,
                        vrest_mv=_value(cell, "ef__vrest", -70.0),
                        ri_mohm=_value(cell, "ef__ri", 150.0),
                        tau_ms=_value(cell, "ef__tau", 20.0),
                        rheobase_pa=_value(cell, "ef__threshold_i_long_square", 100.0),
                    )
                )
                wkf_id, file_name = None, f"{model_id}_neuron_config.json"
            else:
                parameters = models.json_bytes(
                    models.synthetic_fit(
                        rng,
                        template_id,
                        vrest_mv=_value(cell, "ef__vrest", -70.0),
                        sweep_numbers=stimulus_sweeps,
                    )
                )
                wkf_id, file_name = None, f"{sid}_fit.json"
            wkf_id = wkf_id or self.new_id()
            path = f"{storage}/neuronal_model_{model_id}/{file_name}"
            self.add_file(
                wkf_id,
                attachable_type="NeuronalModel",
                attachable_id=model_id,
                type_name="NeuronalModelParameters",
                path=path,
                data=parameters,
            )
            evr = real.explained_variance_ratio if real else None
            if evr is None and glif and recording is not None:
                evr = computed.explained_variance_ratio(parameters, recording)
            self.writer.add_record(
                "NeuronalModelRun",
                {
                    "id": self.new_id(),
                    "neuronal_model_id": model_id,
                    "name": f"{name} run",
                    "explained_variance_ratio": evr
                    if evr is not None
                    else float(rng.uniform(0.3, 0.9)),
                    "rheobase_feature_average": None,
                },
            )
            published = {
                **record,
                "well_known_files": [
                    {
                        "id": wkf_id,
                        "attachable_id": model_id,
                        "attachable_type": "NeuronalModel",
                        "download_link": _download_link(wkf_id),
                        "path": path,
                        "well_known_file_type_id": WELL_KNOWN_FILE_TYPES["NeuronalModelParameters"],
                        "well_known_file_type": {
                            "id": WELL_KNOWN_FILE_TYPES["NeuronalModelParameters"],
                            "name": "NeuronalModelParameters",
                        },
                    }
                ],
                "neuronal_model_template": {
                    "id": template_id,
                    "name": models.TEMPLATES[template_id][0],
                    "description": models.TEMPLATES[template_id][1],
                },
            }
            package = {
                "ephys_sweeps.json": sweeps_json,
                "neuronal_model.json": models.json_bytes(published),
            }
            if glif:
                package[f"{model_id}_neuron_config.json"] = parameters
            else:
                package[file_name] = parameters
                extra = {f.name: f.data for f in real.extra_files} if real else {}
                package["manifest.json"] = extra.get("manifest.json") or models.json_bytes(
                    models.biophysical_manifest(
                        model_type=models.TEMPLATES[template_id][0],
                        fit_name=file_name,
                        swc_name=reconstruction["swc_name"] if reconstruction else None,
                        marker_name=reconstruction["marker_name"] if reconstruction else None,
                        nwb_name=f"{specimen['ephys_result_id']}.nwb",
                        sweep_numbers=stimulus_sweeps,
                    )
                )
                if reconstruction:
                    package[reconstruction["swc_name"]] = reconstruction["swc"]
                    package[reconstruction["marker_name"]] = reconstruction["marker"]
            zip_path = self.writer.model_zip_path(model_id)
            zip_path.write_bytes(models.model_zip_bytes(package))
            self.writer.add_file("model_zip", model_id, zip_path)

    # -- one cell ---------------------------------------------------------------------------
    def cell(self, cell: dict[str, Any], *, with_nwb: bool) -> None:
        sid = int(cell["specimen__id"])
        rng = np.random.default_rng([self.options.seed, sid])
        storage = (
            f"/external/{'human' if _is_human(cell) else 'mouse'}celltypes/"
            f"prod{int(rng.integers(200, 600))}"
        )
        # The row is written last: with ``computed_cell_values`` its feature values are those
        # computed from the files written below.
        cell = dict(cell)
        self.donor(cell)
        self.structures_of(cell)
        specimen = self.specimen(cell)
        self.ephys_result(cell, specimen)
        sweeps, real_sweeps = self.sweeps(cell, rng)
        with contextlib.ExitStack() as stack:
            recording = None
            if with_nwb:
                # The recording's sweeps Parquet, while the cell's values are computed.
                scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="ctmirror-"))
                recording = self.nwb(cell, specimen, sweeps, real_sweeps, storage, Path(scratch))
            self.ephys_feature(cell, sweeps, rng, recording)
            self.writer.add_records("EphysSweep", sweeps)
            self.thumbnails(cell, specimen, rng, storage)
            reconstruction = self.reconstruction(cell, rng, storage)
            if reconstruction is not None or cell.get("si__path"):
                self.images(cell, rng, storage)
            self.neuronal_models(cell, sweeps, reconstruction, specimen, rng, storage, recording)
        self.writer.add_record("ApiCellTypesSpecimenDetail", cell)


def fill_corpus(
    writer: SnapshotWriter,
    real: RealData,
    options: FillOptions,
    *,
    write_nwb: NwbWriter | None = None,
) -> list[int]:
    """Write every cell of ``real.cells`` and all it links to; return the NWB cells' ids."""
    filler = _Filler(writer, real, options, write_nwb)
    filler.write_types_and_templates()
    eligible = [c for c in real.cells if int(c["specimen__id"]) not in options.failed_specimens]
    nwb_ids = nwb_cell_order(eligible, real)[: max(options.nwb_cells, 0)]
    chosen = set(nwb_ids)
    for cell in sorted(real.cells, key=lambda c: int(c["specimen__id"])):
        filler.cell(cell, with_nwb=int(cell["specimen__id"]) in chosen)
    writer.nwb_cells = len(nwb_ids)
    log.info("corpus: %d cells, %d with NWB", len(real.cells), len(nwb_ids))
    return nwb_ids
