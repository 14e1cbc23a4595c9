"""``ctmirror export allensdk-cache``: the mirror laid out as AllenSDK's ``CellTypesCache``
folder, so unmodified ``CellTypesCache(manifest_file=DIR/manifest.json)`` reads it with no
network and no server (I/O edge).

The cache reads a file whenever it exists (``strategy='lazy'``), so every file it would
download is written beforehand, with the content it would have written: the answers to the
very RMA queries AllenSDK 2.16 sends, run in-process by the query engine of ``ctmirror serve``
over the same records (so the results equal the server's), in the cache's own file formats
(JSON indented by two; CSV with every field quoted and the header from the first record).
The recordings and reconstructions are hard links to the verified mirror files (copies across
file systems or with ``copy``): the mirror's files are never written to.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctmirror.errors import ConfigError, InputError

#: ``CellTypesCache.MANIFEST_VERSION``: another version makes the cache refuse the folder.
MANIFEST_VERSION = "1.1"
#: The manifest's keys and file specs (``CellTypesCache.build_manifest``).
MANIFEST_PATHS: tuple[tuple[str, str], ...] = (
    ("CELLS", "cells.json"),
    ("EPHYS_DATA", "specimen_%d/ephys.nwb"),
    ("EPHYS_FEATURES", "ephys_features.csv"),
    ("MORPHOLOGY_FEATURES", "morphology_features.csv"),
    ("RECONSTRUCTION", "specimen_%d/reconstruction.swc"),
    ("MARKER", "specimen_%d/reconstruction.marker"),
    ("EPHYS_SWEEPS", "specimen_%d/ephys_sweeps.json"),
)
# The queries of CellTypesApi 2.16 behind each cached file.
_CELLS = "model::ApiCellTypesSpecimenDetail"
_NOT_FAILED = "rma::criteria,specimen(ephys_result[failed$eqfalse])"
_EPHYS_FEATURES = f"model::EphysFeature,{_NOT_FAILED}"
# AllenSDK passes excpt="tags" where it takes a list and joins its letters: "t,a,g,s" are
# no fields, so the real API (and serve) keep ``tags``; the cache's CSV has the column.
_MORPHOLOGY_FEATURES = f"model::NeuronReconstruction,{_NOT_FAILED},rma::options[except$eqt,a,g,s]"
_SWEEPS = "model::EphysSweep,rma::criteria,[specimen_id$eq{id}]"
_NWB = ("model::Specimen,rma::criteria,[id$eq{id}],ephys_result(well_known_files("
        "well_known_file_type[name$eqNWBDownload])),rma::include,ephys_result(well_known_files("
        "well_known_file_type))")
_SWC = ("model::Specimen,rma::criteria,[id$eq{id}],neuron_reconstructions(well_known_files),"
        "rma::include,neuron_reconstructions(well_known_files(well_known_file_type"
        "[name$eq'3DNeuronReconstruction']))")
_MARKER = ("model::Specimen,rma::criteria,[id$eq{id}],neuron_reconstructions(well_known_files),"
           "rma::include,neuron_reconstructions(well_known_files(well_known_file_type"
           "[name$eq'3DNeuronMarker']))")
_DOWNLOAD_PREFIX = "/api/v2/well_known_file_download/"


@dataclass(frozen=True)
class ExportSummary:
    cells: int
    recordings: int
    reconstructions: int
    markers: int
    linked: int
    copied: int


def export_allensdk_cache(url: str, root: Path, out: Path, *,
                          cells: Sequence[int] | None = None, copy: bool = False
                          ) -> ExportSummary:
    """Write the AllenSDK cache of the mirror at ``root`` (warehouse ``url``) into ``out``;
    ``cells`` keeps only those specimens (in every file, the cell list included)."""
    from ctmirror.serve.warehouse_source import WarehouseSource

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise ConfigError(f"{out} is neither empty nor an AllenSDK cache; choose another folder")
    catalog = WarehouseSource(url, Path(root)).load()
    answer = _Answers(catalog)
    every = answer.rows(_CELLS)
    known = {int(c["specimen__id"]) for c in every}
    if cells is not None:
        missing = sorted(set(cells) - known)
        if missing:
            raise InputError(f"not in the mirror: cell {', '.join(map(str, missing))}")
    wanted = known if cells is None else set(cells)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "manifest.json", _manifest())
    _write_json(out / "cells.json", [c for c in every if int(c["specimen__id"]) in wanted])
    for name, query in (("ephys_features.csv", _EPHYS_FEATURES),
                        ("morphology_features.csv", _MORPHOLOGY_FEATURES)):
        _write_csv(out / name, [r for r in answer.rows(query)
                                if int(r["specimen_id"]) in wanted])
    placed = _Placer(copy)
    counts = {"recordings": 0, "reconstructions": 0, "markers": 0}
    for specimen in sorted(wanted):
        folder = out / f"specimen_{specimen}"
        folder.mkdir(exist_ok=True)
        sweeps = sorted(answer.rows(_SWEEPS.format(id=specimen)),
                        key=lambda s: s["sweep_number"])
        _write_json(folder / "ephys_sweeps.json", sweeps)
        for kind, query, association, name in (
                ("recordings", _NWB, "ephys_result", "ephys.nwb"),
                ("reconstructions", _SWC, "neuron_reconstructions", "reconstruction.swc"),
                ("markers", _MARKER, "neuron_reconstructions", "reconstruction.marker")):
            source = answer.file(query.format(id=specimen), association)
            if source is not None:
                placed.place(source, folder / name)
                counts[kind] += 1
    return ExportSummary(len(wanted), counts["recordings"], counts["reconstructions"],
                         counts["markers"], placed.linked, placed.copied)


class _Answers:
    """RMA queries answered by serve's engine over the mirror's current records, decoded
    from the JSON a client would receive."""

    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog

    def rows(self, q: str) -> list[dict[str, Any]]:
        from ctmirror.serve.render import json_body
        from ctmirror.serve.rma_query import parse_query

        body = json.loads(json_body(self.catalog.engine.run(parse_query(q))))
        rows: list[dict[str, Any]] = body["msg"]
        return rows

    def file(self, q: str, association: str) -> Path | None:
        """The mirrored file of the first download link AllenSDK would follow."""
        found = self.rows(q)
        if not found:
            return None
        holder = found[0][association]
        holder = holder[0] if isinstance(holder, list) and holder else holder
        links = (holder or {}).get("well_known_files") or []
        if not links:
            return None
        link = str(links[0].get("download_link") or "")
        if not link.startswith(_DOWNLOAD_PREFIX):
            return None
        served = self.catalog.files.get(("well_known_file", int(link[len(_DOWNLOAD_PREFIX):])))
        path: Path | None = None if served is None else self.catalog.resolve(served)
        return path


class _Placer:
    def __init__(self, copy: bool) -> None:
        self.copy = copy
        self.linked = self.copied = 0

    def place(self, source: Path, target: Path) -> None:
        if target.exists():
            if target.samefile(source):
                self.linked += 1
                return
            target.unlink()
        if not self.copy:
            try:
                os.link(source, target)
                self.linked += 1
                return
            except OSError:  # another file system, or links not allowed: copy instead
                pass
        shutil.copyfile(source, target)
        self.copied += 1


def _manifest() -> dict[str, Any]:
    entries: list[dict[str, Any]] = [{"type": "manifest_version", "value": MANIFEST_VERSION},
                                     {"key": "BASEDIR", "type": "dir", "spec": "."}]
    entries += [{"key": key, "type": "file", "spec": spec, "parent_key": "BASEDIR"}
                for key, spec in MANIFEST_PATHS]
    return {"manifest": entries}


def _write_json(path: Path, value: Any) -> None:
    side = path.with_name(f".{path.name}.tmp")
    side.write_text(json.dumps(value, indent=2))
    os.replace(side, path)


def _write_csv(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """As AllenSDK's cache writes a query's rows: every field quoted, the header from the
    first row's keys (an empty answer writes an empty file)."""
    side = path.with_name(f".{path.name}.tmp")
    with side.open("w") as fh:
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(fh, fieldnames=[str(k) for k in row],
                                        quoting=csv.QUOTE_ALL)
                writer.writeheader()
            writer.writerow(row)
    os.replace(side, path)


__all__ = ["MANIFEST_PATHS", "MANIFEST_VERSION", "ExportSummary", "export_allensdk_cache"]
