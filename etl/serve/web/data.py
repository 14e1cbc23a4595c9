"""What the pages show, read from the warehouse's analyst views and one Parquet row group (I/O
edge, read-only).

Every query names one cell (or one model) by its key, so a page costs about its own rows on a
mirror of any size; the cell list behind the search page is read once per synced state (2,333
rows of short columns) and filtered in memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
import sqlalchemy as sa

from ctmirror.schema.analyst import PREFERRED_DEFINITIONS
from ctmirror.schema.parquet import EPHYS_SPIKES, GLIF_VOLTAGES, SWEEPS
from ctmirror.warehouse.row_groups import samples, scalar, sweep_row

Row = dict[str, Any]

#: The columns of ``cells`` the search page filters, counts and lists.
SEARCH_COLUMNS: tuple[str, ...] = (
    "specimen_id", "specimen_name", "species", "donor_name", "transgenic_line",
    "reporter_status", "disease_state", "structure_acronym", "area_acronym", "layer",
    "dendrite_type", "has_nwb", "has_reconstruction", "glif_model_count",
    "biophysical_model_count",
)

#: The columns of ``ephys_spikes`` the sweep viewer marks.
SPIKE_COLUMNS: tuple[str, ...] = ("sweep_number", "spike_number", "threshold_t", "threshold_v",
                                  "peak_index", "peak_t", "peak_v", "trough_index", "trough_t",
                                  "trough_v")


@dataclass(frozen=True)
class Trace:
    """One sweep's samples in physical units: response in mV, stimulus in pA."""

    rate_hz: float
    response_mv: npt.NDArray[np.float32]
    stimulus_pa: npt.NDArray[np.float32]


class WebData:
    """The warehouse at ``url`` (its reader copy) and the Parquet datasets under ``root``.

    One engine per synced state: ``at(version)`` opens a new one when the served state changed
    (the published DuckDB copy is swapped by rename, so an open handle keeps the old one)."""

    def __init__(self, url: str, root: Path) -> None:
        self.url = url
        self.root = Path(root)
        self._lock = threading.Lock()
        # held while the cell list is read: a page asking meanwhile waits for that read
        self._cells_lock = threading.Lock()
        self._version: str | None = None
        self._engine: sa.Engine | None = None
        self._cells: dict[int, Row] | None = None
        self._traces: OrderedDict[tuple[str, int, int], Trace] = OrderedDict()

    def at(self, version: str) -> sa.Engine:
        from ctmirror.serve.warehouse_source import open_for_reading

        with self._lock:
            if self._engine is None or version != self._version:
                if self._engine is not None:
                    self._engine.dispose()
                self._engine = open_for_reading(self.url)
                self._version = version
                self._cells = None
                self._traces.clear()
            return self._engine

    def close(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None

    def rows(self, version: str, sql: str, **params: Any) -> list[Row]:
        with self.at(version).connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]

    # -- search ---------------------------------------------------------------------------------

    def cell_list(self, version: str) -> list[Row]:
        return list(self._cell_rows(version).values())

    def cell(self, version: str, specimen_id: int) -> Row | None:
        return self._cell_rows(version).get(specimen_id)

    def _cell_rows(self, version: str) -> dict[int, Row]:
        """Every row of ``cells`` by specimen, read once per synced state: on DuckDB the view
        is computed (its window functions keep a filter from reaching the tables), so one
        cell costs about as much as all 2,333 of them."""
        with self._cells_lock:
            engine = self.at(version)
            cells = self._cells
            if cells is None:
                with engine.connect() as conn:
                    cells = {int(r.specimen_id): dict(r._mapping) for r in conn.execute(
                        sa.text("SELECT * FROM cells ORDER BY specimen_id"))}
                with self._lock:
                    if version == self._version:
                        self._cells = cells
            return cells

    def sweeps(self, version: str, specimen_id: int) -> list[Row]:
        return self.rows(version, """
            SELECT sweep_number, stimulus_name, stimulus_units, stimulus_amplitude_pa,
                   num_spikes, num_spikes_recomputed, stimulus_start_time_s,
                   stimulus_duration_s
            FROM sweep_summary WHERE specimen_id = :s ORDER BY sweep_number""", s=specimen_id)

    def fi_curve(self, version: str, specimen_id: int) -> list[Row]:
        return self.rows(version, """
            SELECT stimulus_amplitude_pa, spike_rate_hz, spike_rate_hz_recomputed, sweep_count
            FROM fi_curves WHERE specimen_id = :s ORDER BY stimulus_amplitude_pa""",
                         s=specimen_id)

    def glif_models(self, version: str, specimen_id: int) -> list[Row]:
        return self.rows(version, """
            SELECT neuronal_model_id, model_name, level, level_name, published_evr,
                   recomputed_evr, evr_difference, recomputed_problem
            FROM glif_models WHERE specimen_id = :s ORDER BY level, neuronal_model_id""",
                         s=specimen_id)

    def files(self, version: str, specimen_id: int) -> list[Row]:
        return self.rows(version, """
            SELECT source, source_id, kind, relpath, size FROM mirror_files
            WHERE specimen_id = :s AND removed_at IS NULL ORDER BY kind, source_id""",
                         s=specimen_id)

    def spikes(self, specimen_id: int, sweep_number: int, definitions: str | None
               ) -> list[Row]:
        """The sweep's rows of ``ephys_spikes``, from the cell's Parquet file (written on
        either backend; filtered by the row groups' statistics)."""
        directory = EPHYS_SPIKES.partition_directory(self.root, specimen_id)
        wanted = definitions or PREFERRED_DEFINITIONS
        for path in sorted(directory.glob(f"{EPHYS_SPIKES.file_prefix}-*-{wanted}.parquet")):
            table = pq.read_table(path, columns=list(SPIKE_COLUMNS),
                                  filters=[("sweep_number", "=", sweep_number)])
            return sorted(table.to_pylist(), key=lambda r: r["spike_number"])
        return []

    def morphology(self, version: str, reconstruction_id: int) -> list[Row]:
        return self.rows(version, """
            SELECT node_id, type, x, y, z, parent_id FROM reconstruction_nodes
            WHERE neuron_reconstruction_id = :r ORDER BY node_id""", r=reconstruction_id)

    def glif_model(self, version: str, model_id: int) -> Row | None:
        found = self.rows(version, """
            SELECT g.neuronal_model_id, g.specimen_id, g.level_name, g.published_evr,
                   g.recomputed_evr, c.el_reference
            FROM glif_models g
            LEFT JOIN glif_neuron_configs c ON c.neuronal_model_id = g.neuronal_model_id
            WHERE g.neuronal_model_id = :m""", m=model_id)
        return found[0] if found else None

    # -- samples --------------------------------------------------------------------------------

    def trace(self, version: str, specimen_id: int, sweep_number: int) -> Trace | None:
        """One sweep's samples from its row group; the last few are kept (a zoom asks again)."""
        key = (version, specimen_id, sweep_number)
        with self._lock:
            if key in self._traces:
                self._traces.move_to_end(key)
                return self._traces[key]
        directory = SWEEPS.partition_directory(self.root, specimen_id)
        found = sweep_row(sorted(directory.glob(f"{SWEEPS.file_prefix}-*.parquet")),
                           sweep_number, ("sampling_rate_hz", "stimulus_conversion",
                                          "response_conversion", "stimulus", "response"))
        if found is None:
            return None
        table = found
        response = samples(table, "response") * np.float32(
            1e3 * scalar(table, "response_conversion", 1.0))
        stimulus = samples(table, "stimulus") * np.float32(
            1e12 * scalar(table, "stimulus_conversion", 1.0))
        trace = Trace(float(scalar(table, "sampling_rate_hz", 0.0)), response, stimulus)
        with self._lock:
            self._traces[key] = trace
            while len(self._traces) > 4:
                self._traces.popitem(last=False)
        return trace

    def glif_voltage(self, specimen_id: int, model_id: int, sweep_numbers: Sequence[int]
                     ) -> tuple[int, float, npt.NDArray[np.float32]] | None:
        """(sweep number, rate, voltage relative to rest in V) of the model simulated on the
        first of ``sweep_numbers`` the sync kept its voltages of (``--glif-voltages``)."""
        path = GLIF_VOLTAGES.file_path(self.root, specimen_id, model_id)
        if not path.is_file():
            return None
        for number in sweep_numbers:
            table = sweep_row([path], number, ("sampling_rate_hz", "voltage"))
            if table is not None:
                return (number, float(scalar(table, "sampling_rate_hz", 0.0)),
                        samples(table, "voltage"))
        return None


__all__ = ["SEARCH_COLUMNS", "Trace", "WebData"]
