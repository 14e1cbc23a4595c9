"""The GLIF stage of a sync: simulate every GLIF model on its cell's recording and score it.

Every mirrored GLIF model (a ``glif_neuron_configs`` row, or a template named ``(LIF...)``)
gets one ``model_metrics`` row. A model whose converted config and cell recording are both
there is run on every current-clamp sweep of the recording (stimuli from the ``sweeps``
Parquet file, ``dt`` = 1 / the sweep's sampling rate, as the published runs did); its spikes
go to the ``glif_spikes`` dataset (one file per model, replaced atomically) and, with
``voltages``, its voltage traces to ``glif_voltages``. The explained variance ratio is computed
as published (``docs/glif.md``): the model's spikes on the first Noise 2 sweep against the
recording's published spike times on every Noise 2 sweep of the same length. A model that
cannot be scored (no converted config or recording, fewer than two Noise 2 sweeps) gets a row
with a NULL ratio and the reason in ``problem``.

A model is (re)computed when its config's or recording's bytes (``sha256``), its cell, level or
template, or the code version differ from what its row records; so a second sync over unchanged
files computes nothing (the published value is refreshed in place). Models of one cell are
computed together in one worker process (the recording streamed a sweep at a time); rows are
written by this process, one transaction per cell (the rows of models that cannot be run in
one). A model that fails (its config did not convert, its recording does not read, its data
do not fit) is reported with its reason and gets a row with that reason, tried again when its
inputs change. Rows and files of models that disappear upstream are withdrawn.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from ctmirror.convert.parquet_io import AtomicParquetFile, write_parquet_atomic
from ctmirror.errors import CtMirrorError
from ctmirror.schema.base import mapped_table
from ctmirror.schema.mirror import FileSource
from ctmirror.schema.model_metrics import ModelMetrics
from ctmirror.schema.model_parameters import GlifNeuronConfig
from ctmirror.schema.parquet import GLIF_SPIKES, GLIF_VOLTAGES, SWEEPS
from ctmirror.stages import DerivedStage, Failure, Plan, Tally
from ctmirror.warehouse.dataset_rows import replace_dataset_rows

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ctmirror.glif.simulate import GlifResult
    from ctmirror.readers.ephys import StimulusSweep

#: Bumped whenever the simulation or the score changes what it computes; older rows are redone.
GLIF_CODE_VERSION = 1

#: The stimulus whose repeats the published explained variance ratio is computed on.
NOISE_2 = "Noise 2"
#: Repeats the ratio needs: with one, EV_data is 1 by definition and the ratio means nothing.
MIN_REPEATS = 2

_glif_configs = mapped_table(GlifNeuronConfig)
_model_metrics = mapped_table(ModelMetrics)

_MODELS = sa.text("""
    SELECT nm.id, nm.specimen_id, nm.neuronal_model_template_id AS template_id, g.level,
           g.well_known_file_id AS config_file_id, g.source_sha256 AS config_sha256
    FROM neuronal_models nm
    LEFT JOIN neuronal_model_templates t ON t.id = nm.neuronal_model_template_id
    LEFT JOIN glif_neuron_configs g ON g.neuronal_model_id = nm.id
    WHERE nm.removed_at IS NULL AND (g.neuronal_model_id IS NOT NULL OR t.name LIKE '%(LIF%')
    ORDER BY nm.id
""")
_PARAMETER_FILES = sa.text("""
    SELECT w.attachable_id AS neuronal_model_id, m.source_id, m.relpath, m.sha256,
           m.conversion_error
    FROM mirror_files m
    JOIN well_known_files w ON w.id = m.source_id
    JOIN well_known_file_types t ON t.id = w.well_known_file_type_id
    WHERE m.source = :source AND m.removed_at IS NULL AND w.attachable_type = 'NeuronalModel'
      AND t.name = 'NeuronalModelParameters'
    ORDER BY m.source_id
""")
#: Cells whose recording is converted to the ``sweeps`` dataset from its current file (also
#: what the biophysical stage simulates against).
CONVERTED_RECORDINGS = sa.text("""
    SELECT m.specimen_id, m.source_id, m.sha256 FROM mirror_files m
    WHERE m.source = :source AND m.converted_to = :dataset AND m.removed_at IS NULL
      AND m.converted_sha256 = m.sha256 AND m.converted_rows IS NOT NULL
      AND m.specimen_id IS NOT NULL
    ORDER BY m.source_id
""")
_RUNS = sa.text("""
    SELECT neuronal_model_id, id, explained_variance_ratio FROM neuronal_model_runs
    WHERE removed_at IS NULL AND neuronal_model_id IS NOT NULL
    ORDER BY id
""")


@dataclass(frozen=True)
class ModelInputs:
    """What one model's row is made from, as the warehouse says now."""

    neuronal_model_id: int
    specimen_id: int | None
    template_id: int | None
    level: int | None
    config_file_id: int | None
    config_sha256: str | None
    recording_file_id: int | None
    recording_sha256: str | None
    run_id: int | None
    published: float | None
    #: Why the model cannot be run (no converted config, no cell, no recording), else None.
    unavailable: str | None = None
    #: The reason is a failure to report (the config file did not convert), not a gap.
    failed: bool = False
    #: The mirrored parameter file that did not convert (below the mirror root).
    config_relpath: str | None = None


@dataclass(frozen=True)
class CellTask:
    """The models of one cell to run on its recording (runs in a worker process)."""

    specimen_id: int
    recording_file_id: int
    path: Path
    #: (neuronal_model_id, the converted neuron_config document)
    models: tuple[tuple[int, dict[str, Any]], ...]
    #: Root to write voltage traces under, or None for none.
    voltage_root: Path | None = None


@dataclass(frozen=True)
class ModelOutcome:
    neuronal_model_id: int
    values: dict[str, Any] = field(default_factory=dict)
    spikes: pa.Table | None = None
    error: str | None = None
    seconds: float = 0.0


# -- plan -----------------------------------------------------------------------------------


def _plan(engine: sa.Engine, voltages: bool) -> tuple[
        list[ModelInputs], list[ModelInputs], list[tuple[int, int | None]], dict[int, Any]]:
    """Pending models, rows whose published value changed, orphan rows, and the rows now."""
    source = FileSource.WELL_KNOWN_FILE.value
    # Each result fetched at once: row by row, the driver's calls per row cost more than the
    # plan (a no-op sync plans every model).
    with engine.connect() as conn:
        models = conn.execute(_MODELS).all()
        parameter_files = {int(r.neuronal_model_id): r for r in conn.execute(
            _PARAMETER_FILES, {"source": source}).all()}
        recordings = {int(r.specimen_id): r for r in conn.execute(
            CONVERTED_RECORDINGS, {"source": source, "dataset": SWEEPS.name}).all()}
        runs: dict[int, Any] = {}
        for run in conn.execute(_RUNS).all():
            chosen = runs.get(int(run.neuronal_model_id))
            if chosen is None or (chosen.explained_variance_ratio is None
                                  and run.explained_variance_ratio is not None):
                runs[int(run.neuronal_model_id)] = run
        rows = {int(r.neuronal_model_id): r
                for r in conn.execute(sa.select(_model_metrics)).all()}
    pending: list[ModelInputs] = []
    refresh: list[ModelInputs] = []
    for model in models:
        model_id = int(model.id)
        specimen = None if model.specimen_id is None else int(model.specimen_id)
        recording = recordings.get(specimen) if specimen is not None else None
        model_run = runs.get(model_id)
        inputs = ModelInputs(
            neuronal_model_id=model_id, specimen_id=specimen,
            template_id=None if model.template_id is None else int(model.template_id),
            level=None if model.level is None else int(model.level),
            config_file_id=None if model.config_file_id is None else int(model.config_file_id),
            config_sha256=model.config_sha256,
            recording_file_id=None if recording is None else int(recording.source_id),
            recording_sha256=None if recording is None else recording.sha256,
            run_id=None if model_run is None else int(model_run.id),
            published=None if model_run is None else model_run.explained_variance_ratio,
        )
        inputs = _availability(inputs, parameter_files.get(model_id))
        row = rows.get(model_id)
        if row is None or _is_pending(inputs, row, voltages):
            pending.append(inputs)
        elif (row.neuronal_model_run_id, row.published_explained_variance_ratio) != (
                inputs.run_id, inputs.published):
            refresh.append(inputs)
    wanted = {int(m.id) for m in models}
    orphans = [(model_id, None if row.specimen_id is None else int(row.specimen_id))
               for model_id, row in rows.items() if model_id not in wanted]
    return pending, refresh, orphans, rows


def _availability(inputs: ModelInputs, parameter_file: Any) -> ModelInputs:
    """The inputs with the reason the model cannot be run, if there is one. An unconverted
    config is named by its file's bytes; its ``level`` stays NULL, so the row is redone once
    the same bytes convert."""
    if inputs.config_sha256 is None:
        if parameter_file is None:
            return replace(inputs, unavailable="no neuron_config.json is mirrored (mirror the "
                                               "'models' files)")
        unconverted = replace(inputs, config_file_id=int(parameter_file.source_id),
                              config_sha256=parameter_file.sha256)
        if parameter_file.conversion_error:
            return replace(unconverted, failed=True, config_relpath=parameter_file.relpath,
                           unavailable="its neuron_config.json did not convert: "
                                       f"{parameter_file.conversion_error}")
        return replace(unconverted, unavailable="its neuron_config.json is not converted into "
                                                "glif_neuron_configs")
    if inputs.specimen_id is None:
        return replace(inputs, unavailable="the model names no cell")
    if inputs.recording_sha256 is None:
        return replace(inputs, unavailable="no converted NWB recording of the cell (mirror the "
                                           "'recordings' files)")
    return inputs


def _is_pending(inputs: ModelInputs, row: Any, voltages: bool) -> bool:
    done = (row.specimen_id, row.neuronal_model_template_id, row.level,
            row.config_well_known_file_id, row.config_sha256, row.recording_well_known_file_id,
            row.recording_sha256, row.code_version)
    now = (inputs.specimen_id, inputs.template_id, inputs.level, inputs.config_file_id,
           inputs.config_sha256, inputs.recording_file_id, inputs.recording_sha256,
           GLIF_CODE_VERSION)
    return done != now or (voltages and inputs.unavailable is None and not row.voltages_written)


def _tasks(engine: sa.Engine, root: Path, runnable: list[ModelInputs],
           voltages: bool) -> list[CellTask]:
    """One task per cell recording, with the converted configs of its pending models."""
    ids = [inputs.neuronal_model_id for inputs in runnable]
    with engine.connect() as conn:
        configs = {int(model_id): config for model_id, config in conn.execute(
            sa.select(_glif_configs.c.neuronal_model_id, _glif_configs.c.config)
            .where(_glif_configs.c.neuronal_model_id.in_(ids)))} if ids else {}
    cells: dict[tuple[int, int], list[tuple[int, dict[str, Any]]]] = {}
    for inputs in runnable:
        assert inputs.specimen_id is not None and inputs.recording_file_id is not None
        cells.setdefault((inputs.specimen_id, inputs.recording_file_id), []).append(
            (inputs.neuronal_model_id, configs[inputs.neuronal_model_id]))
    return [CellTask(specimen, file_id, SWEEPS.file_path(root, specimen, file_id),
                     tuple(models), root if voltages else None)
            for (specimen, file_id), models in cells.items()]


# -- compute (worker) ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Repeats:
    """The Noise 2 sweeps the ratio is computed on and their length, or why there are too
    few."""

    sweeps: tuple[StimulusSweep, ...]
    problem: str | None
    #: Samples of each repeat (0 when there is none).
    samples: int = 0


def compute_cell(task: CellTask) -> tuple[ModelOutcome, ...]:
    """Run and score every model of ``task`` on its recording (runs in a worker).

    The recording is streamed a sweep at a time: each stimulus read is run through the models
    (and their voltage traces written), and only spike times and the sweep's length are kept,
    so the worker holds one sweep's samples whatever the recording's length."""
    from ctmirror.readers.ephys import stimulus_sweeps_from_parquet

    with ExitStack() as unfinished:
        runs = []
        for model_id, document in task.models:
            runs.append(_ModelRun.start(task, model_id, document))
            # Whatever stops the cell, no half-written voltage file is left behind.
            unfinished.callback(runs[-1].abort)
        # An open voltage file keeps its writer's buffers (about 3.5 times the largest sweep
        # written, in bytes of float32) until it is closed, so models that write voltages run
        # one after another, each reading the stimuli again; the others share each read.
        batches = [runs] if task.voltage_root is None else [[run] for run in runs]
        lengths: dict[int, int] = {}
        try:
            sweeps, _ = stimulus_sweeps_from_parquet(task.path)
            for batch in batches:
                if lengths and all(run.error is not None for run in batch):
                    continue
                for run in batch:
                    run.open_voltages()
                for sweep in sweeps:
                    stimulus = sweep.stimulus_a()
                    lengths[sweep.sweep_number] = stimulus.size
                    for run in batch:
                        run.simulate(sweep, stimulus)
                    del stimulus
                for run in batch:
                    run.close_voltages()
        except (CtMirrorError, OSError, ValueError, pa.ArrowException) as exc:
            return tuple(ModelOutcome(model_id, error=f"{task.path.name}: {exc}",
                                      values={"problem": f"{task.path.name}: {exc}"})
                         for model_id, _ in task.models)
        repeats = noise2_repeats(sweeps, lengths)
        return tuple(run.finish(len(sweeps), repeats) for run in runs)


def noise2_repeats(sweeps: Sequence[StimulusSweep], lengths: Mapping[int, int]) -> _Repeats:
    """The Noise 2 sweeps to score on: those with published spike times and the first one's
    length and sampling rate (the published code uses the first sweep's length for all).
    ``lengths``: samples by sweep number, of the Noise 2 sweeps at least."""
    noise = sorted((s for s in sweeps if s.stimulus_name == NOISE_2),
                   key=lambda s: s.sweep_number)
    timed = [s for s in noise if s.spike_times_s is not None]
    samples = lengths[timed[0].sweep_number] if timed else 0
    used = tuple(s for s in timed if s.sampling_rate == timed[0].sampling_rate
                 and lengths[s.sweep_number] == samples)
    if len(used) >= MIN_REPEATS:
        return _Repeats(used, None, samples)
    if not noise:
        return _Repeats(used, f"the recording has no {NOISE_2} sweep; the explained variance "
                              f"ratio needs at least {MIN_REPEATS}", samples)
    return _Repeats(used, f"{len(used)} usable {NOISE_2} sweep(s) of {len(noise)} (published "
                          "spike times and the first one's length and rate are needed); the "
                          f"explained variance ratio needs at least {MIN_REPEATS}", samples)


def _spike_times(sweep: StimulusSweep) -> NDArray[np.float64]:
    """A sweep's published spike times (``noise2_repeats`` keeps only sweeps that have them)."""
    if sweep.spike_times_s is None:
        raise ValueError(f"sweep {sweep.sweep_number} has no published spike times")
    return sweep.spike_times_s


_SPIKE_DTYPES = {"sweep_number": np.int32, "spike_number": np.int32,
                 "spike_time_step": np.int64, "spike_time_s": np.float64}


@dataclass
class _ModelRun:
    """One model run sweep by sweep: what is kept across sweeps (spike steps and times), its
    voltage file being written, or why it stopped."""

    task: CellTask
    model_id: int
    config: Any
    voltages: AtomicParquetFile | None = None
    error: str | None = None
    seconds: float = 0.0
    #: spike steps by sweep number (the ratio needs the first Noise 2 sweep's)
    steps: dict[int, NDArray[np.int64]] = field(default_factory=dict)
    spike_columns: dict[str, list[Any]] = field(
        default_factory=lambda: {name: [] for name in _SPIKE_DTYPES})

    @classmethod
    def start(cls, task: CellTask, model_id: int, document: Mapping[str, Any]) -> _ModelRun:
        from ctmirror.readers.glif_config import parse_glif_config

        started = time.perf_counter()
        run = cls(task, model_id, None)
        try:
            run.config = parse_glif_config(document)
        except (CtMirrorError, OSError, ValueError, pa.ArrowException) as exc:
            run.error = str(exc)
        run.seconds = time.perf_counter() - started
        return run

    def open_voltages(self) -> None:
        """Start the model's voltage file, if the task writes voltages."""
        if self.error is not None or self.task.voltage_root is None:
            return
        try:
            self.voltages = AtomicParquetFile(
                GLIF_VOLTAGES.file_path(self.task.voltage_root, self.task.specimen_id,
                                        self.model_id),
                GLIF_VOLTAGES.schema, byte_stream_split=["voltage.list.element"])
        except (OSError, ValueError, pa.ArrowException) as exc:
            self.error = str(exc)

    def close_voltages(self) -> None:
        """Put the model's complete voltage file in place."""
        if self.error is not None or self.voltages is None:
            return
        try:
            self.voltages.commit()
        except (OSError, ValueError, pa.ArrowException) as exc:
            self.error = str(exc)

    def simulate(self, sweep: StimulusSweep, stimulus_a: NDArray[np.float64]) -> None:
        """Run the model on one sweep: keep its spikes, write its voltage trace."""
        from ctmirror.glif.simulate import simulate

        if self.error is not None:
            return
        started = time.perf_counter()
        try:
            result = simulate(self.config, stimulus_a, 1.0 / sweep.sampling_rate)
            self.steps[sweep.sweep_number] = result.spike_time_steps
            count = result.spike_time_steps.size
            columns = self.spike_columns
            columns["sweep_number"].append(np.full(count, sweep.sweep_number, np.int32))
            columns["spike_number"].append(np.arange(count, dtype=np.int32))
            columns["spike_time_step"].append(result.spike_time_steps)
            columns["spike_time_s"].append(result.interpolated_spike_times)
            if self.voltages is not None:
                self.voltages.write(_voltage_rows(self.task, self.model_id, sweep, result))
        except (CtMirrorError, OSError, ValueError, pa.ArrowException) as exc:
            self.error = str(exc)
            self.abort()
        self.seconds += time.perf_counter() - started

    def abort(self) -> None:
        """Drop the voltage file being written (a no-op once it is committed)."""
        if self.voltages is not None:
            self.voltages.abort()

    def finish(self, simulated_sweeps: int, repeats: _Repeats) -> ModelOutcome:
        """The model's outcome: its voltage file put in place, its spikes and its score."""
        from ctmirror.metrics.evr import explained_variance_ratio, spike_times_to_indices

        started = time.perf_counter()
        try:
            if self.error is not None:
                raise ValueError(self.error)
            spikes = self._spikes()
            values: dict[str, Any] = {
                "simulated_sweeps": simulated_sweeps, "model_spikes": spikes.num_rows,
                "noise2_sweeps": len(repeats.sweeps),
                "noise2_sweep_numbers": [s.sweep_number for s in repeats.sweeps] or None,
                "voltages_written": self.task.voltage_root is not None, "problem": repeats.problem,
            }
            if repeats.problem is None:
                first = repeats.sweeps[0]
                dt = 1.0 / first.sampling_rate
                data = [spike_times_to_indices(_spike_times(s), dt) for s in repeats.sweeps]
                score = explained_variance_ratio(data, self.steps[first.sweep_number],
                                                 repeats.samples, dt)
                values.update(explained_variance_ratio=score.ratio, ev_data=score.ev_data,
                              ev_model=score.ev_model)
        except (CtMirrorError, OSError, ValueError, pa.ArrowException) as exc:
            self.abort()
            return ModelOutcome(self.model_id, error=str(exc), values={"problem": str(exc)},
                                seconds=self.seconds + time.perf_counter() - started)
        return ModelOutcome(self.model_id, values, spikes,
                            seconds=self.seconds + time.perf_counter() - started)

    def _spikes(self) -> pa.Table:
        """The model's ``glif_spikes`` rows."""
        n = sum(a.size for a in self.spike_columns["sweep_number"])
        arrays = {name: np.concatenate(parts) if parts else np.zeros(0, _SPIKE_DTYPES[name])
                  for name, parts in self.spike_columns.items()}
        return pa.table({"specimen_id": np.full(n, self.task.specimen_id, np.int64),
                         "neuronal_model_id": np.full(n, self.model_id, np.int64), **arrays},
                        schema=GLIF_SPIKES.schema)


def _voltage_rows(task: CellTask, model_id: int, sweep: StimulusSweep,
                  result: GlifResult) -> pa.Table:
    return pa.table({
        "specimen_id": [task.specimen_id], "neuronal_model_id": [model_id],
        "sweep_number": [sweep.sweep_number], "sampling_rate_hz": [sweep.sampling_rate],
        # A list over the float32 samples' own buffer: no second copy of a long sweep.
        "voltage": pa.ListArray.from_arrays(
            pa.array([0, result.voltage.size], pa.int32()),
            pa.array(result.voltage.astype(np.float32))),
    }, schema=GLIF_VOLTAGES.schema)


@dataclass(frozen=True)
class Unavailable:
    """Models that cannot be run: their rows say why (written in one transaction)."""

    models: tuple[ModelInputs, ...]


def compute_models(task: CellTask | Unavailable) -> tuple[ModelOutcome, ...]:
    """The outcomes of one cell's models (runs in a worker), or of models that cannot run."""
    if isinstance(task, CellTask):
        return compute_cell(task)
    return tuple(ModelOutcome(inputs.neuronal_model_id,
                              error=inputs.unavailable if inputs.failed else None,
                              values={"problem": inputs.unavailable}) for inputs in task.models)


class GlifMetrics(DerivedStage[CellTask | Unavailable, tuple[ModelOutcome, ...],
                               tuple[int, int | None]]):
    """Run and score the pending models (see the module doc)."""

    name = "glif-metrics"
    counts = ("simulated", "without_ratio", "spikes", "seconds")
    compute = staticmethod(compute_models)
    _refresh: list[ModelInputs]
    _previous: dict[int, Any]
    _inputs: dict[int, ModelInputs]

    def enabled(self) -> bool:
        return self.config.features.glif and self.config.files.convert

    def plan(self) -> Plan[CellTask | Unavailable, tuple[int, int | None]]:
        voltages = self.config.features.glif_voltages
        pending, self._refresh, orphans, self._previous = _plan(self.engine, voltages)
        self._inputs = {inputs.neuronal_model_id: inputs for inputs in pending}
        unavailable = tuple(i for i in pending if i.unavailable is not None)
        items: list[CellTask | Unavailable] = [Unavailable(unavailable)] if unavailable else []
        items += _tasks(self.engine, self.config.root,
                        [i for i in pending if i.unavailable is None], voltages)
        return Plan(items, orphans, pending=len(pending))

    def withdraw(self, gone: Sequence[tuple[int, int | None]]) -> None:
        """Withdraw the rows and files of models gone upstream; refresh the published values
        of rows that are otherwise current."""
        with self.transaction() as conn:
            _withdraw(conn, self.config.root, gone)
            _refresh_published(conn, self._refresh)

    def write(self, task: CellTask | Unavailable, outcomes: tuple[ModelOutcome, ...]) -> Tally:
        results = [(self._inputs[outcome.neuronal_model_id], outcome) for outcome in outcomes]
        if results:
            with self.transaction() as conn:
                _write(conn, self.config.root, results, self._previous)
        failures = tuple(
            Failure(FileSource.MODEL_PACKAGE.value, inputs.neuronal_model_id,
                    str(task.path) if isinstance(task, CellTask)
                    else str(self.config.root / (inputs.config_relpath or "")), outcome.error)
            for inputs, outcome in results if outcome.error is not None)
        run = [o for o in outcomes if o.spikes is not None]
        scored = sum(o.values.get("explained_variance_ratio") is not None for o in outcomes)
        return Tally(done=scored, failures=failures, counts={
            "simulated": len(run), "without_ratio": len(outcomes) - scored,
            "spikes": sum(o.spikes.num_rows for o in run if o.spikes is not None),
            "seconds": sum(o.seconds for o in run)})

    def publish(self) -> None:
        from ctmirror.warehouse.views import publish_glif_comparison_view

        super().publish()
        publish_glif_comparison_view(self.engine)


# -- write -----------------------------------------------------------------------------------


def _write(conn: sa.Connection, root: Path, results: list[tuple[ModelInputs, ModelOutcome]],
           previous: Mapping[int, Any]) -> None:
    """Replace the models' spike files (dropping what an earlier run left), then their rows in
    ``conn``'s transaction (on PostgreSQL with their ``glif_spikes`` rows)."""
    for inputs, outcome in results:
        _write_files(root, inputs, outcome, previous.get(inputs.neuronal_model_id))
    conn.execute(sa.delete(_model_metrics).where(_model_metrics.c.neuronal_model_id.in_(
        [inputs.neuronal_model_id for inputs, _ in results])))
    conn.execute(sa.insert(_model_metrics),
                 [_row(inputs, outcome) for inputs, outcome in results])
    for inputs, outcome in results:
        kept = outcome.spikes if inputs.specimen_id is not None else None
        replace_dataset_rows(conn, GLIF_SPIKES, {"neuronal_model_id": inputs.neuronal_model_id},
                             kept)


def _write_files(root: Path, inputs: ModelInputs, outcome: ModelOutcome, previous: Any) -> None:
    model_id = inputs.neuronal_model_id
    if previous is not None and previous.specimen_id is not None \
            and previous.specimen_id != inputs.specimen_id:
        _remove_files(root, int(previous.specimen_id), model_id)
    if inputs.specimen_id is not None:
        if outcome.spikes is not None:
            write_parquet_atomic(GLIF_SPIKES.file_path(root, inputs.specimen_id, model_id),
                                 GLIF_SPIKES.schema, [outcome.spikes])
        else:
            _remove_files(root, inputs.specimen_id, model_id)
        if not outcome.values.get("voltages_written"):
            GLIF_VOLTAGES.file_path(root, inputs.specimen_id, model_id).unlink(missing_ok=True)


def _row(inputs: ModelInputs, outcome: ModelOutcome) -> dict[str, Any]:
    return {
        "neuronal_model_id": inputs.neuronal_model_id, "specimen_id": inputs.specimen_id,
        "neuronal_model_template_id": inputs.template_id, "level": inputs.level,
        "neuronal_model_run_id": inputs.run_id,
        "published_explained_variance_ratio": inputs.published,
        "config_well_known_file_id": inputs.config_file_id,
        "config_sha256": inputs.config_sha256,
        "recording_well_known_file_id": inputs.recording_file_id,
        "recording_sha256": inputs.recording_sha256,
        "code_version": GLIF_CODE_VERSION, "computed_at": datetime.now(UTC),
        **{name: None for name in ("explained_variance_ratio", "ev_data", "ev_model",
                                   "noise2_sweeps", "noise2_sweep_numbers", "simulated_sweeps",
                                   "model_spikes", "problem")},
        "voltages_written": False,
        **outcome.values,
    }


def _refresh_published(conn: sa.Connection, refresh: list[ModelInputs]) -> None:
    for inputs in refresh:
        conn.execute(sa.update(_model_metrics)
                     .where(_model_metrics.c.neuronal_model_id == inputs.neuronal_model_id)
                     .values(neuronal_model_run_id=inputs.run_id,
                             published_explained_variance_ratio=inputs.published))


def _withdraw(conn: sa.Connection, root: Path, orphans: Sequence[tuple[int, int | None]]
              ) -> int:
    for model_id, specimen_id in orphans:
        conn.execute(sa.delete(_model_metrics).where(
            _model_metrics.c.neuronal_model_id == model_id))
        replace_dataset_rows(conn, GLIF_SPIKES, {"neuronal_model_id": model_id}, None)
        if specimen_id is not None:
            _remove_files(root, specimen_id, model_id)
    return len(orphans)


def _remove_files(root: Path, specimen_id: int, model_id: int) -> None:
    for dataset in (GLIF_SPIKES, GLIF_VOLTAGES):
        dataset.file_path(root, specimen_id, model_id).unlink(missing_ok=True)


__all__ = ["GLIF_CODE_VERSION", "NOISE_2", "CellTask", "GlifMetrics", "ModelInputs",
           "ModelOutcome", "compute_cell", "compute_models", "noise2_repeats"]
