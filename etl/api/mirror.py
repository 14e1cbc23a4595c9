"""A synced mirror opened read-only for analysis in Python (I/O edge).

Every call names one cell (or one model) and reads indexed SQL or one Parquet row group,
never a whole dataset for one cell. Tables come back as Arrow (``.to_pandas()``, or
``polars.from_arrow``), samples as numpy arrays.
"""

from __future__ import annotations

import io
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from numpy.typing import NDArray

from ctmirror.errors import ConfigError, InputError
from ctmirror.schema.analyst import ANALYST_VIEWS_BY_NAME, PREFERRED_DEFINITIONS
from ctmirror.schema.parquet import SWEEPS
from ctmirror.warehouse.engine import create_warehouse_engine, is_duckdb
from ctmirror.warehouse.published import reader_url
from ctmirror.warehouse.row_groups import scalar, sweep_row
from ctmirror.warehouse.views import COMPARISON_VIEW, MORPHOLOGY_COMPARISON_VIEW

if TYPE_CHECKING:
    from ctmirror.glif.simulate import GlifResult

#: The columns of a ``sweeps`` row a sweep is read with (never the other sweeps' samples).
_SWEEP_COLUMNS = ("clamp_mode", "stimulus_name", "stimulus_amplitude_pa", "sampling_rate_hz",
                  "stimulus_unit", "response_unit", "stimulus_conversion",
                  "response_conversion", "experiment_start_index", "experiment_count",
                  "spike_times_s", "stimulus", "response")
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_FEATURE_VIEWS = {"ephys": COMPARISON_VIEW, "morphology": MORPHOLOGY_COMPARISON_VIEW}


@dataclass(frozen=True)
class Sweep:
    """One sweep's samples as recorded: stored value x conversion, in the units named (a
    current-clamp sweep's stimulus in A and response in V, as AllenSDK's ``get_sweep``)."""

    specimen_id: int
    sweep_number: int
    clamp_mode: str | None
    stimulus_name: str | None
    stimulus_amplitude_pa: float | None
    sampling_rate_hz: float
    stimulus: NDArray[np.float64]
    stimulus_unit: str | None
    response: NDArray[np.float64]
    response_unit: str | None
    #: First and last sample of the experiment epoch (after the test pulse), as AllenSDK's
    #: ``index_range``; None when the recording has no epochs.
    index_range: tuple[int, int] | None
    #: Published spike times, s from the sweep start; None when the file has none.
    spike_times_s: NDArray[np.float64] | None

    @property
    def time_s(self) -> NDArray[np.float64]:
        """The time of each sample, s from the sweep start."""
        return np.arange(self.response.size, dtype=np.float64) / self.sampling_rate_hz


@dataclass(frozen=True)
class Reconstruction:
    """A cell's reconstruction as its SWC node table (µm, image space)."""

    specimen_id: int
    neuron_reconstruction_id: int
    nodes: pa.Table  # node_id, type, x, y, z, radius, parent_id

    def to_swc(self) -> str:
        """The nodes as SWC text."""
        columns = [self.nodes.column(n).to_pylist()
                   for n in ("node_id", "type", "x", "y", "z", "radius", "parent_id")]
        lines = [f"{n} {t} {x!r} {y!r} {z!r} {r!r} {p}" for n, t, x, y, z, r, p in zip(
            *columns, strict=True)]
        return "# node_id type x y z radius parent_id\n" + "\n".join(lines) + "\n"

    def to_morphio(self) -> Any:
        """A ``morphio.Morphology`` (needs MorphIO)."""
        morphio = _optional("morphio", "to_morphio")
        return morphio.Morphology(self.to_swc(), "swc")

    def to_neurom(self) -> Any:
        """A NeuroM morphology (needs NeuroM)."""
        neurom = _optional("neurom", "to_neurom")
        return neurom.load_morphology(io.StringIO(self.to_swc()), reader="swc")

    def to_navis(self) -> Any:
        """A ``navis.TreeNeuron`` (needs navis)."""
        navis = _optional("navis", "to_navis")
        frame = self.nodes.select(["node_id", "type", "x", "y", "z", "radius", "parent_id"]
                                  ).to_pandas().rename(columns={"type": "label"})
        return navis.TreeNeuron(frame, id=self.neuron_reconstruction_id, units="um")


@dataclass(frozen=True)
class GlifRun:
    """A GLIF model simulated on one sweep's stimulus."""

    neuronal_model_id: int
    specimen_id: int
    sweep_number: int
    dt_s: float
    #: Membrane potential in V, absolute when the config has ``El_reference`` (else relative
    #: to rest); NaN inside spike cuts.
    voltage_v: NDArray[np.float64]
    spike_times_s: NDArray[np.float64]
    result: GlifResult


class Mirror:
    """A synced mirror at ``root`` with its warehouse at ``url``, read-only.

    On DuckDB the published reader copy is opened (a running sync never blocks it) and one
    connection is kept; on PostgreSQL a pooled read-only engine. Close it, or use ``with``.
    """

    def __init__(self, url: str, root: Path | None) -> None:
        self.url = url
        self.root = None if root is None else Path(root)
        self._engine = create_warehouse_engine(reader_url(url), read_only=True,
                                               mirror_root=self.root)
        self._duckdb = is_duckdb(self._engine)
        self._lock = threading.Lock()
        self._raw: Any = self._engine.raw_connection() if self._duckdb else None

    def close(self) -> None:
        if self._raw is not None:
            self._raw.invalidate()
            self._raw = None
        self._engine.dispose()

    def __enter__(self) -> Mirror:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Mirror({sa.make_url(self.url).render_as_string()!r}, root={self.root!r})"

    # -- tables -----------------------------------------------------------------------------

    def cells(self, **filters: Any) -> pa.Table:
        """The analyst ``cells`` view, one row per current cell, filtered by column: a value
        (``species="Mus musculus"``), a list of values, or None for NULL."""
        columns = {c.name for c in ANALYST_VIEWS_BY_NAME["cells"].columns}
        unknown = sorted(set(filters) - columns)
        if unknown:
            raise InputError(f"cells has no column {', '.join(unknown)} "
                             f"(columns: {', '.join(sorted(columns))})")
        where: list[str] = []
        params: dict[str, Any] = {}
        for number, (name, value) in enumerate(sorted(filters.items())):
            if value is None:
                where.append(f'"{name}" IS NULL')
            elif isinstance(value, list | tuple | set | frozenset):
                names = [f"p{number}_{i}" for i in range(len(value))]
                params.update(zip(names, value, strict=True))
                where.append(f'"{name}" IN ({", ".join(":" + n for n in names)})'
                             if names else "false")
            else:
                params[f"p{number}"] = value
                where.append(f'"{name}" = :p{number}')
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return self.query(f"SELECT * FROM cells{clause} ORDER BY specimen_id", **params)

    def sweeps(self, specimen_id: int) -> pa.Table:
        """The cell's sweeps (``sweep_summary``): stimulus, published and recomputed spikes."""
        return self.query("SELECT * FROM sweep_summary WHERE specimen_id = :s "
                          "ORDER BY sweep_number", s=int(specimen_id))

    def spikes(self, specimen_id: int, sweep_number: int | None = None,
               definitions: str = PREFERRED_DEFINITIONS) -> pa.Table:
        """The spikes the sync detected (``ephys_spikes``) in the cell's sweeps, or one sweep."""
        sweep = "" if sweep_number is None else " AND sweep_number = :n"
        return self.query(
            "SELECT * FROM ephys_spikes WHERE specimen_id = :s AND definitions = :d"
            f"{sweep} ORDER BY sweep_number, spike_number", s=int(specimen_id),
            d=definitions, n=None if sweep_number is None else int(sweep_number))

    def features(self, specimen_id: int, kind: str = "ephys") -> pa.Table:
        """The cell's published and recomputed features side by side (one row per feature
        and definition set): ``kind`` is ``ephys`` or ``morphology``."""
        if kind not in _FEATURE_VIEWS:
            raise InputError(f"features kind must be one of {', '.join(_FEATURE_VIEWS)}, "
                             f"not {kind!r}")
        order = "definitions, feature" if kind == "ephys" else \
            "neuron_reconstruction_id, feature"
        return self.query(f"SELECT * FROM {_FEATURE_VIEWS[kind]} WHERE specimen_id = :s "
                          f"ORDER BY {order}", s=int(specimen_id))

    def glif_models(self, specimen_id: int) -> pa.Table:
        """The cell's GLIF models with their published and recomputed explained variance."""
        return self.query("SELECT * FROM glif_models WHERE specimen_id = :s "
                          "ORDER BY level, neuronal_model_id", s=int(specimen_id))

    def sql(self, query: str) -> pa.Table:
        """Run one read-only query through the warehouse's sandbox (``ctmirror sql``'s)."""
        from ctmirror.warehouse.user_sql import run_readonly

        result = run_readonly(reader_url(self.url), query, parquet_root=self.root)
        return pa.Table.from_pylist([dict(zip(result.columns, row, strict=True))
                                     for row in result.rows]) if result.rows else \
            pa.table({name: pa.array([], pa.null()) for name in result.columns})

    def query(self, sql: str, **params: Any) -> pa.Table:
        """A query of this package's own (``:name`` parameters), as Arrow."""
        if self._duckdb:
            with self._lock:
                if self._raw is None:
                    raise ConfigError("the mirror is closed")
                relation = self._raw.driver_connection.sql(
                    _NAMED_PARAMETER.sub(r"$\1", sql),
                    params={k: v for k, v in params.items() if f":{k}" in sql})
                # DuckDB 2 names it to_arrow_table; 1.x fetch_arrow_table
                fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
                table: pa.Table = fetch()
                return table
        with self._engine.connect() as conn:
            result = conn.execute(sa.text(sql), params)
            names = list(result.keys())
            rows = result.fetchall()
        return pa.table({name: pa.array([row[i] for row in rows])
                         for i, name in enumerate(names)})

    # -- samples ----------------------------------------------------------------------------

    def sweep(self, specimen_id: int, sweep_number: int) -> Sweep:
        """One sweep's stimulus and response (one Parquet row group of the cell's file)."""
        directory = SWEEPS.partition_directory(self._parquet_root(), int(specimen_id))
        table = sweep_row(sorted(directory.glob(f"{SWEEPS.file_prefix}-*.parquet")),
                          int(sweep_number), _SWEEP_COLUMNS)
        if table is None:
            raise InputError(f"cell {specimen_id} has no converted sweep {sweep_number}")
        start, count = scalar(table, "experiment_start_index", None), \
            scalar(table, "experiment_count", None)
        spikes = table.column("spike_times_s")[0].values
        return Sweep(
            specimen_id=int(specimen_id), sweep_number=int(sweep_number),
            clamp_mode=scalar(table, "clamp_mode", None),
            stimulus_name=scalar(table, "stimulus_name", None),
            stimulus_amplitude_pa=scalar(table, "stimulus_amplitude_pa", None),
            sampling_rate_hz=float(scalar(table, "sampling_rate_hz", 0.0)),
            stimulus=_scaled(table, "stimulus"),
            stimulus_unit=scalar(table, "stimulus_unit", None),
            response=_scaled(table, "response"),
            response_unit=scalar(table, "response_unit", None),
            index_range=None if start is None or count is None
            else (int(start), int(start + count - 1)),
            spike_times_s=None if spikes is None else spikes.to_numpy(zero_copy_only=False),
        )

    def reconstruction(self, specimen_id: int) -> Reconstruction:
        """The cell's current reconstruction (``cells.neuron_reconstruction_id``)."""
        found = self.query("SELECT neuron_reconstruction_id FROM cells WHERE specimen_id = :s",
                           s=int(specimen_id)).column("neuron_reconstruction_id").to_pylist()
        if not found or found[0] is None:
            raise InputError(f"cell {specimen_id} has no reconstruction in the mirror")
        nodes = self.query(
            "SELECT node_id, type, x, y, z, radius, parent_id FROM reconstruction_nodes "
            "WHERE specimen_id = :s AND neuron_reconstruction_id = :r ORDER BY node_id",
            s=int(specimen_id), r=int(found[0]))
        if nodes.num_rows == 0:
            raise InputError(f"cell {specimen_id}: reconstruction {found[0]} has no converted "
                             "SWC in the mirror")
        return Reconstruction(int(specimen_id), int(found[0]), nodes)

    def simulate_glif(self, neuronal_model_id: int, sweep_number: int) -> GlifRun:
        """Run a GLIF model (its mirrored config) on a sweep of its cell, as the sync does."""
        from ctmirror.glif.simulate import simulate
        from ctmirror.readers.glif_config import parse_glif_config

        rows = self.query(
            "SELECT m.specimen_id, c.config, c.el_reference FROM glif_neuron_configs c "
            "JOIN neuronal_models m ON m.id = c.neuronal_model_id "
            "WHERE c.neuronal_model_id = :m", m=int(neuronal_model_id)).to_pylist()
        if not rows:
            raise InputError(f"GLIF model {neuronal_model_id} has no converted config "
                             "in the mirror")
        document = rows[0]["config"]
        document = json.loads(document) if isinstance(document, str) else document
        config = parse_glif_config(document)
        sweep = self.sweep(int(rows[0]["specimen_id"]), sweep_number)
        if sweep.stimulus_unit not in ("Amps", "A"):
            raise InputError(f"sweep {sweep_number} is not current clamp "
                             f"(stimulus in {sweep.stimulus_unit})")
        dt = 1.0 / sweep.sampling_rate_hz
        result = simulate(config, sweep.stimulus, dt)
        rest = rows[0]["el_reference"] or 0.0
        return GlifRun(int(neuronal_model_id), sweep.specimen_id, int(sweep_number), dt,
                       result.voltage + rest, result.interpolated_spike_times, result)

    def _parquet_root(self) -> Path:
        if self.root is None:
            raise ConfigError("this mirror was opened without its root folder; the samples "
                              "are in its Parquet files: open(url, root=...)")
        return self.root


def _scaled(table: pa.Table, column: str) -> NDArray[np.float64]:
    """The stored samples x conversion in float64: numpy's widening copy, then the product in
    place (the bits AllenSDK's ``value * conversion`` and the feature readers give)."""
    values = table.column(column).combine_chunks().values
    if values is None:
        raise InputError(f"the sweep has no {column} series")
    out: NDArray[np.float64] = values.to_numpy(zero_copy_only=False).astype(np.float64)
    out *= float(scalar(table, f"{column}_conversion", 1.0))
    return out


def _optional(module: str, method: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{method}() needs {module}: pip install {module}") from None


def open_mirror(target: str | Path, *, root: str | Path | None = None) -> Mirror:
    """Open the mirror folder ``target`` (its ``warehouse.duckdb``), or the warehouse at the
    database URL ``target`` with its mirror folder ``root`` (where the Parquet samples are)."""
    text = str(target)
    if "://" in text:
        return Mirror(text, None if root is None else Path(root))
    folder = Path(text)
    database = folder / "warehouse.duckdb"
    if not database.is_file():
        raise ConfigError(f"{folder} is not a synced mirror: no warehouse.duckdb in it")
    return Mirror(f"duckdb:///{database.resolve()}", Path(root) if root else folder)


__all__ = ["GlifRun", "Mirror", "Reconstruction", "Sweep", "open_mirror"]

