"""The crawl plan: which records of which Allen model to fetch, declared as data (pure).

Like dlt's ``rest_api`` resources, each ``Resource`` names a model and how its query is scoped:
either the whole model, or ``[<link>$in <ids>]`` where the ids are values of fields of records
already fetched (``sources``). The plan is run model by model in dependency order; every query
is flat (filters on the model's own attributes only) so it can be paged safely, but one that
includes join-table associations (``links``) to read their pairs: that query is sent unpaged,
as AllenSDK sends it, since RMA pages would count the joined rows.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ctmirror.errors import ConfigError
from ctmirror.rma.query import Scalar, eq, in_
from ctmirror.schema.allen_model import MIRRORED_LINKS, association, primary_key

CELLS_MODEL = "ApiCellTypesSpecimenDetail"


@dataclass(frozen=True)
class KeySource:
    """Ids taken from ``field`` of the ``model`` records fetched earlier in the crawl."""

    model: str
    field: str


@dataclass(frozen=True)
class Resource:
    model: str
    # The attribute matched with $in; None fetches the whole model.
    link: str | None = None
    sources: tuple[KeySource, ...] = ()
    # Extra equality filters ANDed to every batch (the polymorphic attachable_type).
    where: tuple[tuple[str, Scalar], ...] = ()
    # The root set of cells that ``limit`` cuts to its first N rows.
    cells: bool = False
    # Join-table associations of ``model`` whose pairs the mirror keeps: included in the
    # query, their pairs staged beside the records, their target ids a key field named after
    # the association.
    links: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [name for name in self.links if (self.model, name) not in MIRRORED_LINKS]
        if unknown:
            raise ConfigError(f"plan resource {self.model}: {unknown} are no join-table "
                              "associations the mirror keeps")

    @property
    def name(self) -> str:
        if self.link is None:
            return self.model
        fixed = "".join(f"[{attr}={value}]" for attr, value in self.where)
        return f"{self.model}{fixed}[{self.link}]"

    @property
    def primary_key(self) -> str:
        return primary_key(self.model)

    @property
    def depends_on(self) -> frozenset[str]:
        return frozenset(source.model for source in self.sources)

    def batch_criteria(self, ids: Iterable[int], batch_size: int) -> list[str]:
        """One criteria path per batch of at most ``batch_size`` sorted, distinct ids; a
        resource without a link is one batch (its criteria empty unless ``where`` is set)."""
        fixed = "".join(eq(attr, value) for attr, value in self.where)
        if self.link is None:
            return [fixed]
        ordered = sorted(set(ids))
        return [
            fixed + in_(self.link, ordered[start:start + batch_size])
            for start in range(0, len(ordered), batch_size)
        ]


def _follow(model: str, name: str, *also: KeySource, keys: KeySource | None = None) -> Resource:
    """The records that association ``name`` of ``model`` links to (as
    ``ctmirror.schema.allen_model`` describes it): the target's link field matched with the
    ids in the association's key field of the ``model`` records fetched, or with ``keys``, the
    same ids known one step earlier from another model. ``also`` adds ids of the same target
    records held by models fetched earlier (the cell list's copies of a foreign key)."""
    link = association(model, name)
    own = keys if keys is not None else KeySource(model, link.source_key)
    where = (("attachable_type", model),) if link.kind == "polymorphic" else ()
    return Resource(link.target, link.target_key, (*also, own), where=where)


def _of_cells(name: str) -> Resource:
    """A has-many association of ``Specimen``, keyed by the cell list's specimen ids (the
    specimens' own ids, known one step earlier, so these models need not wait for them)."""
    return _follow("Specimen", name, keys=KeySource(CELLS_MODEL, "specimen__id"))


def _files_of(model: str) -> Resource:
    return _follow(model, "well_known_files")


def _listed(model: str, name: str) -> Resource:
    """The records a join-table association of ``model`` lists, by the ids its pairs name
    (the ``model`` resource must include the association in its ``links``)."""
    link = association(model, name)
    return Resource(link.target, link.target_key, (KeySource(model, name),))


DEFAULT_PLAN: tuple[Resource, ...] = (
    Resource("WellKnownFileType"),
    Resource("NeuronalModelTemplate", links=("well_known_files",)),
    Resource(CELLS_MODEL, cells=True),
    _follow(CELLS_MODEL, "specimen"),
    _follow("Specimen", "donor", KeySource(CELLS_MODEL, "donor__id")),
    _follow(
        "Specimen",
        "structure",
        KeySource(CELLS_MODEL, "structure__id"),
        KeySource(CELLS_MODEL, "structure_parent__id"),
    ),
    _follow("Specimen", "ephys_result"),
    _of_cells("ephys_sweeps"),
    _of_cells("ephys_features"),
    _of_cells("neuron_reconstructions"),
    _of_cells("neuronal_models"),
    _of_cells("data_sets"),
    _of_cells("projection_images"),
    _follow("NeuronalModel", "neuronal_model_runs"),
    _follow("ImageSeries", "sub_images"),
    _files_of("EphysResult"),
    _files_of("NeuronReconstruction"),
    _files_of("NeuronalModel"),
    _files_of("NeuronalModelRun"),
    # Files attached to the templates themselves.
    Resource(
        "WellKnownFile",
        "attachable_id",
        (KeySource("NeuronalModelTemplate", "id"),),
        where=(("attachable_type", "NeuronalModelTemplate"),),
    ),
    # The NEURON mechanism files the biophysical templates list: attached to a Product, so
    # only the templates' lists reach them.
    _listed("NeuronalModelTemplate", "well_known_files"),
)


@dataclass(frozen=True)
class ModelStep:
    """Everything the crawl fetches for one model, run after the models it depends on."""

    model: str
    resources: tuple[Resource, ...]

    @property
    def depends_on(self) -> frozenset[str]:
        return frozenset().union(*(r.depends_on for r in self.resources))


def execution_order(plan: Sequence[Resource]) -> list[ModelStep]:
    """The plan's models, each after every model its ids come from."""
    by_model: dict[str, list[Resource]] = {}
    for resource in plan:
        if (resource.link is None) != (not resource.sources):
            raise ConfigError(f"plan resource {resource.name}: a link needs sources and vice versa")
        by_model.setdefault(resource.model, []).append(resource)
    steps = {model: ModelStep(model, tuple(rs)) for model, rs in by_model.items()}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for step in steps.values():
        missing = step.depends_on - steps.keys()
        if missing:
            raise ConfigError(f"plan model {step.model} takes ids from {sorted(missing)}, "
                              "which the plan does not fetch")
        sorter.add(step.model, *step.depends_on)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise ConfigError(f"the crawl plan has a dependency cycle: {exc.args[1]}") from exc
    # Among models that are ready together, keep the plan's own order: runs are reproducible.
    rank = {model: i for i, model in enumerate(by_model)}
    order: list[ModelStep] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=rank.__getitem__)
        order.extend(steps[model] for model in ready)
        sorter.done(*ready)
    return order


def key_fields(plan: Sequence[Resource]) -> dict[str, frozenset[str]]:
    """For each model, the fields whose values later resources use as ids."""
    fields: dict[str, set[str]] = {}
    for resource in plan:
        for source in resource.sources:
            fields.setdefault(source.model, set()).add(source.field)
    return {model: frozenset(names) for model, names in fields.items()}


__all__ = [
    "CELLS_MODEL",
    "DEFAULT_PLAN",
    "KeySource",
    "ModelStep",
    "Resource",
    "execution_order",
    "key_fields",
]
