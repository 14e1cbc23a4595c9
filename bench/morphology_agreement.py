"""Agreement of recomputed morphology features with the values the Allen Institute published.

Usage::

    python bench/morphology_agreement.py REALDATA [--json OUT.json] [--write-doc docs/morphology.md]

``REALDATA`` is a folder of real Allen files laid out as the project's research copy
(``swc/``, ``biophysical_models/``, ``morphology_features/``, ``api_celltypes_specimen_detail/``,
``api_responses/``). Three published sources are compared, each with its own pairing:

* ``record``: ``NeuronReconstruction`` records stored next to their SWC in model packages and
  API responses, paired by reconstruction id (the SWC file name carries it): same file, same
  record, so differences are ours.
* ``table2018``: a 2018 export of ``NeuronReconstruction`` rows, paired by reconstruction id or,
  for files named by specimen id, by specimen id (the file may be a later re-trace).
* ``cell_list``: the five ``nr__`` columns of ``ApiCellTypesSpecimenDetail``, paired by specimen
  id or specimen name.

A value agrees when counts are equal and real values are within the tolerance (5% for the
reconstruction columns, 1% for ``nr__``). ``--write-doc`` replaces the block between the
``<!-- agreement:start -->`` and ``<!-- agreement:end -->`` markers of a Markdown file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ctmirror.errors import SwcError
from ctmirror.features.morphology import (
    CELL_LIST_COLUMNS,
    RECONSTRUCTION_COLUMNS,
    compute_morphology_features,
)
from ctmirror.readers.swc import read_swc

COUNT_COLUMNS = {
    "number_nodes",
    "number_stems",
    "number_bifurcations",
    "number_branches",
    "number_tips",
    "max_branch_order",
    "nr__number_stems",
    "nr__number_bifurcations",
}
TOLERANCE = {"record": 0.05, "table2018": 0.05, "cell_list": 0.01}
RECON_ID = re.compile(r"_(\d{6,})_m(?:_pia)?\.swc$")
MARKERS = ("<!-- agreement:start -->", "<!-- agreement:end -->")


@dataclass(frozen=True)
class Pair:
    source: str  # record | table2018 | cell_list
    key: str  # what identifies the reconstruction in this source
    swc: Path
    published: dict[str, float | None]


def _number(value: object) -> float | None:
    if value in (None, ""):
        return None
    return float(value)  # type: ignore[arg-type]


def _records_in(obj: object) -> Iterator[dict[str, object]]:
    """NeuronReconstruction records anywhere inside an API response or model package JSON."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "neuron_reconstructions" and isinstance(value, list):
                yield from (v for v in value if isinstance(v, dict))
            else:
                yield from _records_in(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _records_in(value)


def _swc_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.swc") if "marker" not in p.name)


def _specimen_of(swc: Path, names: dict[str, int]) -> int | None:
    """Specimen id from the file's place (``cajal/<id>.swc``, ``specimen_<id>/``, a model
    package's metadata) or from the specimen name that starts Allen file names."""
    if swc.parent.name == "cajal":
        return int(swc.stem)
    match = re.search(r"specimen_(\d+)", str(swc))
    if match:
        return int(match.group(1))
    for meta_name in ("neuronal_model.json", "model_metadata.json", "metadata.json"):
        meta = swc.parent / meta_name
        if meta.exists():
            data = json.loads(meta.read_text())
            specimen = data.get("specimen_id") or data.get("AIBS:aibs_specimen_id")
            if specimen:
                return int(specimen)
    match = RECON_ID.search(swc.name)
    if match:
        name = swc.name[: match.start()]
        return names.get(name)
    return None


def collect_pairs(realdata: Path) -> list[Pair]:
    swcs = _swc_files(realdata)
    by_recon = {int(m.group(1)): p for p in swcs if (m := RECON_ID.search(p.name))}
    pairs: list[Pair] = []
    wkf_of_recon: dict[int, set[int]] = defaultdict(set)

    for json_path in sorted(realdata.rglob("*.json")):
        try:
            data = json.loads(json_path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        for record in _records_in(data):
            recon = int(record["id"])  # type: ignore[call-overload]
            for wkf in record.get("well_known_files") or []:  # type: ignore[union-attr]
                wkf_of_recon[recon].add(int(wkf["id"]))
            if recon in by_recon:
                published = {c: _number(record.get(c)) for c in RECONSTRUCTION_COLUMNS}
                pairs.append(Pair("record", f"reconstruction {recon}", by_recon[recon], published))

    cell_list = next(realdata.glob("api_celltypes_specimen_detail/*CAJAL*.csv"), None)
    names: dict[str, int] = {}
    cells: dict[int, dict[str, str]] = {}
    if cell_list is not None:
        with cell_list.open(newline="") as handle:
            for row in csv.DictReader(handle):
                specimen = int(row["specimen__id"])
                cells[specimen] = row
                names[row["specimen__name"].replace(";", "_")] = specimen

    table = next(realdata.glob("morphology_features/*.csv"), None)
    rows: list[dict[str, str]] = []
    row_by_recon: dict[int, dict[str, str]] = {}
    if table is not None:
        with table.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        row_by_recon = {int(r["id"]): r for r in rows}
        row_by_specimen = {int(r["specimen_id"]): r for r in rows}
        for swc in swcs:
            match = RECON_ID.search(swc.name)
            row = row_by_recon.get(int(match.group(1))) if match else None
            if row is None and swc.parent.name == "cajal":
                row = row_by_specimen.get(int(swc.stem))
            if row is not None:
                published = {c: _number(row.get(c)) for c in RECONSTRUCTION_COLUMNS}
                pairs.append(Pair("table2018", f"reconstruction {row['id']}", swc, published))

    # The cell list describes each specimen's *current* reconstruction: files fetched by
    # specimen id are current; a file named by reconstruction id counts only when its
    # well-known file is the list's ``nrwkf__id`` or the 2018 table names the same id.
    current_recons = set(row_by_recon) if table is not None else set()
    for swc in swcs:
        specimen = _specimen_of(swc, names)
        row = cells.get(specimen) if specimen is not None else None
        if row is None or row["nr__number_stems"] == "":
            continue
        match = RECON_ID.search(swc.name)
        if match:
            recon = int(match.group(1))
            files = wkf_of_recon.get(recon, set())
            if row["nrwkf__id"] not in {str(f) for f in files} and recon not in (
                current_recons & {int(r["id"]) for r in rows if int(r["specimen_id"]) == specimen}
            ):
                continue
        published = {c: _number(row[c]) for c in CELL_LIST_COLUMNS}
        pairs.append(Pair("cell_list", f"specimen {specimen}", swc, published))
    return _distinct(pairs)


def _distinct(pairs: list[Pair]) -> list[Pair]:
    """One pair per (source, published key, file content): copies of a file count once."""
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for pair in pairs:
        digest = hashlib.sha256(pair.swc.read_bytes()).hexdigest()
        if (pair.source, pair.key, digest) not in seen:
            seen.add((pair.source, pair.key, digest))
            kept.append(pair)
    return kept


def _agrees(column: str, ours: float | None, theirs: float, tolerance: float) -> bool:
    if ours is None:
        return False
    if column in COUNT_COLUMNS:
        return round(ours) == round(theirs)
    return math.isclose(ours, theirs, rel_tol=tolerance, abs_tol=1e-9)


def measure(pairs: list[Pair]) -> dict[str, object]:
    computed: dict[Path, dict[str, int | float | None]] = {}
    failures: dict[str, str] = {}
    rows: dict[tuple[str, str], list[tuple[str, float | None, float]]] = defaultdict(list)
    for pair in pairs:
        if pair.swc not in computed:
            try:
                computed[pair.swc] = compute_morphology_features(read_swc(pair.swc))
            except SwcError as exc:
                failures[str(pair.swc)] = str(exc)
                continue
        ours = computed[pair.swc]
        for column, theirs in pair.published.items():
            if theirs is not None:
                rows[(pair.source, column)].append((pair.key, ours.get(column), theirs))

    summary = []
    for (source, column), values in sorted(rows.items()):
        tolerance = TOLERANCE[source]
        agree = [_agrees(column, o, t, tolerance) for _, o, t in values]
        errors = [abs(o - t) / abs(t) for _, o, t in values if o is not None and t != 0]
        worst = max(values, key=lambda v: math.inf if v[1] is None else abs(v[1] - v[2]))
        summary.append(
            {
                "source": source,
                "column": column,
                "n": len(values),
                "agree": sum(agree),
                "fraction": sum(agree) / len(values),
                "median_rel_error": statistics.median(errors) if errors else None,
                "worst": {"key": worst[0], "ours": worst[1], "published": worst[2]},
            }
        )
    return {"pairs": len(pairs), "files": len(computed), "failures": failures, "columns": summary}


def to_markdown(result: dict[str, object]) -> str:
    lines = [
        f"Pairs compared: {result['pairs']} over {result['files']} distinct SWC files "
        f"(unreadable: {len(result['failures'])}).",  # type: ignore[arg-type]
        "",
        "| source | column | n | agree | share | median rel. error |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in result["columns"]:  # type: ignore[attr-defined]
        median = row["median_rel_error"]
        lines.append(
            f"| {row['source']} | `{row['column']}` | {row['n']} | {row['agree']} | "
            f"{row['fraction']:.0%} | {'' if median is None else f'{median:.1e}'} |"
        )
    return "\n".join(lines)


def write_doc(path: Path, block: str) -> None:
    text = path.read_text()
    start, end = MARKERS
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{start}\n{block}\n{end}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("realdata", type=Path, help="folder of real Allen files")
    parser.add_argument("--json", type=Path, help="write the full result as JSON")
    parser.add_argument("--write-doc", type=Path, help="Markdown file with agreement markers")
    args = parser.parse_args(argv)
    result = measure(collect_pairs(args.realdata))
    block = to_markdown(result)
    print(block)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.write_doc:
        write_doc(args.write_doc, block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
