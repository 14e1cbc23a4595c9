"""The cell search: facets, free text, sorting and paging over the cell list (pure).

Values of one facet are alternatives (OR), facets together narrow (AND). A facet's counts are
those of the cells every *other* filter keeps, so each count says how many cells ticking that
value would add (as faceted search does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Facet:
    name: str
    label: str
    value: Callable[[Row], str]


def _column(name: str) -> Callable[[Row], str]:
    def value(row: Row) -> str:
        found = row.get(name)
        return "" if found is None else str(found)
    return value


def _yes_no(test: Callable[[Row], bool]) -> Callable[[Row], str]:
    return lambda row: "yes" if test(row) else "no"


FACETS: tuple[Facet, ...] = (
    Facet("species", "Species", _column("species")),
    Facet("region", "Region", _column("area_acronym")),
    Facet("layer", "Layer", _column("layer")),
    Facet("dendrite_type", "Dendrite type", _column("dendrite_type")),
    Facet("reporter_status", "Reporter status", _column("reporter_status")),
    Facet("disease_state", "Disease state", _column("disease_state")),
    Facet("reconstruction", "Has reconstruction", _yes_no(lambda r: bool(r["has_reconstruction"]))),
    Facet("glif", "Has GLIF models", _yes_no(lambda r: (r["glif_model_count"] or 0) > 0)),
    Facet("biophysical", "Has biophysical models",
          _yes_no(lambda r: (r["biophysical_model_count"] or 0) > 0)),
)
FACETS_BY_NAME = {f.name: f for f in FACETS}
#: Columns the table sorts by, as the URL names them.
SORTABLE: tuple[str, ...] = ("specimen_id", "specimen_name", "species", "structure_acronym",
                             "layer", "dendrite_type", "transgenic_line", "glif_model_count")
#: Columns free text looks in.
TEXT_COLUMNS: tuple[str, ...] = ("specimen_id", "specimen_name", "donor_name",
                                 "transgenic_line", "structure_acronym")
PAGE_SIZE = 50


@dataclass(frozen=True)
class Query:
    """A search as the URL states it."""

    selected: Mapping[str, frozenset[str]] = field(default_factory=dict)
    text: str = ""
    sort: str = "specimen_id"
    descending: bool = False
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, Sequence[str]]) -> Query:
        selected = {name: frozenset(params[name]) for name in FACETS_BY_NAME
                    if params.get(name)}
        sort = _first(params, "sort") or "specimen_id"
        descending = sort.startswith("-")
        sort = sort.removeprefix("-")
        try:
            page = max(1, int(_first(params, "page") or 1))
        except ValueError:
            page = 1
        return cls(selected, (_first(params, "q") or "").strip(),
                   sort if sort in SORTABLE else "specimen_id", descending, page)


def _first(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


@dataclass(frozen=True)
class Result:
    total: int
    #: facet name → [(value, count, selected)], most common first.
    facets: dict[str, list[tuple[str, int, bool]]]
    matching: list[Row]
    page_rows: list[Row]
    pages: int


def search(rows: Sequence[Row], query: Query) -> Result:
    text = query.text.lower()
    texts = [row for row in rows
             if not text or any(text in str(row.get(c) or "").lower() for c in TEXT_COLUMNS)]
    values = [{f.name: f.value(row) for f in FACETS} for row in texts]

    def keeps(row_values: Mapping[str, str], skip: str | None) -> bool:
        return all(row_values[name] in chosen for name, chosen in query.selected.items()
                   if name != skip)

    facets: dict[str, list[tuple[str, int, bool]]] = {}
    for facet in FACETS:
        counted: dict[str, int] = {}
        for row_values in values:
            if keeps(row_values, facet.name):
                counted[row_values[facet.name]] = counted.get(row_values[facet.name], 0) + 1
        chosen = query.selected.get(facet.name, frozenset())
        for value in chosen:
            counted.setdefault(value, 0)
        facets[facet.name] = sorted(((v, n, v in chosen) for v, n in counted.items()),
                                    key=lambda item: (-item[1], item[0]))
    matching = [row for row, row_values in zip(texts, values, strict=True)
                if keeps(row_values, None)]
    matching.sort(key=lambda r: (r.get(query.sort) is None, r.get(query.sort) or 0
                                 if query.sort in ("specimen_id", "glif_model_count")
                                 else str(r.get(query.sort) or "")),
                  reverse=query.descending)
    pages = max(1, -(-len(matching) // PAGE_SIZE))
    page = min(query.page, pages)
    return Result(len(matching), facets, matching,
                  matching[(page - 1) * PAGE_SIZE:page * PAGE_SIZE], pages)


__all__ = ["FACETS", "FACETS_BY_NAME", "PAGE_SIZE", "SORTABLE", "Facet", "Query", "Result",
           "search"]
