"""The biophysical stage of a sync: simulate every biophysical model on its cell's recording
with NEURON and score it.

Every mirrored biophysical model (template ``Biophysical - ...``) whose cell has a converted
recording gets one ``biophysical_model_metrics`` row. A perisomatic model whose fit
(``NeuronalModelParameters``), reconstruction SWC and template mechanisms (``.mod`` files) are
mirrored is built from them (``ctmirror.biophys.simulate``, as AllenSDK's runner builds it), its
template's mechanisms compiled once per content hash into ``<root>/nrnmech``, and run on the
cell's Long Square, Short Square and Ramp sweeps and the fit's training sweeps (the stimuli
are ``features.biophys_stimuli``; add Noise for the noise sweeps), stimuli from the ``sweeps``
Parquet file. Its spikes go to ``biophysical_spikes``, each sweep's spike counts to
``biophysical_sweep_metrics``, and the feature-average error over the fit's training sweeps
(``ctmirror.biophys.scoring``) with each feature to ``biophysical_feature_metrics``. The
published ``rheobase_feature_average`` is copied beside it.

A model is (re)computed when the bytes of its fit, SWC, mechanisms or recording, its cell or
template, the settings it was run with, or the code version differ from what its row records;
so a second sync over unchanged files computes nothing (the published value is refreshed in
place). Each model runs in its own child process (NEURON holds one model and one mechanism
library per process) with ``features.biophys_timeout_s`` per sweep; a model that fails to
compile, to build, to run, or in time is reported with its reason and gets a row with that
reason, tried again when its inputs change. A model that cannot be run (an all-active model, a
file not mirrored) gets a row saying why. Without the ``neuron`` extra the stage is skipped.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from ctmirror.convert.parquet_io import write_parquet_atomic
from ctmirror.errors import CtMirrorError
from ctmirror.schema.base import mapped_table
from ctmirror.schema.biophysical_metrics import (
    BiophysicalFeatureMetrics,
    BiophysicalModelMetrics,
    BiophysicalSweepMetrics,
)
from ctmirror.schema.mirror import FileSource
from ctmirror.schema.parquet import BIOPHYSICAL_SPIKES, SWEEPS
from ctmirror.stages import DerivedStage, Failure, Plan, Tally
from ctmirror.sync_glif import CONVERTED_RECORDINGS
from ctmirror.warehouse.dataset_rows import replace_dataset_rows

#: Bumped whenever the simulation or the score changes what it computes; older rows are redone.
BIOPHYS_CODE_VERSION = 1

PERISOMATIC = "Biophysical - perisomatic"

_models_table = mapped_table(BiophysicalModelMetrics)
_features_table = mapped_table(BiophysicalFeatureMetrics)
_sweeps_table = mapped_table(BiophysicalSweepMetrics)

_MODELS = sa.text("""
    SELECT nm.id, nm.specimen_id, nm.neuronal_model_template_id AS template_id,
           nm.neuron_reconstruction_id, t.name AS template_name
    FROM neuronal_models nm
    JOIN neuronal_model_templates t ON t.id = nm.neuronal_model_template_id
    WHERE nm.removed_at IS NULL AND t.name LIKE 'Biophysical%'
    ORDER BY nm.id
""")
_FIT_FILES = sa.text("""
    SELECT w.attachable_id AS neuronal_model_id, m.source_id, m.relpath, m.sha256
    FROM mirror_files m
    JOIN well_known_files w ON w.id = m.source_id AND w.removed_at IS NULL
    JOIN well_known_file_types t ON t.id = w.well_known_file_type_id
    WHERE m.source = :source AND m.removed_at IS NULL AND w.attachable_type = 'NeuronalModel'
      AND t.name = 'NeuronalModelParameters'
    ORDER BY m.source_id
""")
_SWC_FILES = sa.text("""
    SELECT w.attachable_id AS reconstruction_id, m.source_id, m.relpath, m.sha256
    FROM mirror_files m
    JOIN well_known_files w ON w.id = m.source_id AND w.removed_at IS NULL
    WHERE m.source = :source AND m.removed_at IS NULL AND m.kind = 'swc'
      AND w.attachable_type = 'NeuronReconstruction'
    ORDER BY m.source_id
""")
_RUNS = sa.text("""
    SELECT neuronal_model_id, id, rheobase_feature_average FROM neuronal_model_runs
    WHERE removed_at IS NULL AND neuronal_model_id IS NOT NULL
    ORDER BY id
""")
#: The columns whose values, as the warehouse has them now, decide whether a row is current.
_INPUT_COLUMNS = ("specimen_id", "neuronal_model_template_id", "fit_sha256", "swc_sha256",
                  "mechanisms_sha256", "recording_sha256", "settings_key", "code_version")


@dataclass(frozen=True)
class ModelInputs:
    """What one model's rows are made from, as the warehouse and the mirror say now."""

    neuronal_model_id: int
    specimen_id: int
    template_id: int
    recording_file_id: int
    recording_sha256: str
    settings_key: str
    fit_file_id: int | None = None
    fit_sha256: str | None = None
    swc_file_id: int | None = None
    swc_sha256: str | None = None
    mechanisms_sha256: str | None = None
    run_id: int | None = None
    published: float | None = None
    #: Why the model cannot be run (all-active, a file not mirrored), else None.
    unavailable: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (self.specimen_id, self.template_id, self.fit_sha256, self.swc_sha256,
                self.mechanisms_sha256, self.recording_sha256, self.settings_key,
                BIOPHYS_CODE_VERSION)


@dataclass(frozen=True)
class ModelTask:
    """One model to simulate and score (runs in a worker process)."""

    neuronal_model_id: int
    specimen_id: int
    fit: Path
    swc: Path
    mod_files: tuple[Path, ...]
    mechanism_cache: Path
    recording: Path
    solver: str
    #: Starts of the stimulus names of the sweeps to run (besides the training sweeps).
    stimuli: tuple[str, ...]
    timeout_s: float


@dataclass(frozen=True)
class Unavailable:
    """Models that cannot be run: their rows say why (written in one transaction)."""

    models: tuple[ModelInputs, ...]


@dataclass(frozen=True)
class ModelOutcome:
    neuronal_model_id: int
    values: dict[str, Any] = field(default_factory=dict)
    features: tuple[dict[str, Any], ...] = ()
    sweeps: tuple[dict[str, Any], ...] = ()
    spikes: pa.Table | None = None
    error: str | None = None


# -- plan -----------------------------------------------------------------------------------


def stimuli_setting(value: str) -> tuple[str, ...]:
    return tuple(sorted({name.strip() for name in value.split(",") if name.strip()}))


def settings_key(solver: str, stimuli: Sequence[str]) -> str:
    return f"solver={solver};stimuli={','.join(stimuli)}"


def _plan(engine: sa.Engine, root: Path, key: str) -> tuple[
        list[ModelInputs], list[ModelInputs], list[tuple[int, int | None]]]:
    """Pending models, current rows whose published value changed, and rows to withdraw."""
    from ctmirror.biophys.mechanisms import mechanisms_hash
    from ctmirror.biophys.mirrored import mirrored_mod_files

    source = FileSource.WELL_KNOWN_FILE.value
    with engine.connect() as conn:
        models = conn.execute(_MODELS).all()
        fits = {int(r.neuronal_model_id): r for r in conn.execute(_FIT_FILES, {"source": source})}
        swcs = {int(r.reconstruction_id): r for r in conn.execute(_SWC_FILES, {"source": source})}
        recordings = {int(r.specimen_id): r for r in conn.execute(
            CONVERTED_RECORDINGS, {"source": source, "dataset": SWEEPS.name})}
        runs: dict[int, Any] = {}
        for found in conn.execute(_RUNS):
            chosen = runs.get(int(found.neuronal_model_id))
            if chosen is None or (chosen.rheobase_feature_average is None
                                  and found.rheobase_feature_average is not None):
                runs[int(found.neuronal_model_id)] = found
        rows = {int(r.neuronal_model_id): r for r in conn.execute(sa.select(_models_table))}
    mechanisms: dict[int, tuple[str | None, str | None]] = {}
    current: list[ModelInputs] = []
    for model in models:
        specimen = None if model.specimen_id is None else int(model.specimen_id)
        recording = recordings.get(specimen) if specimen is not None else None
        if recording is None or specimen is None:
            continue  # scored only where the cell has a recording
        model_id, template = int(model.id), int(model.template_id)
        run = runs.get(model_id)
        inputs = ModelInputs(
            neuronal_model_id=model_id, specimen_id=specimen, template_id=template,
            recording_file_id=int(recording.source_id), recording_sha256=recording.sha256,
            settings_key=key, run_id=None if run is None else int(run.id),
            published=None if run is None else run.rheobase_feature_average)
        fit = fits.get(model_id)
        swc = None if model.neuron_reconstruction_id is None else swcs.get(
            int(model.neuron_reconstruction_id))
        if template not in mechanisms and model.template_name == PERISOMATIC:
            try:
                mechanisms[template] = (
                    mechanisms_hash(mirrored_mod_files(engine, root, template)), None)
            except (CtMirrorError, OSError) as exc:
                mechanisms[template] = (None, str(exc))
        mechanism_hash, mechanism_problem = mechanisms.get(template, (None, None))
        inputs = replace(
            inputs, fit_file_id=None if fit is None else int(fit.source_id),
            fit_sha256=None if fit is None else fit.sha256,
            swc_file_id=None if swc is None else int(swc.source_id),
            swc_sha256=None if swc is None else swc.sha256, mechanisms_sha256=mechanism_hash,
            unavailable=_unavailable(model.template_name, fit, swc, mechanism_problem))
        current.append(inputs)
    pending, refresh = [], []
    for inputs in current:
        row = rows.get(inputs.neuronal_model_id)
        if row is None or tuple(getattr(row, c) for c in _INPUT_COLUMNS) != inputs.key():
            pending.append(inputs)
        elif (row.neuronal_model_run_id, row.published_rheobase_feature_average) != (
                inputs.run_id, inputs.published):
            refresh.append(inputs)
    kept = {inputs.neuronal_model_id for inputs in current}
    orphans = [(model_id, None if row.specimen_id is None else int(row.specimen_id))
               for model_id, row in rows.items() if model_id not in kept]
    return pending, refresh, orphans


def _unavailable(template_name: str, fit: Any, swc: Any, mechanisms: str | None) -> str | None:
    if template_name != PERISOMATIC:
        return (f"{template_name} models are not run: only the perisomatic instantiation "
                "(AllenSDK's 'perisomatic' Utils) is implemented")
    if fit is None:
        return "the model's fit (NeuronalModelParameters) is not mirrored: sync --files models"
    if swc is None:
        return ("the model's reconstruction SWC is not mirrored: sync --files reconstructions")
    return mechanisms


def _task(inputs: ModelInputs, root: Path, engine: sa.Engine, relpaths: Mapping[int, str],
          config: Any) -> ModelTask:
    from ctmirror.biophys.mirrored import mirrored_mod_files

    features = config.features
    return ModelTask(
        neuronal_model_id=inputs.neuronal_model_id, specimen_id=inputs.specimen_id,
        fit=root / relpaths[inputs.fit_file_id or 0], swc=root / relpaths[inputs.swc_file_id or 0],
        mod_files=tuple(mirrored_mod_files(engine, root, inputs.template_id)),
        mechanism_cache=root / "nrnmech",
        recording=SWEEPS.file_path(root, inputs.specimen_id, inputs.recording_file_id),
        solver=features.biophys_solver, stimuli=stimuli_setting(features.biophys_stimuli),
        timeout_s=features.biophys_timeout_s)


# -- compute --------------------------------------------------------------------------------


def compute_model(task: ModelTask | Unavailable) -> tuple[ModelOutcome, ...]:
    """The outcome of one model (runs in a worker), or the rows of models that cannot run."""
    if isinstance(task, Unavailable):
        return tuple(ModelOutcome(i.neuronal_model_id, values={"problem": i.unavailable})
                     for i in task.models)
    try:
        return (_simulate_and_score(task),)
    except (CtMirrorError, OSError, ValueError, KeyError, pa.ArrowException) as exc:
        message = " ".join(str(exc).split())
        return (ModelOutcome(task.neuronal_model_id, values={"problem": message},
                             error=message),)


def _simulate_and_score(task: ModelTask) -> ModelOutcome:
    from ctmirror.biophys.child import Request, Simulation, simulate_in_child
    from ctmirror.biophys.mechanisms import compile_mechanisms
    from ctmirror.biophys.response import analyse
    from ctmirror.biophys.scoring import feature_average, feature_scores
    from ctmirror.readers.ephys import recordings_from_parquet

    started = time.perf_counter()
    training, junction_mv = _training(task.fit)
    library = compile_mechanisms(task.mod_files, task.mechanism_cache)
    listed = pq.read_table(task.recording, columns=["sweep_number", "stimulus_name",
                                                    "spike_times_s"]).to_pylist()
    wanted = {int(r["sweep_number"]) for r in listed if int(r["sweep_number"]) in training
              or (r["stimulus_name"] or "").startswith(task.stimuli)}
    recorded, _ = recordings_from_parquet(task.recording, {
        r["stimulus_name"] for r in listed if int(r["sweep_number"]) in wanted})
    chosen = [r for r in recorded if r.sweep_number in wanted]
    if not chosen:
        raise ValueError(f"{task.recording.name}: no current-clamp sweep of "
                         f"{', '.join(task.stimuli)} or the fit's training sweeps")
    published = {int(r["sweep_number"]): len(r["spike_times_s"]) for r in listed
                 if r["spike_times_s"] is not None}
    request = Request(task.fit, task.swc, library, task.solver, tuple(
        Simulation(r.sweep_number, r.i * 1e-12, 1.0 / r.sampling_rate) for r in chosen))
    by_number = {r.sweep_number: r for r in chosen}
    sweeps: list[dict[str, Any]] = []
    spikes: list[pa.Table] = []
    model_features, recorded_features = [], []
    for result in simulate_in_child(request, task.timeout_s):
        sweep = by_number[result.sweep_number]
        dt = 1.0 / sweep.sampling_rate
        response = analyse(result.v, sweep.i * 1e-12, dt)
        spikes.append(_spike_rows(task, result.sweep_number, response.spikes))
        sweeps.append({
            "sweep_number": result.sweep_number, "stimulus_name": sweep.stimulus_name,
            "training": result.sweep_number in training,
            "model_spike_count": int(response.features["spike_count"] or 0),
            "recorded_spike_count": published.get(result.sweep_number),
            "run_seconds": result.run_s})
        if result.sweep_number in training:
            model_features.append(response.features)
            recorded_features.append(analyse(sweep.v + junction_mv, sweep.i * 1e-12, dt).features)
    scores = feature_scores(model_features, recorded_features)
    average = feature_average(scores)
    counted = [s for s in sweeps if s["recorded_spike_count"] is not None]
    table = pa.concat_tables(spikes)
    problem = None if average is not None else (
        "none of the fit's training sweeps " f"{sorted(training)} is in the recording"
        if not model_features else "the training sweeps have none of the scored features")
    values = {
        "feature_average": average,
        "features_scored": sum(s.error is not None for s in scores),
        "training_sweep_numbers": sorted(n for n in training if n in by_number) or None,
        "simulated_sweeps": len(sweeps), "model_spikes": table.num_rows,
        "sweeps_same_spike_count": sum(s["model_spike_count"] == s["recorded_spike_count"]
                                       for s in counted) if counted else None,
        "simulation_seconds": time.perf_counter() - started, "problem": problem}
    features = tuple({"feature": s.feature, "model_value": s.model_value,
                      "recorded_mean": s.target_mean, "recorded_sd": s.target_sd,
                      "recorded_sweeps": s.target_sweeps, "error": s.error} for s in scores)
    return ModelOutcome(task.neuronal_model_id, values, features, tuple(sweeps), table)


def _training(fit: Path) -> tuple[frozenset[int], float]:
    """The fit's training sweep numbers and junction potential (mV)."""
    try:
        fitting = json.loads(fit.read_text()).get("fitting") or [{}]
        return (frozenset(int(n) for n in fitting[0].get("sweeps") or ()),
                float(fitting[0].get("junction_potential") or 0.0))
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise ValueError(f"{fit.name}: no readable fitting section ({exc})") from None


def _spike_rows(task: ModelTask, sweep_number: int, spikes: Any) -> pa.Table:
    times = np.asarray(spikes["threshold_t"], dtype=np.float64)
    n = times.size
    return pa.table({
        "specimen_id": np.full(n, task.specimen_id, np.int64),
        "neuronal_model_id": np.full(n, task.neuronal_model_id, np.int64),
        "sweep_number": np.full(n, sweep_number, np.int32),
        "spike_number": np.arange(n, dtype=np.int32), "spike_time_s": times,
        "threshold_v": np.asarray(spikes["threshold_v"], dtype=np.float64),
        "peak_v": np.asarray(spikes["peak_v"], dtype=np.float64),
    }, schema=BIOPHYSICAL_SPIKES.schema)


# -- the stage ------------------------------------------------------------------------------


class BiophysicalMetrics(DerivedStage[ModelTask | Unavailable, tuple[ModelOutcome, ...],
                                      tuple[int, int | None]]):
    """Simulate and score the pending biophysical models (see the module doc)."""

    name = "biophysical-metrics"
    counts = ("simulated", "without_average", "spikes", "seconds")
    compute = staticmethod(compute_model)
    _refresh: list[ModelInputs]
    _inputs: dict[int, ModelInputs]

    def disabled_reason(self) -> str | None:
        """Why the stage does not run, in one line; None when it does."""
        if not self.config.features.biophys:
            return "off (features.biophys)"
        if not self.config.files.convert:
            return "off (recordings are not converted)"
        from ctmirror.biophys import INSTALL_HINT

        # found, not imported: NEURON is loaded by the simulation processes only
        return None if importlib.util.find_spec("neuron") is not None else INSTALL_HINT

    def enabled(self) -> bool:
        return self.disabled_reason() is None

    def plan(self) -> Plan[ModelTask | Unavailable, tuple[int, int | None]]:
        features = self.config.features
        root = Path(self.config.root)
        key = settings_key(features.biophys_solver, stimuli_setting(features.biophys_stimuli))
        pending, self._refresh, orphans = _plan(self.engine, root, key)
        self._inputs = {inputs.neuronal_model_id: inputs for inputs in pending}
        unavailable = tuple(i for i in pending if i.unavailable is not None)
        runnable = [i for i in pending if i.unavailable is None]
        items: list[ModelTask | Unavailable] = [Unavailable(unavailable)] if unavailable else []
        if runnable:
            ids = {i.fit_file_id or 0 for i in runnable} | {i.swc_file_id or 0 for i in runnable}
            with self.engine.connect() as conn:
                relpaths = {int(r.source_id): str(r.relpath) for r in conn.execute(
                    sa.text("SELECT source_id, relpath FROM mirror_files WHERE source = :s "
                            "AND removed_at IS NULL AND source_id IN :ids")
                    .bindparams(sa.bindparam("ids", expanding=True)),
                    {"s": FileSource.WELL_KNOWN_FILE.value, "ids": sorted(ids)})}
            items += [_task(i, root, self.engine, relpaths, self.config) for i in runnable]
        return Plan(items, orphans, pending=len(pending))

    def withdraw(self, gone: Sequence[tuple[int, int | None]]) -> None:
        """Withdraw the rows and files of models gone (or without a recording); refresh the
        published values of rows that are otherwise current."""
        with self.transaction() as conn:
            for model_id, specimen_id in gone:
                _delete_rows(conn, model_id)
                replace_dataset_rows(conn, BIOPHYSICAL_SPIKES,
                                     {"neuronal_model_id": model_id}, None)
                if specimen_id is not None:
                    BIOPHYSICAL_SPIKES.file_path(self.config.root, specimen_id,
                                                 model_id).unlink(missing_ok=True)
            for inputs in self._refresh:
                conn.execute(sa.update(_models_table)
                             .where(_models_table.c.neuronal_model_id == inputs.neuronal_model_id)
                             .values(neuronal_model_run_id=inputs.run_id,
                                     published_rheobase_feature_average=inputs.published))

    def write(self, task: ModelTask | Unavailable, outcomes: tuple[ModelOutcome, ...]) -> Tally:
        root = Path(self.config.root)
        solver = self.config.features.biophys_solver
        with self.transaction() as conn:
            for outcome in outcomes:
                inputs = self._inputs[outcome.neuronal_model_id]
                path = BIOPHYSICAL_SPIKES.file_path(root, inputs.specimen_id,
                                                    inputs.neuronal_model_id)
                if outcome.spikes is not None:
                    write_parquet_atomic(path, BIOPHYSICAL_SPIKES.schema, [outcome.spikes])
                else:
                    path.unlink(missing_ok=True)
                _delete_rows(conn, inputs.neuronal_model_id)
                ran = outcome.spikes is not None
                conn.execute(sa.insert(_models_table), [_model_row(inputs, outcome,
                                                                   solver if ran else None)])
                ids = {"neuronal_model_id": inputs.neuronal_model_id,
                       "specimen_id": inputs.specimen_id}
                if outcome.features:
                    conn.execute(sa.insert(_features_table),
                                 [{**ids, **row} for row in outcome.features])
                if outcome.sweeps:
                    conn.execute(sa.insert(_sweeps_table),
                                 [{**ids, **row} for row in outcome.sweeps])
                replace_dataset_rows(conn, BIOPHYSICAL_SPIKES,
                                     {"neuronal_model_id": inputs.neuronal_model_id},
                                     outcome.spikes)
        failures = tuple(
            Failure(FileSource.MODEL_PACKAGE.value, outcome.neuronal_model_id,
                    str(task.fit) if isinstance(task, ModelTask) else "", outcome.error)
            for outcome in outcomes if outcome.error is not None)
        run = [o for o in outcomes if o.spikes is not None]
        return Tally(done=sum(o.values.get("feature_average") is not None for o in outcomes),
                     failures=failures, counts={
                         "simulated": len(run),
                         "without_average": sum(o.values.get("feature_average") is None
                                                for o in outcomes),
                         "spikes": sum(o.spikes.num_rows for o in run if o.spikes is not None),
                         "seconds": sum(o.values.get("simulation_seconds") or 0.0
                                        for o in run)})


def _delete_rows(conn: sa.Connection, model_id: int) -> None:
    for table in (_features_table, _sweeps_table, _models_table):
        conn.execute(sa.delete(table).where(table.c.neuronal_model_id == model_id))


def _model_row(inputs: ModelInputs, outcome: ModelOutcome, solver: str | None
               ) -> dict[str, Any]:
    return {
        "neuronal_model_id": inputs.neuronal_model_id, "specimen_id": inputs.specimen_id,
        "neuronal_model_template_id": inputs.template_id,
        "neuronal_model_run_id": inputs.run_id,
        "published_rheobase_feature_average": inputs.published,
        "fit_well_known_file_id": inputs.fit_file_id, "fit_sha256": inputs.fit_sha256,
        "swc_well_known_file_id": inputs.swc_file_id, "swc_sha256": inputs.swc_sha256,
        "mechanisms_sha256": inputs.mechanisms_sha256,
        "recording_well_known_file_id": inputs.recording_file_id,
        "recording_sha256": inputs.recording_sha256, "settings_key": inputs.settings_key,
        "code_version": BIOPHYS_CODE_VERSION, "computed_at": datetime.now(UTC),
        "solver": solver,
        **{name: None for name in ("feature_average", "features_scored",
                                   "training_sweep_numbers", "simulated_sweeps",
                                   "model_spikes", "sweeps_same_spike_count",
                                   "simulation_seconds", "problem")},
        **outcome.values,
    }


__all__ = ["BIOPHYS_CODE_VERSION", "BiophysicalMetrics", "ModelInputs", "ModelOutcome",
           "ModelTask", "compute_model", "settings_key"]
