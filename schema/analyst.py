"""The analyst layer: views a BI tool or an analyst reads first, the same on DuckDB and PostgreSQL.

Each :class:`AnalystView` is data: its name, what one row is, its columns with their
descriptions and the SQL expression of each, and the ``FROM`` clause they are selected from.
Table and column names come from the mapped tables (``_Source`` refuses a column the schema
does not have) and from the feature-name tuples, so a renamed column breaks the import, never
a view at query time. The SQL is plain (CASE, window functions, EXISTS), valid on both backends.

- ``current_<table>``: each mirrored Allen table without its removed rows.
- ``cells``: one row per current cell (the cell list without removed rows): normalised species,
  sex and layer, file availability from ``mirror_files``, model counts, the best published
  explained variance ratio per GLIF level, and every recomputed ephys and morphology feature
  as published (``f``) and as recomputed (``f_recomputed``).
- ``glif_models``: one row per current GLIF model, its level found by its template.
- ``fi_curves``: one row per cell and long-square amplitude, with its spike rate.
- ``sweep_summary``: one row per current sweep, without arrays.
- ``reconstruction_summary``: one row per current reconstruction.

The views that join derived data (``derived``) are MATERIALIZED views on PostgreSQL, refreshed
in one transaction at the end of a sync, so a reader sees the state before or after a sync.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from ctmirror.schema.allen_model import MODEL_TABLES
from ctmirror.schema.base import BOOKKEEPING_COLUMNS, mapped_table
from ctmirror.schema.biophysical_metrics import BiophysicalModelMetrics
from ctmirror.schema.ephys import EphysFeature, EphysSweep
from ctmirror.schema.ephys_recomputed import (
    RECOMPUTED_FEATURES,
    EphysSweepFeatures,
    ephys_features_recomputed,
)
from ctmirror.schema.feature_docs import FEATURE_DESCRIPTIONS
from ctmirror.schema.files import WellKnownFile
from ctmirror.schema.mirror import MirrorFile
from ctmirror.schema.model_metrics import ModelMetrics
from ctmirror.schema.model_parameters import GlifNeuronConfig
from ctmirror.schema.morphology import NeuronReconstruction
from ctmirror.schema.morphology_recomputed import (
    RECONSTRUCTION_FEATURES,
    morphology_features_recomputed,
)
from ctmirror.schema.neuronal_models import NeuronalModel, NeuronalModelRun, NeuronalModelTemplate
from ctmirror.schema.specimens import ApiCellTypesSpecimenDetail


@dataclass(frozen=True)
class ViewColumn:
    name: str
    #: What it is, with its unit in the text, e.g. "resting potential (mV)".
    description: str
    #: Its SQL over the view's sources; empty: the source column of the same name.
    expression: str = ""


@dataclass(frozen=True)
class AnalystView:
    name: str
    description: str
    columns: tuple[ViewColumn, ...]
    #: ``FROM ...`` (with joins, ``WHERE`` and ``GROUP BY``) the columns are selected from.
    sources: str
    #: Joins derived data: a MATERIALIZED view on PostgreSQL, refreshed at the end of a sync.
    derived: bool = True

    @property
    def select(self) -> str:
        """The view's query: plain SQL, the same on DuckDB and PostgreSQL."""
        columns = ",\n       ".join(f"{c.expression or c.name} AS {c.name}"
                                     for c in self.columns)
        return f"SELECT {columns}\n{self.sources}"

    def column(self, name: str) -> ViewColumn:
        (found,) = (c for c in self.columns if c.name == name)
        return found


@dataclass(frozen=True)
class _Source:
    """A table under an alias in a view's ``FROM``; ``src["col"]`` is ``alias.col``, checked
    against the mapped table."""

    table: Table
    alias: str

    def __getitem__(self, column: str) -> str:
        return f"{self.alias}.{self.table.c[column].name}"

    @property
    def ref(self) -> str:
        return f"{self.table.name} {self.alias}"

    @property
    def current(self) -> str:
        """The row is not removed upstream."""
        return f"{self[BOOKKEEPING_COLUMNS[4]]} IS NULL"


_CELL_LIST = mapped_table(ApiCellTypesSpecimenDetail)
_FEATURES = mapped_table(EphysFeature)
_SWEEPS = mapped_table(EphysSweep)
_SWEEP_FEATURES = mapped_table(EphysSweepFeatures)
_RECONSTRUCTIONS = mapped_table(NeuronReconstruction)
_MODELS = mapped_table(NeuronalModel)
_TEMPLATES = mapped_table(NeuronalModelTemplate)
_RUNS = mapped_table(NeuronalModelRun)
_GLIF_CONFIGS = mapped_table(GlifNeuronConfig)
_MODEL_METRICS = mapped_table(ModelMetrics)
_BIOPHYSICAL_METRICS = mapped_table(BiophysicalModelMetrics)
_MIRROR_FILES = mapped_table(MirrorFile)
_WELL_KNOWN_FILES = mapped_table(WellKnownFile)

#: GLIF model families by level (1-5), as their templates end: ``1 Leaky Integrate and Fire
#: (LIF)`` ... ``5 LIF-R-ASC + Threshold Adaptation (LIF-R-ASC-A)``.
GLIF_FAMILIES: tuple[str, ...] = ("LIF", "LIF-R", "LIF-ASC", "LIF-R-ASC", "LIF-R-ASC-A")
#: Templates of the biophysical models: ``Biophysical - perisomatic``, ``... - all active``.
BIOPHYSICAL_TEMPLATE_PREFIX = "Biophysical"
#: The ephys definition set the ``_recomputed`` values of ``cells`` and the sweep views come
#: from when a cell has several (the published table's); else the first by name.
PREFERRED_DEFINITIONS = "allen2016"
#: ``mirror_files.kind`` (``ctmirror.mirror.FileKind``) of a recording and a reconstruction.
NWB_KIND, SWC_KIND, MARKER_KIND = "nwb", "swc", "marker"
#: The stimulus of the F-I curve.
LONG_SQUARE = "Long Square"

_GLIF_LEVELS = tuple(range(1, len(GLIF_FAMILIES) + 1))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _double(expression: str) -> str:
    return f"CAST({expression} AS DOUBLE PRECISION)"


def _normalised(expression: str) -> str:
    """Lower case, trimmed, empty as NULL."""
    return f"NULLIF(lower(trim({expression})), '')"


def _glif_level(template_name: str) -> str:
    cases = " ".join(f"WHEN {template_name} LIKE {_literal(f'%({family})')} THEN {level}"
                     for level, family in zip(_GLIF_LEVELS, GLIF_FAMILIES, strict=True))
    return f"CASE {cases} END"


def _glif_level_name(level: str) -> str:
    cases = " ".join(f"WHEN {level} = {n} THEN {_literal(f'GLIF{n} {family}')}"
                     for n, family in zip(_GLIF_LEVELS, GLIF_FAMILIES, strict=True))
    return f"CASE {cases} END"


def _file_exists(specimen_id: str, kind: str) -> str:
    m = _Source(_MIRROR_FILES, "mf")
    return (f"EXISTS (SELECT 1 FROM {m.ref} WHERE {m['specimen_id']} = {specimen_id} "
            f"AND {m['kind']} = {_literal(kind)} AND {m.current})")


def _first_per(source: _Source, key: str, order: str, *, where: str) -> str:
    """The rows of ``source`` that come first by ``order`` among those with the same ``key``
    (``where`` filters first), as a derived table with the columns of ``source``."""
    columns = ", ".join(source[c.name] for c in source.table.columns)
    return (f"(SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY {source[key]} "
            f"ORDER BY {order}) AS row_rank FROM {source.ref} WHERE {where})")


def _preferred_definitions(source: _Source) -> str:
    return (f"CASE WHEN {source['definitions']} = {_literal(PREFERRED_DEFINITIONS)} "
            f"THEN 0 ELSE 1 END, {source['definitions']}")


def _cell_recomputed_ephys() -> str:
    r = _Source(ephys_features_recomputed, "r0")
    ranked = _first_per(r, "specimen_id", _preferred_definitions(r), where="1 = 1")
    return f"(SELECT * FROM {ranked} ranked WHERE row_rank = 1)"


def _published_runs() -> str:
    """Per model, the run whose ratio is published: the first by id with a ratio (as the GLIF
    stage pairs them), else the first."""
    run = _Source(_RUNS, "run0")
    ranked = _first_per(
        run, "neuronal_model_id",
        f"CASE WHEN {run['explained_variance_ratio']} IS NULL THEN 1 ELSE 0 END, {run['id']}",
        where=run.current)
    return f"(SELECT * FROM {ranked} ranked WHERE row_rank = 1)"


def _glif_model_rows() -> str:
    """Current GLIF models with their level (by template) and published ratio."""
    m, t = _Source(_MODELS, "m0"), _Source(_TEMPLATES, "t0")
    return (f"(SELECT {m['id']} AS neuronal_model_id, {m['specimen_id']} AS specimen_id, "
            f"{_glif_level(t['name'])} AS level, pr.explained_variance_ratio AS published_evr "
            f"FROM {m.ref} JOIN {t.ref} ON {t['id']} = {m['neuronal_model_template_id']} "
            f"LEFT JOIN {_published_runs()} pr ON pr.neuronal_model_id = {m['id']} "
            f"WHERE {m.current} AND {t.current})")


# -- current_<table> ----------------------------------------------------------------------

_CURRENT_KEPT = ("first_seen", "last_seen")


def _current_view(table: Table) -> AnalystView:
    src = _Source(table, "t")
    kept = [c for c in table.columns
            if c.name not in BOOKKEEPING_COLUMNS or c.name in _CURRENT_KEPT]
    return AnalystView(
        name=f"current_{table.name}",
        description=f"{table.name} without the rows removed upstream"
                    + (f": {table.comment}" if table.comment else ""),
        columns=tuple(ViewColumn(c.name, c.comment or "", src[c.name]) for c in kept),
        sources=f"FROM {src.ref} WHERE {src.current}",
        derived=False,
    )


# -- cells --------------------------------------------------------------------------------

def _cells() -> AnalystView:
    c = _Source(_CELL_LIST, "c")
    f = _Source(_FEATURES, "f")
    r = _Source(ephys_features_recomputed, "r")
    nr = _Source(_RECONSTRUCTIONS, "nr")
    mr = _Source(morphology_features_recomputed, "mr")
    recon = _Source(_RECONSTRUCTIONS, "nr0")
    chosen_reconstruction = _first_per(
        recon, "specimen_id",
        f"CASE WHEN {recon['superseded']} THEN 1 ELSE 0 END, {recon['id']} DESC",
        where=recon.current)
    models = _Source(_MODELS, "m1")
    templates = _Source(_TEMPLATES, "t1")
    species = _normalised(c["donor__species"])
    sex = _normalised(c["donor__sex"])
    layer = _normalised(c["structure__layer"])
    columns = (
        ViewColumn("specimen_id", "the cell's Specimen.id (key)", c["specimen__id"]),
        ViewColumn("specimen_name", "the cell's specimen name", c["specimen__name"]),
        ViewColumn("species", "'mouse' or 'human' (from the donor's species)",
                   f"CASE WHEN {species} IN ('mus musculus', 'mouse') THEN 'mouse' "
                   f"WHEN {species} IN ('homo sapiens', 'human') THEN 'human' END"),
        ViewColumn("sex", "the donor's sex: 'male', 'female' or empty (mice: not published)",
                   f"CASE WHEN {sex} IN ('m', 'male') THEN 'male' "
                   f"WHEN {sex} IN ('f', 'female') THEN 'female' END"),
        ViewColumn("donor_id", "Donor.id", c["donor__id"]),
        ViewColumn("donor_name", "the donor's name (mouse id or human case id)",
                   c["donor__name"]),
        ViewColumn("age", "the donor's age as published, e.g. '24 yrs' (humans only)",
                   f"NULLIF(trim({c['donor__age']}), '')"),
        ViewColumn("disease_state", "the human donor's disease state, e.g. 'epilepsy'",
                   _normalised(c["donor__disease_state"])),
        ViewColumn("transgenic_line", "the mouse's driver line, e.g. 'Rbp4-Cre_KL100'",
                   f"NULLIF(trim({c['line_name']}), '')"),
        ViewColumn("reporter_status", "cell reporter status: 'positive', 'negative', "
                   "'indeterminate' or empty", _normalised(c["cell_reporter_status"])),
        ViewColumn("hemisphere", "'left' or 'right'", _normalised(c["specimen__hemisphere"])),
        ViewColumn("structure_id", "the brain structure's Structure.id", c["structure__id"]),
        ViewColumn("structure_acronym", "the brain structure's acronym, e.g. 'VISp4'",
                   c["structure__acronym"]),
        ViewColumn("structure_name", "the brain structure's name", c["structure__name"]),
        ViewColumn("area_acronym", "acronym of the structure's parent (the cortical area), "
                   "e.g. 'VISp'", c["structure_parent__acronym"]),
        ViewColumn("layer", "cortical layer, lower case: '1', '2/3', '4', '5', '6a', '6b', ...",
                   f"CASE WHEN {layer} LIKE 'layer %' THEN trim(substr({layer}, 7)) "
                   f"ELSE {layer} END"),
        ViewColumn("dendrite_type", "'spiny', 'aspiny' or 'sparsely spiny'",
                   _normalised(c["tag__dendrite_type"])),
        ViewColumn("apical", "the apical dendrite: 'intact', 'truncated' or 'na'",
                   _normalised(c["tag__apical"])),
        ViewColumn("reconstruction_type", "'full', 'dendrite-only' or empty (no "
                   "reconstruction)", _normalised(c["nr__reconstruction_type"])),
        ViewColumn("normalized_depth", "soma depth in the cortex, 0 at the pia and 1 at the "
                   "white matter (dimensionless)", c["csl__normalized_depth"]),
        ViewColumn("soma_x", "soma position x in the slice (µm)", c["csl__x"]),
        ViewColumn("soma_y", "soma position y in the slice (µm)", c["csl__y"]),
        ViewColumn("soma_z", "soma position z in the slice (µm)", c["csl__z"]),
        ViewColumn("has_nwb", "the cell's NWB recording is in the file mirror (true/false)",
                   _file_exists(c["specimen__id"], NWB_KIND)),
        ViewColumn("has_reconstruction", "an SWC reconstruction of the cell is in the file "
                   "mirror (true/false)", _file_exists(c["specimen__id"], SWC_KIND)),
        ViewColumn("glif_model_count", "current GLIF models of the cell (count)",
                   "COALESCE(glif.model_count, 0)"),
        ViewColumn("biophysical_model_count", "current biophysical models of the cell (count)",
                   "COALESCE(bio.model_count, 0)"),
        *(ViewColumn(f"best_evr_level_{n}", f"best published explained variance ratio of the "
                     f"cell's GLIF{n} ({family}) models (dimensionless, 0-1)",
                     f"glif.best_evr_level_{n}")
          for n, family in zip(_GLIF_LEVELS, GLIF_FAMILIES, strict=True)),
        ViewColumn("ephys_definitions", "definition set of the recomputed ephys values "
                   "(allen2016 or ipfx)", r["definitions"]),
        ViewColumn("neuron_reconstruction_id", "the reconstruction the morphology values are "
                   "of: the current, not superseded one (NeuronReconstruction.id)", nr["id"]),
        *(column for name in RECOMPUTED_FEATURES for column in (
            ViewColumn(name, f"published: {FEATURE_DESCRIPTIONS[name]}", f[name]),
            ViewColumn(f"{name}_recomputed", f"recomputed from the mirrored NWB: "
                       f"{FEATURE_DESCRIPTIONS[name]}", r[name]))),
        *(column for name in RECONSTRUCTION_FEATURES for column in (
            ViewColumn(name, f"published: {FEATURE_DESCRIPTIONS[name]}", nr[name]),
            ViewColumn(f"{name}_recomputed", f"recomputed from the mirrored SWC: "
                       f"{FEATURE_DESCRIPTIONS[name]}", mr[name]))),
    )
    glif_models = _glif_model_rows()
    best = ", ".join(f"max(CASE WHEN g.level = {n} THEN g.published_evr END) "
                     f"AS best_evr_level_{n}" for n in _GLIF_LEVELS)
    sources = f"""FROM {c.ref}
LEFT JOIN {f.ref} ON {f['specimen_id']} = {c['specimen__id']} AND {f.current}
LEFT JOIN {_cell_recomputed_ephys()} r ON {r['specimen_id']} = {c['specimen__id']}
LEFT JOIN {chosen_reconstruction} nr ON {nr['specimen_id']} = {c['specimen__id']}
     AND nr.row_rank = 1
LEFT JOIN {mr.ref} ON {mr['neuron_reconstruction_id']} = {nr['id']} AND {mr['compartment']} = 'all'
LEFT JOIN (SELECT g.specimen_id, count(*) AS model_count, {best}
           FROM {glif_models} g WHERE g.level IS NOT NULL GROUP BY g.specimen_id) glif
     ON glif.specimen_id = {c['specimen__id']}
LEFT JOIN (SELECT {models['specimen_id']} AS specimen_id, count(*) AS model_count
           FROM {models.ref} JOIN {templates.ref}
             ON {templates['id']} = {models['neuronal_model_template_id']}
           WHERE {models.current} AND {templates.current}
             AND {templates['name']} LIKE {_literal(BIOPHYSICAL_TEMPLATE_PREFIX + '%')}
           GROUP BY {models['specimen_id']}) bio
     ON bio.specimen_id = {c['specimen__id']}
WHERE {c.current}"""
    return AnalystView(
        "cells",
        "one row per current cell: metadata with normalised species, sex and layer, file "
        "availability, model counts, the best published GLIF explained variance ratio per "
        "level, and each ephys and morphology feature as published and as recomputed",
        columns, sources)


# -- glif_models --------------------------------------------------------------------------

def _glif_models() -> AnalystView:
    g = _Source(_GLIF_CONFIGS, "cfg")
    mm = _Source(_MODEL_METRICS, "mm")
    m, t = _Source(_MODELS, "m"), _Source(_TEMPLATES, "t")
    level = _glif_level(t["name"])
    parameters = (
        ("el_reference", "resting potential the model's voltages are relative to (V)"),
        ("c", "membrane capacitance (F)"),
        ("r_input", "input resistance (Ω)"),
        ("th_inf", "instantaneous threshold, relative to rest (V)"),
        ("spike_cut_length", "samples cut after each spike (count of time steps)"),
        ("init_threshold", "threshold at the start of a run, relative to rest (V)"),
        ("voltage_reset_method", "how the voltage is reset after a spike ('zero', "
                                 "'v_before')"),
        ("threshold_dynamics_method", "how the threshold evolves ('inf', 'spike_component', "
                                      "'three_components_exact')"),
        ("threshold_reset_method", "how the threshold is reset after a spike ('inf', "
                                   "'three_components')"),
        ("asc_dynamics_method", "how after-spike currents evolve ('exp', 'none')"),
        ("asc_reset_method", "how after-spike currents are reset ('sum', 'none')"),
    )
    columns = (
        ViewColumn("neuronal_model_id", "the GLIF model's NeuronalModel.id (key)", m["id"]),
        ViewColumn("specimen_id", "the cell the model was fitted to (Specimen.id)",
                   m["specimen_id"]),
        ViewColumn("model_name", "the model's published name", m["name"]),
        ViewColumn("neuronal_model_template_id", "its template's NeuronalModelTemplate.id",
                   t["id"]),
        ViewColumn("template_name", "its template's name, e.g. '4 LIF-R + Afterspike "
                   "Currents (LIF-R-ASC)'", t["name"]),
        ViewColumn("level", "GLIF level 1-5, from the template", level),
        ViewColumn("level_name", "GLIF level and family, e.g. 'GLIF4 LIF-R-ASC'",
                   _glif_level_name(level)),
        *(ViewColumn(name, f"from the model's neuron_config.json: {text}", g[name])
          for name, text in parameters),
        ViewColumn("neuronal_model_run_id", "the run whose ratio is published "
                   "(NeuronalModelRun.id)", "pr.id"),
        ViewColumn("published_evr", "published explained variance ratio of the model on the "
                   "Noise 2 sweeps (dimensionless, 0-1)", "pr.explained_variance_ratio"),
        ViewColumn("recomputed_evr", "explained variance ratio the sync recomputed by "
                   "simulating the model on the mirrored recording (dimensionless, 0-1)",
                   mm["explained_variance_ratio"]),
        ViewColumn("evr_difference", "recomputed minus published explained variance ratio "
                   "(dimensionless)",
                   f"{mm['explained_variance_ratio']} - pr.explained_variance_ratio"),
        ViewColumn("recomputed_problem", "why the recomputed ratio is empty, else empty",
                   mm["problem"]),
    )
    sources = f"""FROM {m.ref}
JOIN {t.ref} ON {t['id']} = {m['neuronal_model_template_id']} AND {t.current}
LEFT JOIN {g.ref} ON {g['neuronal_model_id']} = {m['id']}
LEFT JOIN {mm.ref} ON {mm['neuronal_model_id']} = {m['id']}
LEFT JOIN {_published_runs()} pr ON pr.neuronal_model_id = {m['id']}
WHERE {m.current} AND {level} IS NOT NULL"""
    return AnalystView(
        "glif_models",
        "one row per current GLIF model: its level (by template), config parameters (SI "
        "units), and its explained variance ratio as published and as recomputed",
        columns, sources)


def _biophysical_models() -> AnalystView:
    bm = _Source(_BIOPHYSICAL_METRICS, "bm")
    m, t = _Source(_MODELS, "m"), _Source(_TEMPLATES, "t")
    run = _Source(_RUNS, "brun0")
    published = _first_per(
        run, "neuronal_model_id",
        f"CASE WHEN {run['rheobase_feature_average']} IS NULL THEN 1 ELSE 0 END, {run['id']}",
        where=run.current)
    columns = (
        ViewColumn("neuronal_model_id", "the biophysical model's NeuronalModel.id (key)",
                   m["id"]),
        ViewColumn("specimen_id", "the cell the model was fitted to (Specimen.id)",
                   m["specimen_id"]),
        ViewColumn("model_name", "the model's published name", m["name"]),
        ViewColumn("template_name", "its template: 'Biophysical - perisomatic' or "
                   "'Biophysical - all active'", t["name"]),
        ViewColumn("published_feature_average", "published rheobase_feature_average of the "
                   "model's run (dimensionless)", "pr.rheobase_feature_average"),
        ViewColumn("recomputed_feature_average", "feature-average error the sync recomputed by "
                   "simulating the model with NEURON on the cell's training sweeps' stimuli "
                   "(dimensionless; mean |model - recorded| / recorded sd)",
                   bm["feature_average"]),
        ViewColumn("features_scored", "features in the recomputed average (count)",
                   bm["features_scored"]),
        ViewColumn("simulated_sweeps", "current-clamp sweeps the model was run on (count)",
                   bm["simulated_sweeps"]),
        ViewColumn("sweeps_same_spike_count", "simulated sweeps on which the model fired as "
                   "many spikes as the recording (count)", bm["sweeps_same_spike_count"]),
        ViewColumn("model_spikes", "spikes of the model over every simulated sweep (count)",
                   bm["model_spikes"]),
        ViewColumn("recomputed_problem", "why the recomputed average is empty (not run, no "
                   "recording when the row is missing), else empty", bm["problem"]),
    )
    sources = f"""FROM {m.ref}
JOIN {t.ref} ON {t['id']} = {m['neuronal_model_template_id']} AND {t.current}
LEFT JOIN {bm.ref} ON {bm['neuronal_model_id']} = {m['id']}
LEFT JOIN (SELECT * FROM {published} ranked WHERE row_rank = 1) pr
       ON pr.neuronal_model_id = {m['id']}
WHERE {m.current} AND {t['name']} LIKE '{BIOPHYSICAL_TEMPLATE_PREFIX}%'"""
    return AnalystView(
        "biophysical_models",
        "one row per current biophysical model: its template and its feature average as "
        "published and as recomputed with NEURON, with the spike-count agreement",
        columns, sources)


# -- sweeps -------------------------------------------------------------------------------

def _sweep_features_source() -> str:
    """Recomputed sweep features of each cell's preferred definition set."""
    sf = _Source(_SWEEP_FEATURES, "sf0")
    r = _Source(ephys_features_recomputed, "r2")
    return (f"(SELECT {', '.join(sf[c.name] for c in _SWEEP_FEATURES.columns)} "
            f"FROM {sf.ref} JOIN {_cell_recomputed_ephys()} {r.alias} "
            f"ON {r['specimen_id']} = {sf['specimen_id']} "
            f"AND {r['definitions']} = {sf['definitions']})")


def _sweeps_with_features(s: _Source, sf: _Source) -> str:
    """``FROM`` the sweeps, each with its recomputed features when there are some."""
    return (f"FROM {s.ref}\nLEFT JOIN {_sweep_features_source()} {sf.alias}\n"
            f"     ON {sf['specimen_id']} = {s['specimen_id']} "
            f"AND {sf['sweep_number']} = {s['sweep_number']}")


def _published_rate(s: _Source) -> str:
    return (f"{_double(s['num_spikes'])} / "
            f"NULLIF({_double(s['stimulus_duration'])}, 0)")


def _sweep_summary() -> AnalystView:
    s = _Source(_SWEEPS, "s")
    sf = _Source(_SWEEP_FEATURES, "sf")
    columns = (
        ViewColumn("ephys_sweep_id", "EphysSweep.id (key)", s["id"]),
        ViewColumn("specimen_id", "the cell (Specimen.id)", s["specimen_id"]),
        ViewColumn("sweep_number", "N of Sweep_N in the cell's NWB file", s["sweep_number"]),
        ViewColumn("stimulus_name", "stimulus, e.g. 'Long Square', 'Ramp', 'Noise 2'",
                   s["stimulus_name"]),
        ViewColumn("stimulus_description", "stimulus code, e.g. 'C1LSCOARSE150216'",
                   s["stimulus_description"]),
        ViewColumn("stimulus_units", "'Amps' (current clamp) or 'Volts' (voltage clamp)",
                   s["stimulus_units"]),
        ViewColumn("stimulus_amplitude_pa", "absolute stimulus amplitude (pA)",
                   s["stimulus_absolute_amplitude"]),
        ViewColumn("stimulus_relative_amplitude", "amplitude relative to the cell's rheobase "
                   "(dimensionless)", s["stimulus_relative_amplitude"]),
        ViewColumn("stimulus_start_time_s", "stimulus onset (s from sweep start)",
                   s["stimulus_start_time"]),
        ViewColumn("stimulus_duration_s", "stimulus duration (s)", s["stimulus_duration"]),
        ViewColumn("num_spikes", "published number of spikes in the sweep (count)",
                   s["num_spikes"]),
        ViewColumn("spike_rate_hz", "published: num_spikes / stimulus duration (Hz)",
                   _published_rate(s)),
        ViewColumn("num_spikes_recomputed", "spikes the sync detected in the stimulus window "
                   "(count)", sf["spike_count"]),
        ViewColumn("spike_rate_hz_recomputed", "recomputed spike rate in the stimulus window "
                   "(Hz)", sf["avg_rate"]),
        ViewColumn("latency_s_recomputed", "recomputed time from stimulus onset to the first "
                   "spike (s)", sf["latency"]),
        ViewColumn("mean_isi_s_recomputed", "recomputed mean interspike interval (s)",
                   sf["mean_isi"]),
        ViewColumn("isi_cv_recomputed", "recomputed coefficient of variation of the "
                   "interspike intervals (dimensionless)", sf["isi_cv"]),
        ViewColumn("adaptation_recomputed", "recomputed adaptation index (dimensionless)",
                   sf["adapt"]),
        ViewColumn("baseline_mv_recomputed", "recomputed membrane potential before the "
                   "stimulus (mV)", sf["v_baseline"]),
        ViewColumn("ephys_definitions", "definition set of the recomputed values",
                   sf["definitions"]),
        ViewColumn("peak_deflection_mv", "published peak voltage deflection (mV)",
                   s["peak_deflection"]),
        ViewColumn("pre_vm_mv", "published membrane potential before the stimulus (mV)",
                   s["pre_vm_mv"]),
        ViewColumn("post_vm_mv", "published membrane potential after the stimulus (mV)",
                   s["post_vm_mv"]),
        ViewColumn("vm_delta_mv", "published change of membrane potential over the sweep (mV)",
                   s["vm_delta_mv"]),
        ViewColumn("pre_noise_rms_mv", "published RMS noise before the stimulus (mV)",
                   s["pre_noise_rms_mv"]),
        ViewColumn("leak_pa", "published leak current (pA)", s["leak_pa"]),
        ViewColumn("bridge_balance_mohm", "published bridge balance (MΩ)",
                   s["bridge_balance_mohm"]),
    )
    sources = f"{_sweeps_with_features(s, sf)}\nWHERE {s.current}"
    return AnalystView(
        "sweep_summary",
        "one row per current sweep, without sample arrays: stimulus, published quality "
        "values and spike count, and the spike-train features the sync recomputed",
        columns, sources)


def _fi_curves() -> AnalystView:
    s = _Source(_SWEEPS, "s")
    sf = _Source(_SWEEP_FEATURES, "sf")
    columns = (
        ViewColumn("specimen_id", "the cell (Specimen.id)", s["specimen_id"]),
        ViewColumn("stimulus_amplitude_pa", "long-square stimulus amplitude (pA)",
                   s["stimulus_absolute_amplitude"]),
        ViewColumn("sweep_count", "long-square sweeps at this amplitude (count)", "count(*)"),
        ViewColumn("spike_rate_hz", "published: mean over the sweeps of num_spikes / stimulus "
                   "duration (Hz)", f"avg({_published_rate(s)})"),
        ViewColumn("spike_rate_hz_recomputed", "recomputed: mean over the sweeps of the spike "
                   "rate in the stimulus window (Hz)", f"avg({_double(sf['avg_rate'])})"),
    )
    sources = f"""{_sweeps_with_features(s, sf)}
WHERE {s.current} AND {s['stimulus_name']} = {_literal(LONG_SQUARE)}
  AND {s['stimulus_absolute_amplitude']} IS NOT NULL
GROUP BY {s['specimen_id']}, {s['stimulus_absolute_amplitude']}"""
    return AnalystView(
        "fi_curves",
        "one row per cell and long-square amplitude: the spike rate as published and as "
        "recomputed (the cell's F-I curve)",
        columns, sources)


# -- reconstruction_summary ---------------------------------------------------------------

def _reconstruction_file_exists(reconstruction_id: str, kind: str) -> str:
    mf, w = _Source(_MIRROR_FILES, "mf"), _Source(_WELL_KNOWN_FILES, "w")
    return (f"EXISTS (SELECT 1 FROM {mf.ref} JOIN {w.ref} ON {w['id']} = {mf['source_id']} "
            f"WHERE {w['attachable_type']} = {_literal(NeuronReconstruction.__name__)} "
            f"AND {w['attachable_id']} = {reconstruction_id} "
            f"AND {mf['kind']} = {_literal(kind)} AND {mf.current})")


def _reconstruction_summary() -> AnalystView:
    nr = _Source(_RECONSTRUCTIONS, "nr")
    mr = _Source(morphology_features_recomputed, "mr")
    columns = (
        ViewColumn("neuron_reconstruction_id", "NeuronReconstruction.id (key)", nr["id"]),
        ViewColumn("specimen_id", "the cell (Specimen.id)", nr["specimen_id"]),
        ViewColumn("reconstruction_type", "'full' or 'dendrite-only'",
                   _normalised(nr["neuron_reconstruction_type"])),
        ViewColumn("superseded", "a newer reconstruction of the cell replaces this one "
                   "(true/false)", nr["superseded"]),
        ViewColumn("has_swc", "the SWC file is in the file mirror (true/false)",
                   _reconstruction_file_exists(nr["id"], SWC_KIND)),
        ViewColumn("has_marker", "the marker file is in the file mirror (true/false)",
                   _reconstruction_file_exists(nr["id"], MARKER_KIND)),
        ViewColumn("scale_factor_x", "µm per voxel along x", nr["scale_factor_x"]),
        ViewColumn("scale_factor_y", "µm per voxel along y", nr["scale_factor_y"]),
        ViewColumn("scale_factor_z", "µm per voxel along z", nr["scale_factor_z"]),
        *(column for name in RECONSTRUCTION_FEATURES for column in (
            ViewColumn(name, f"published: {FEATURE_DESCRIPTIONS[name]}", nr[name]),
            ViewColumn(f"{name}_recomputed", f"recomputed from the mirrored SWC: "
                       f"{FEATURE_DESCRIPTIONS[name]}", mr[name]))),
    )
    sources = f"""FROM {nr.ref}
LEFT JOIN {mr.ref} ON {mr['neuron_reconstruction_id']} = {nr['id']} AND {mr['compartment']} = 'all'
WHERE {nr.current}"""
    return AnalystView(
        "reconstruction_summary",
        "one row per current reconstruction: type, files in the mirror, and every morphology "
        "feature of the whole cell as published and as recomputed",
        columns, sources)


CURRENT_VIEWS: tuple[AnalystView, ...] = tuple(_current_view(t) for t in MODEL_TABLES.values())

#: Every analyst view, in the order they are created.
ANALYST_VIEWS: tuple[AnalystView, ...] = (
    *CURRENT_VIEWS, _cells(), _glif_models(), _biophysical_models(), _fi_curves(),
    _sweep_summary(),
    _reconstruction_summary(),
)
ANALYST_VIEWS_BY_NAME = {view.name: view for view in ANALYST_VIEWS}

__all__ = ["ANALYST_VIEWS", "ANALYST_VIEWS_BY_NAME", "CURRENT_VIEWS", "GLIF_FAMILIES",
           "AnalystView", "ViewColumn"]
