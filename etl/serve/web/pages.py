"""The web pages of ``ctmirror serve``: routes, templates and the plots' JSON.

Routes (everything else falls through to the RMA API)::

    GET /                                   cell search (filters in the URL)
    GET /cells.csv                          the search's cells as CSV
    GET /cells/<specimen_id>                a cell's page; plots load from the API below
    GET /overview                           counts, distributions, state of the mirror
    GET /login                              stores a token in the browser (cookie ctmirror_token)
    GET /web/static/<name>                  scripts and styles (Plotly's basic bundle)
    GET /web/api/sweep/<specimen_id>/<n>?t0=&t1=&points=   decimated samples, spikes
    GET /web/api/fi/<specimen_id>           F-I points, published and recomputed
    GET /web/api/morphology/<specimen_id>   the reconstruction's segments by compartment
    GET /web/api/glif/<neuronal_model_id>   model voltage over its recorded sweep

The JSON answers are ``null`` when the mirror holds no such data.

The cell page is rendered from a handful of keyed queries and sends no samples: its plots
fetch their JSON while Plotly's script loads, so the page draws as soon as both are in.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import numpy.typing as npt
import orjson

from ctmirror.schema.ephys_recomputed import RECOMPUTED_FEATURES
from ctmirror.schema.morphology_recomputed import RECONSTRUCTION_FEATURES
from ctmirror.serve.web import search as cell_search
from ctmirror.serve.web.data import SEARCH_COLUMNS, WebData
from ctmirror.serve.web.decimate import minmax_indices

#: Buckets of a drawn trace: about one per pixel column of a wide plot.
DEFAULT_POINTS = 2000
MAX_POINTS = 20_000
#: Static files change only with the package: cached for a year, named by version.
STATIC_MAX_AGE = 365 * 24 * 3600
#: plotly.js's basic bundle (lines, markers, bars), shipped in static/ (see PLOTLY.md there): a
#: quarter of the full bundle, whose parsing alone took a cell page past a second to first draw
PLOTLY_JS = "plotly-basic-4.1.1.min.js"
#: Bins of the overview's feature histograms
HISTOGRAM_BINS = 30
_CELL = re.compile(r"/cells/(\d+)")
_STATIC = re.compile(r"/web/static/([A-Za-z0-9_.-]+)")
_API = re.compile(r"/web/api/(sweep|fi|morphology|glif)/(\d+)(?:/(\d+))?")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
#: SWC compartment types and how the morphology view names them.
COMPARTMENTS = {1: "soma", 2: "axon", 3: "basal dendrite", 4: "apical dendrite"}
HTML = "text/html; charset=utf-8"
JSON = "application/json"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class WebPages:
    """Answers the page routes from ``data``; None for any other path."""

    def __init__(self, data: WebData) -> None:
        self.data = data
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("ctmirror.serve.web", "templates"),
            autoescape=True, trim_blocks=True, lstrip_blocks=True)
        self.env.globals["plotly_js"] = f"/web/static/{PLOTLY_JS}"
        # compress the static files (Plotly: 1.2 MB) now rather than in the first page's request
        threading.Thread(target=lambda: self._static_files, name="ctmirror-web-static",
                         daemon=True).start()

    def prepare(self, version: str) -> None:
        """Read the cell list behind the search and every cell page (0.2-0.7 s on DuckDB)."""
        def read() -> None:
            try:
                self.data.cell_list(version)
            except Exception as exc:  # the first page that needs it reads it again and says why
                log.debug("could not read the cell list of %s ahead: %s", version, exc)

        threading.Thread(target=read, name="ctmirror-web-cells", daemon=True).start()

    def close(self) -> None:
        self.data.close()

    def answer(self, path: str, raw_query: str, version: str,
               accept_gzip: bool) -> Answer | None:
        params = urllib.parse.parse_qs(raw_query, keep_blank_values=False)
        if path == "/":
            return self._html(self._search_page(version, params), accept_gzip)
        if path == "/login":
            return self._html(self.env.get_template("login.html").render(version=version),
                              accept_gzip)
        if path == "/cells.csv":
            return self._csv(version, params)
        if path == "/overview":
            return self._html(self._overview(version), accept_gzip)
        if match := _CELL.fullmatch(path):
            page = self._cell_page(version, int(match.group(1)), params)
            if page is None:
                return _text(HTTPStatus.NOT_FOUND, "no such cell")
            return self._html(page, accept_gzip)
        if match := _STATIC.fullmatch(path):
            return self._static(match.group(1), accept_gzip)
        if match := _API.fullmatch(path):
            kind, key, extra = match.groups()
            value = self._api(version, kind, int(key), None if extra is None else int(extra),
                              params)
            # null (not 404) when the mirror holds no such data: the page asks only for what
            # it lists, and a browser logs every 404 as an error
            return _compressed(HTTPStatus.OK, [("Content-Type", JSON),
                                               ("Cache-Control", "no-cache")],
                               orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY),
                               accept_gzip)
        return None

    # -- pages ----------------------------------------------------------------------------------

    def _search_page(self, version: str, params: Mapping[str, list[str]]) -> str:
        query = cell_search.Query.from_params(params)
        result = cell_search.search(self.data.cell_list(version), query)
        return self.env.get_template("search.html").render(
            query=query, result=result, facets=cell_search.FACETS, sortable=cell_search.SORTABLE,
            link=lambda **change: _link(params, change),
            csv_link="/cells.csv" + (f"?{_encode(params)}" if params else ""),
            version=version)

    def _csv(self, version: str, params: Mapping[str, list[str]]) -> Answer:
        result = cell_search.search(self.data.cell_list(version),
                                    cell_search.Query.from_params(params))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(SEARCH_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(result.matching)
        return Answer(HTTPStatus.OK, [("Content-Type", "text/csv; charset=utf-8"),
                                      ("Content-Disposition", 'attachment; filename="cells.csv"')],
                      out.getvalue().encode())

    def _cell_page(self, version: str, specimen_id: int,
                   params: Mapping[str, list[str]]) -> str | None:
        data = self.data
        cell = data.cell(version, specimen_id)
        if cell is None:
            return None
        sweeps = data.sweeps(version, specimen_id)
        chosen = _int((params.get("sweep") or [""])[0])
        if chosen is None or all(s["sweep_number"] != chosen for s in sweeps):
            chosen = _default_sweep(sweeps)
        features = [(name, cell.get(name), cell.get(f"{name}_recomputed"))
                    for name in (*RECOMPUTED_FEATURES, *RECONSTRUCTION_FEATURES)]
        files = data.files(version, specimen_id)
        return self.env.get_template("cell.html").render(
            cell=cell, sweeps=sweeps, sweep=chosen, features=features,
            models=data.glif_models(version, specimen_id),
            files=[dict(f, url=_file_url(f)) for f in files],
            images=[dict(f, url=_file_url(f)) for f in files
                    if f["source"] == "projection_image"],
            has_nwb=bool(cell.get("has_nwb")), version=version)

    def _overview(self, version: str) -> str:
        data = self.data
        cells = data.cell_list(version)
        distributions = {
            label: _tally(cells, column)
            for label, column in (("species", "species"), ("region", "area_acronym"),
                                  ("dendrite type", "dendrite_type"), ("layer", "layer"))}
        shown = RECOMPUTED_FEATURES[:6]
        columns = ", ".join(f"{n}, {n}_recomputed" for n in shown)
        values = data.rows(version, f"SELECT {columns} FROM cells")
        histograms = {n: histograms_of([r[n] for r in values],
                                       [r[f"{n}_recomputed"] for r in values])
                      for n in shown}
        runs = data.rows(version, """
            SELECT sync_id, started_at, finished_at, status, inserted, updated, unchanged,
                   removed, error_count FROM sync_runs ORDER BY started_at DESC LIMIT 10""")
        errors = data.rows(version, """
            SELECT sync_id, model, record_id, message, occurred_at FROM sync_errors
            ORDER BY occurred_at DESC LIMIT 20""")
        with data.at(version).connect() as conn:
            from ctmirror.warehouse.mirror_files import unserved_files

            unserved = unserved_files(conn)
        return self.env.get_template("overview.html").render(
            total=len(cells), distributions=distributions,
            plots=orjson.dumps({"distributions": distributions,
                                "histograms": histograms}).decode(),
            runs=runs, errors=errors, unserved=unserved, version=version)

    # -- JSON -----------------------------------------------------------------------------------

    def _api(self, version: str, kind: str, key: int, extra: int | None,
             params: Mapping[str, list[str]]) -> Any:
        if kind == "sweep" and extra is not None:
            return self._sweep(version, key, extra, params)
        if kind == "fi":
            return {"points": self.data.fi_curve(version, key)}
        if kind == "morphology":
            return self._morphology(version, key)
        if kind == "glif":
            return self._glif(version, key, params)
        return None

    def _sweep(self, version: str, specimen_id: int, sweep_number: int,
               params: Mapping[str, list[str]]) -> Any:
        trace = self.data.trace(version, specimen_id, sweep_number)
        if trace is None or trace.rate_hz <= 0:
            return None
        cell = self.data.cell(version, specimen_id) or {}
        spikes = self.data.spikes(specimen_id, sweep_number, cell.get("ephys_definitions"))
        keep = [s[k] for s in spikes for k in ("peak_index", "trough_index")
                if s[k] is not None and s[k] >= 0]
        points = _window(trace.rate_hz, trace.response_mv.shape[0], params)
        first, last, buckets = points
        response = _decimated(trace.response_mv, first, last, buckets, keep)
        stimulus = _decimated(trace.stimulus_pa, first, last, buckets, ())
        return {
            "specimen_id": specimen_id, "sweep_number": sweep_number, "rate_hz": trace.rate_hz,
            "num_samples": int(trace.response_mv.shape[0]), "first": first, "last": last,
            "response": response, "stimulus": stimulus,
            "spikes": {"t": [s["peak_t"] for s in spikes], "v": [s["peak_v"] for s in spikes],
                       "trough_t": [s["trough_t"] for s in spikes],
                       "trough_v": [s["trough_v"] for s in spikes]},
        }

    def _morphology(self, version: str, specimen_id: int) -> Any:
        cell = self.data.cell(version, specimen_id)
        if cell is None or cell.get("neuron_reconstruction_id") is None:
            return None
        nodes = self.data.morphology(version, int(cell["neuron_reconstruction_id"]))
        if not nodes:
            return None
        return segments(nodes)

    def _glif(self, version: str, model_id: int, params: Mapping[str, list[str]]) -> Any:
        model = self.data.glif_model(version, model_id)
        if model is None:
            return None
        specimen_id = int(model["specimen_id"])
        # the model's voltage over a recorded Noise sweep (what its EVR is scored on), else
        # over any sweep it was run on
        sweeps = self.data.sweeps(version, specimen_id)
        order = sorted(sweeps, key=lambda s: not str(s["stimulus_name"] or "").startswith("Noise"))
        simulated = self.data.glif_voltage(specimen_id, model_id,
                                           [int(s["sweep_number"]) for s in order])
        if simulated is None:
            return {"model": model, "problem": "the sync kept no voltages of this model "
                                               "(sync with --glif-voltages)"}
        sweep_number, rate, voltage = simulated
        trace = self.data.trace(version, specimen_id, sweep_number)
        if trace is None:
            return {"model": model, "problem": f"sweep {sweep_number} is not converted"}
        reference_mv = 1e3 * float(model.get("el_reference") or 0.0)
        model_mv = voltage * np.float32(1e3) + np.float32(reference_mv)
        first, last, buckets = _window(rate, model_mv.shape[0], params)
        return {"model": model, "sweep_number": sweep_number, "rate_hz": rate,
                "first": first, "last": last,
                "recorded": _decimated(trace.response_mv, first, min(last, trace.response_mv
                                                                     .shape[0]), buckets, ()),
                "simulated": _decimated(model_mv, first, last, buckets, ())}

    # -- files ----------------------------------------------------------------------------------

    @cached_property
    def _static_files(self) -> dict[str, tuple[bytes, bytes]]:
        """name → (bytes, gzipped bytes), compressed once."""
        folder = resources.files("ctmirror.serve.web") / "static"
        files = {item.name: item.read_bytes() for item in folder.iterdir() if item.is_file()}
        return {name: (body, gzip.compress(body, 6)) for name, body in files.items()}

    def _static(self, name: str, accept_gzip: bool) -> Answer:
        found = self._static_files.get(name)
        if found is None:
            return _text(HTTPStatus.NOT_FOUND, "no such file")
        body, packed = found
        headers = [("Content-Type", _TYPES.get(Path(name).suffix, "application/octet-stream")),
                   ("Cache-Control", f"public, max-age={STATIC_MAX_AGE}"
                                     + (", immutable" if name.startswith("plotly-") else "")),
                   ("Vary", "Accept-Encoding")]
        if accept_gzip:
            return Answer(HTTPStatus.OK, [*headers, ("Content-Encoding", "gzip")], packed)
        return Answer(HTTPStatus.OK, headers, body)

    def _html(self, page: str, accept_gzip: bool) -> Answer:
        return _compressed(HTTPStatus.OK, [("Content-Type", HTML),
                                           ("Cache-Control", "no-cache")],
                           page.encode(), accept_gzip)


def segments(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Each compartment's parent-child segments as x, y, z arrays with a null between segments
    (one Plotly line trace per compartment), and the soma's centre."""
    by_id = {n["node_id"]: n for n in nodes}
    out: dict[str, dict[str, list[float | None]]] = {}
    for node in nodes:
        parent = by_id.get(node["parent_id"])
        if parent is None:
            continue
        name = COMPARTMENTS.get(int(node["type"]), f"type {node['type']}")
        lines = out.setdefault(name, {"x": [], "y": [], "z": []})
        for axis in ("x", "y", "z"):
            lines[axis] += [parent[axis], node[axis], None]
    soma = [n for n in nodes if int(n["type"]) == 1] or nodes[:1]
    centre = {axis: float(np.mean([n[axis] for n in soma])) for axis in ("x", "y", "z")}
    return {"compartments": out, "soma": centre, "nodes": len(nodes)}


def histograms_of(published: list[float | None], recomputed: list[float | None],
                  bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """Counts of the published and the recomputed values over the same bins, as bars (bin
    centres, bin width): the overview draws them with the basic bundle, which has no
    histogram trace, and sends 30 counts instead of every cell's value."""
    def finite(values: list[float | None]) -> npt.NDArray[np.float64]:
        array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        return array[np.isfinite(array)]

    ours, theirs = finite(published), finite(recomputed)
    both = np.concatenate([ours, theirs])
    if both.size == 0:
        return {"x": [], "width": 0.0, "published": [], "recomputed": []}
    edges = np.histogram_bin_edges(both, bins=bins)
    return {"x": ((edges[:-1] + edges[1:]) / 2).tolist(), "width": float(edges[1] - edges[0]),
            "published": np.histogram(ours, edges)[0].tolist(),
            "recomputed": np.histogram(theirs, edges)[0].tolist()}


def _window(rate_hz: float, n: int, params: Mapping[str, list[str]]) -> tuple[int, int, int]:
    """(first sample, end sample, buckets) of the requested time window."""
    t0 = _float((params.get("t0") or [""])[0])
    t1 = _float((params.get("t1") or [""])[0])
    first = 0 if t0 is None else int(np.clip(np.floor(t0 * rate_hz), 0, n))
    last = n if t1 is None else int(np.clip(np.ceil(t1 * rate_hz) + 1, 0, n))
    if last <= first:
        first, last = 0, n
    points = _int((params.get("points") or [""])[0]) or DEFAULT_POINTS
    return first, last, int(np.clip(points, 10, MAX_POINTS))


def _decimated(values: npt.NDArray[np.float32], first: int, last: int, buckets: int,
               keep: Any) -> dict[str, Any]:
    """The kept samples of ``values[first:last]`` as sample indices and values (3 decimals)."""
    window = values[first:last]
    local = np.asarray(keep, dtype=np.int64) - first
    kept = minmax_indices(window, buckets, local)
    return {"i": kept + first, "y": np.round(window[kept].astype(np.float64), 3)}


def _default_sweep(sweeps: list[dict[str, Any]]) -> int | None:
    """The first long square with spikes, else the first sweep."""
    for sweep in sweeps:
        if sweep["stimulus_name"] == "Long Square" and (sweep["num_spikes"] or 0) > 0:
            return int(sweep["sweep_number"])
    return int(sweeps[0]["sweep_number"]) if sweeps else None


def _file_url(row: Mapping[str, Any]) -> str:
    if row["source"] == "model_package":
        return f"/neuronal_model/download/{row['source_id']}"
    if row["source"] in ("projection_image", "sub_image"):
        return f"/api/v2/section_image_download/{row['source_id']}"
    return f"/api/v2/well_known_file_download/{row['source_id']}"


def _tally(rows: list[dict[str, Any]], column: str) -> list[tuple[str, int]]:
    counted: dict[str, int] = {}
    for row in rows:
        label = str(row.get(column) or "(none)")
        counted[label] = counted.get(label, 0) + 1
    return sorted(counted.items(), key=lambda item: -item[1])


def _link(params: Mapping[str, list[str]], change: Mapping[str, Any]) -> str:
    merged = {k: list(v) for k, v in params.items()}
    for name, value in change.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = [str(value)]
    return "/" + (f"?{_encode(merged)}" if merged else "")


def _encode(params: Mapping[str, list[str]]) -> str:
    return urllib.parse.urlencode([(k, v) for k, vs in params.items() for v in vs])


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _text(status: int, message: str) -> Answer:
    return Answer(status, [("Content-Type", "text/plain; charset=utf-8")],
                  message.encode() + b"\n")


def _compressed(status: int, headers: list[tuple[str, str]], body: bytes,
                accept_gzip: bool) -> Answer:
    if accept_gzip and len(body) > 4096:
        # level 1: on loopback the bytes matter less than the time spent squeezing them
        return Answer(status, [*headers, ("Content-Encoding", "gzip"),
                               ("Vary", "Accept-Encoding")], gzip.compress(body, 1))
    return Answer(status, headers, body)


__all__ = ["COMPARTMENTS", "Answer", "WebPages", "segments"]
